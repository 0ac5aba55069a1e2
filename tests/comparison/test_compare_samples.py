"""The comparator and routing on runs made with ``samples=K``: sample agreement is the model's certainty."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import prelabel
from helpers import run_cli
from prelabel.testing import FakeModel, Reply, RequestRecord

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
LATE, DAMAGED, OTHER = "logistics.late_delivery", "product.damaged", "praise_other.other"


def scripted(replies: dict[str, list[str]]) -> FakeModel:
    """Each item (by text) answers its labels in turn, all at confidence 0.95."""
    seen: dict[str, int] = defaultdict(int)

    def reply(request: RequestRecord) -> Reply:
        labels = replies[request.item_text or ""]
        seen[request.item_text or ""] += 1
        return Reply.answer(labels[(seen[request.item_text or ""] - 1) % len(labels)], confidence=0.95)

    return FakeModel(default=reply)


def labeled(out: Path, replies: dict[str, list[str]], **options: Any) -> list[dict[str, Any]]:
    items = [{"id": text, "text": text} for text in replies]
    prelabel.run(FEEDBACK, items, out, client=scripted(replies).async_client(), **options)
    return [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def test_sample_agreement_ranks_the_ambiguity_candidates(tmp_path: Path) -> None:
    # both items split the humans; the model states 0.95 on every answer, but its samples disagree on "murky"
    replies = {"clear": [LATE], "murky": [LATE, LATE, DAMAGED, OTHER]}
    humans = pd.DataFrame(
        {
            "item_id": ["clear", "clear", "murky", "murky"],
            "annotator": ["x", "y"] * 2,
            "label": [LATE, DAMAGED] * 2,
        }
    )
    lines = labeled(tmp_path / "k4", replies, samples=4)
    assert [line["agreement"] for line in lines] == [1.0, 0.5]
    dis = prelabel.compare(tmp_path / "k4", humans, sop=FEEDBACK).disagreements.set_index("item_id")
    assert list(dis.index) == ["clear", "murky"]  # ranked by score
    assert dis.loc["murky", "model_certainty"] == lines[1]["agreement"]  # the line's agreement, as documented
    assert dis.loc["murky", "model_confidence"] == 0.95
    assert dict(dis["kind"]) == {"clear": "sop_ambiguity", "murky": "inherent_ambiguity"}
    assert dis.loc["clear", "ambiguity_score"] > dis.loc["murky", "ambiguity_score"]
    # the same items without samples: the stated confidence is the certainty, as before
    assert "samples" not in labeled(tmp_path / "k1", replies)[1]
    dis = prelabel.compare(tmp_path / "k1", humans, sop=FEEDBACK).disagreements.set_index("item_id")
    assert set(dis["kind"]) == {"sop_ambiguity"} and set(dis["model_certainty"]) == {0.95}
    assert "model_spread" not in dis.columns or dis["model_spread"].isna().all()


def test_compare_reads_the_distribution_from_exports(tmp_path: Path) -> None:
    labeled(tmp_path / "run", {"a": [LATE, LATE, DAMAGED], "b": [DAMAGED]}, samples=3)
    for fmt in ("csv", "jsonl", "parquet"):  # the distribution: a mapping in JSONL, JSON text in CSV/Parquet
        out = tmp_path / f"labels.{fmt}"
        prelabel.export(tmp_path / "run", fmt, out, sop=FEEDBACK, items=[{"id": "a", "text": "a"}])
        results = prelabel.compare(
            out, pd.DataFrame({"item_id": ["a"], "annotator": ["x"], "label": [DAMAGED]})
        )
        assert results.disagreements.loc[0, "model_certainty"] == pytest.approx(2 / 3)


def test_route_on_agreement_of_a_run_with_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    right = {f"right {n}": [LATE] for n in range(30)}  # unanimous samples, humans agree
    wrong = {f"wrong {n}": [DAMAGED, DAMAGED, LATE] for n in range(30)}  # split samples, humans disagree
    labeled(tmp_path / "cal", {**right, **wrong}, samples=3)
    humans = [{"item_id": item, "annotator": "h", "label": LATE} for item in [*right, *wrong]]
    pd.DataFrame(humans).to_csv(tmp_path / "cal" / "human_labels.csv", index=False)
    lines = labeled(tmp_path / "run", {"sure": [LATE], "unsure": [LATE, LATE, DAMAGED]}, samples=3)
    args = ["route", str(tmp_path / "run"), "--calibration", str(tmp_path / "cal"), "--signal", "agreement"]
    args += ["--target-precision", "0.7", "--min-count", "5", "--by", "global", "-o", str(tmp_path / "route")]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    accept = [json.loads(x) for x in (tmp_path / "route" / "accept.jsonl").read_text().splitlines()]
    review = [json.loads(x) for x in (tmp_path / "route" / "review.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in accept] == ["sure"] and [r["item_id"] for r in review] == ["unsure"]
    assert (
        accept[0]["route"]["signal"] == "agreement" and accept[0]["route"]["value"] == lines[0]["agreement"]
    )
    assert review[0]["route"]["value"] == pytest.approx(lines[1]["agreement"], abs=1e-4)
    assert review[0]["samples"] == {LATE: 2, DAMAGED: 1}  # the run's line, kept whole
