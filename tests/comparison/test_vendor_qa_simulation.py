"""Vendor QA checked by simulation (issue 23): vendors with known per-agent skills — good agents, a careless
one, a spammer, and one who degrades in week 3 — over three weekly batches of human labels with gold items.

Shown: the Dawid-Skene estimate of every agent's accuracy is within ±0.05 of the truth (≥ 200 votes each), the
Dawid-Skene consensus is more accurate than majority vote with a spammer present, and `prelabel.qa` flags the
degrading agent in week 3 and no other agent in any week.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prelabel
from prelabel.comparison.aggregation import consensus
from prelabel.comparison.interrater import Ratings

pytest.importorskip("crowdkit")

LABELS = ["a", "b", "c", "d"]
#: True accuracy per agent and week (a wrong answer is uniform over the other labels; the spammer answers
#: uniformly at random, so its accuracy is 1/4).
SKILL = {
    "good1": (0.92, 0.92, 0.92),
    "good2": (0.9, 0.9, 0.9),
    "good3": (0.93, 0.93, 0.93),
    "good4": (0.9, 0.9, 0.9),
    "careless": (0.7, 0.7, 0.7),
    "spammer": (None, None, None),
    "degrader": (0.92, 0.92, 0.55),
}
VENDOR = {"good1": "V1", "good2": "V1", "degrader": "V1"} | dict.fromkeys(
    ["good3", "good4", "careless", "spammer"], "V2"
)
ITEMS_PER_WEEK = 600
VOTES_PER_ITEM = 3
GOLD_SHARE = 0.2


def _week(rng: np.random.Generator, week: int) -> tuple[pd.DataFrame, dict[str, str]]:
    agents = list(SKILL)
    rows, truth = [], {}
    for i in range(ITEMS_PER_WEEK):
        item = f"w{week}-{i}"
        true = int(rng.integers(len(LABELS)))
        truth[item] = LABELS[true]
        for agent in rng.choice(agents, size=VOTES_PER_ITEM, replace=False):
            skill = SKILL[agent][week]
            if skill is None:
                given = int(rng.integers(len(LABELS)))
            elif rng.random() < skill:
                given = true
            else:
                given = int(rng.choice([k for k in range(len(LABELS)) if k != true]))
            seconds = rng.uniform(0.5, 2.0) if agent == "spammer" else rng.uniform(8, 40)
            rows.append((item, agent, LABELS[given], False, seconds, VENDOR[agent], "de"))
        if rng.random() < GOLD_SHARE:
            rows.append((item, "qa_lead", LABELS[true], True, None, "QA", "de"))
    columns = ["item_id", "annotator", "label", "gold", "lead_time", "vendor", "market"]
    return pd.DataFrame(rows, columns=columns), truth


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[pd.DataFrame], list[dict]]:
    rng = np.random.default_rng(23)
    out = tmp_path_factory.mktemp("qa")
    dirs, frames, truths = [], [], []
    for week in range(3):
        frame, truth = _week(rng, week)
        metrics = prelabel.agreement(frame, aggregate="dawid-skene", target_accuracy=0.85)
        dirs.append(Path(metrics.save(out / f"week{week + 1}")["metrics"]).parent)
        frames.append(frame)
        truths.append(truth)
    return dirs, frames, truths


def test_dawid_skene_recovers_every_agents_accuracy(weeks: tuple[list[Path], list, list]) -> None:
    dirs, _, _ = weeks
    for week, directory in enumerate(dirs):
        metrics = prelabel.AgreementMetrics.model_validate_json((directory / "metrics.json").read_text())
        assert metrics.aggregation is not None and metrics.aggregation.method == "dawid-skene"
        for row in metrics.aggregation.per_annotator:
            true = SKILL[row.annotator][week]
            true = 1 / len(LABELS) if true is None else true
            assert row.n_labels >= 200, row
            assert row.accuracy == pytest.approx(true, abs=0.05), (week, row.annotator)
            assert row.confusion is not None and len(row.confusion) == len(LABELS)


def test_dawid_skene_consensus_beats_majority_with_a_spammer(weeks: tuple[list[Path], list, list]) -> None:
    _, frames, truths = weeks
    for frame, truth in zip(frames[:1], truths[:1], strict=True):  # week 1: 600 items, 1,800 votes
        votes = frame[~frame["gold"]]
        ratings = Ratings.from_frame(votes)
        expected = np.array([truth[i] for i in ratings.items])
        got = {}
        for method in ("majority", "dawid-skene"):
            top, _, tied = consensus(ratings, method).majority
            answer = ratings.labels[top]
            got[method] = float(np.mean(answer == expected))
            got[method + " untied"] = float(np.mean((answer == expected) & ~tied))
        assert got["dawid-skene"] > got["majority"], got
        assert got["dawid-skene"] > got["majority untied"] + 0.03, got


def test_qa_flags_the_degrading_agent_in_week_3_only(
    weeks: tuple[list[Path], list, list], tmp_path: Path
) -> None:
    dirs, _, _ = weeks
    report = prelabel.qa(dirs)
    flagged = report.flagged
    people = flagged[flagged["level"] == "annotator"]
    assert list(zip(people["batch"], people["name"], strict=True)) == [("week3", "degrader")]
    assert set(people["measure"]) == {"gold"}
    assert not ((flagged["level"] == "vendor") & (flagged["name"] == "V2")).any()
    trends = report.trends
    careless = trends[(trends["name"] == "careless") & (trends["level"] == "annotator")]
    assert (careless["gold_accuracy"] < 0.85).all()  # consistently poor, but not a drop
    spammer = trends[(trends["name"] == "spammer") & (trends["level"] == "annotator")]
    assert (spammer["fast_share"] == 1.0).all() and (spammer["items_per_hour"] > 1000).all()
    paths = report.save(tmp_path / "qa")
    saved = pd.read_csv(paths["trends"])
    assert saved["drop_flag"].sum() == flagged["drop_flag"].sum()
    html = paths["report"].read_text()
    assert "degrader" in html and "data:image/svg+xml;base64," in html and "http://" not in html
