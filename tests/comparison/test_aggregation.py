"""``--aggregate``: majority vote stays exactly as before; crowd-kit's annotator models form the consensus on
request, with per-annotator estimates in ``metrics.json``; multi-label SOPs and unknown names are one line."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import prelabel
from prelabel.comparison.aggregation import AGGREGATES, consensus
from prelabel.comparison.interrater import Ratings
from prelabel.comparison.semantics import majority
from prelabel.errors import InputError

DATA = Path(__file__).resolve().parent.parent / "data" / "compare"
SOP = prelabel.bundled_sop("customer_feedback_intent")


def _panel(seed: int = 5, items: int = 120) -> pd.DataFrame:
    """Three careful annotators, one who answers 'b' whatever the item (a spammer)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(items):
        true = ["a", "b", "c"][int(rng.integers(3))]
        for who in ("x", "y", "z"):
            rows.append((str(i), who, true if rng.random() < 0.85 else ["a", "b", "c"][int(rng.integers(3))]))
        rows.append((str(i), "spam", "b"))
    return pd.DataFrame(rows, columns=["item_id", "annotator", "label"])


def test_majority_is_the_default_and_keeps_its_ties() -> None:
    frame = _panel()
    ratings = Ratings.from_frame(frame)
    got = consensus(ratings, "majority")
    expected = majority(ratings.counts)
    assert got.estimates is None
    for mine, theirs in zip(got.majority, expected, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    default = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP)
    chosen = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP, aggregate="majority")
    assert default.metrics == chosen.metrics
    assert default.metrics.humans.aggregation is None
    assert default.metrics.vendor_qa is not None and default.metrics.vendor_qa.aggregate == "majority"


@pytest.mark.parametrize("method", ["dawid-skene", "glad", "mace"])
def test_annotator_models_see_through_a_spammer(method: str) -> None:
    pytest.importorskip("crowdkit")
    got = prelabel.agreement(_panel(items=120 if method == "dawid-skene" else 60), aggregate=method)
    assert got.aggregation is not None and got.aggregation.method == method
    rows = {r.annotator: r for r in got.aggregation.per_annotator}
    assert rows["spam"].accuracy is not None and rows["spam"].accuracy < 0.5
    assert all(rows[w].accuracy is not None and rows[w].accuracy > 0.75 for w in "xyz")
    parameter = {"dawid-skene": "confusion", "glad": "skill", "mace": "competence"}[method]
    assert all(getattr(r, parameter) is not None for r in rows.values())
    if method == "glad":
        assert rows["spam"].skill is not None and rows["spam"].skill < rows["x"].skill  # type: ignore[operator]
    if method == "mace":
        assert rows["spam"].competence < rows["x"].competence  # type: ignore[operator]
    if method == "dawid-skene":  # the spammer's confusion matrix: 'b' whatever the truth
        labels = got.aggregation.labels
        assert all(row[labels.index("b")] > 0.9 for row in rows["spam"].confusion or [])
    assert any(method in note for note in got.notes)


def test_compare_with_dawid_skene_writes_its_estimates_and_the_report_says_so(tmp_path: Path) -> None:
    pytest.importorskip("crowdkit")
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP, aggregate="dawid-skene")
    paths = cmp.save(tmp_path)
    assert cmp.metrics.humans.aggregation is not None
    assert cmp.metrics.skipped.items_majority_tied == 0  # the model breaks the majority's ties
    html = paths["report"].read_text(encoding="utf-8")
    assert "dawid-skene annotator model" in html
    assert "Human consensus: dawid-skene annotator model" in cmp.to_markdown()
    plain = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP)
    assert "Human consensus: majority vote" in plain.to_markdown()


def test_route_calibration_consensus_takes_aggregate() -> None:
    pytest.importorskip("crowdkit")
    frame = _panel(items=200)
    cal = pd.DataFrame({"item_id": [str(i) for i in range(200)], "label": "b", "confidence": 0.99})
    run = pd.DataFrame({"item_id": ["r1"], "label": ["b"], "confidence": [0.99]})
    votes = prelabel.route(run, cal, frame, target_precision=0.9, by="global")
    model = prelabel.route(run, cal, frame, target_precision=0.9, by="global", aggregate="dawid-skene")
    # majority vote leaves tied items out; Dawid-Skene, which discounts the spammer, has no tie
    assert votes.report.calibration["skipped"].get("humans_tied", 0) > 0, votes.report.calibration
    assert model.report.calibration["skipped"].get("humans_tied", 0) == 0, model.report.calibration


def test_unknown_aggregate_and_multi_label_are_one_line() -> None:
    with pytest.raises(InputError, match=r"unknown aggregate 'wawa' \(choose from: majority, dawid-skene"):
        prelabel.agreement(_panel(), aggregate="wawa")
    multi = pd.DataFrame({"item_id": ["1", "1"], "annotator": ["x", "y"], "label": ["a;b", "a"]})
    with pytest.raises(InputError, match="--aggregate glad is for single-label SOPs"):
        prelabel.agreement(multi, multi_label=True, aggregate="glad")
    assert prelabel.agreement(multi, multi_label=True, aggregate="majority").n_items == 1
    assert AGGREGATES == ("majority", "dawid-skene", "glad", "mace")


def test_without_crowd_kit_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def no_crowdkit(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("crowdkit"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_crowdkit)
    with pytest.raises(InputError, match=r"needs crowd-kit: run `pip install 'prelabel\[qa\]'`"):
        prelabel.agreement(_panel(items=5), aggregate="dawid-skene")
