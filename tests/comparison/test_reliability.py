"""Calibration: per-item signals against the human majority, reliability bins and ECE, and the compare
report's reliability diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prelabel
from prelabel.comparison.reliability import calibration_items, calibration_report, reliability


def test_reliability_bins_and_ece() -> None:
    rel = reliability([0.95, 0.95, 0.55, 0.55], [True, False, True, True], bins=10)
    assert rel.n == 4 and [b.n for b in rel.bins if b.n] == [2, 2]
    # |0.5 - 0.95| * 2 + |1.0 - 0.55| * 2, over 4 items
    assert rel.ece == pytest.approx(0.45)


def test_perfectly_calibrated_signal_has_small_ece() -> None:
    rng = np.random.default_rng(0)
    s = rng.uniform(size=20000)
    assert reliability(s, rng.uniform(size=20000) < s).ece < 0.02


def test_items_skip_ties_errors_and_items_without_humans() -> None:
    results = pd.DataFrame(
        {
            "item_id": ["1", "2", "3", "4"],
            "status": ["ok", "ok", "error", "ok"],
            "label": ["a", "a", None, "b"],
            "confidence": [0.9, 0.8, None, 0.7],
        }
    )
    humans = pd.DataFrame(
        {"item_id": ["1", "2", "2"], "annotator": ["x", "x", "y"], "label": ["a", "a", "b"]}
    )
    cal = calibration_items(results, humans)
    assert list(cal.frame["item_id"]) == ["1"]
    assert cal.skipped == {"humans_tied": 1, "model_error": 1, "no_human_label": 1}


def test_report_covers_confidence_and_sample_agreement_per_label() -> None:
    results = pd.DataFrame(
        {
            "item_id": ["1", "2", "3"],
            "label": ["a", "b", "a"],
            "confidence": [0.9, 0.6, 0.8],
            "samples": [["a", "a"], ["b", "a"], ["b", "b"]],
        }
    )
    humans = pd.DataFrame({"item_id": ["1", "2", "3"], "annotator": "x", "label": ["a", "b", "b"]})
    report = calibration_report(results, humans)
    assert report is not None and set(report.overall) == {"confidence", "agreement"}
    assert set(report.per_label["confidence"]) == {"a", "b"}
    assert report.overall["agreement"].mean_signal == pytest.approx((1 + 0.5 + 0) / 3)
    assert {row["label"] for row in report.rows()} == {"(all)", "a", "b"}


def test_multi_label_answers_are_sets() -> None:
    results = pd.DataFrame({"item_id": ["1"], "label": [None], "labels": [["b", "a"]], "confidence": [0.9]})
    humans = pd.DataFrame({"item_id": ["1"], "annotator": ["x"], "label": ["a;b"]})
    assert calibration_items(results, humans).frame["correct"].tolist() == [True]


def test_compare_report_shows_the_reliability_diagram(tmp_path: Path) -> None:
    results = pd.DataFrame(
        {"item_id": ["1", "2", "3", "4"], "label": ["a", "b", "a", "b"], "confidence": 0.8}
    )
    humans = pd.DataFrame({"item_id": ["1", "2", "3", "4"], "annotator": "x", "label": ["a", "b", "b", "b"]})
    cmp = prelabel.compare(results, humans)
    assert cmp.calibration is not None and cmp.calibration.overall["confidence"].ece == pytest.approx(0.05)
    html = cmp.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "reliability diagram and expected calibration error" in html
    assert html.count("data:image/png;base64") >= 2


def test_out_of_range_confidence_is_not_trusted_and_counted() -> None:
    """A confidence of 7 or -1 is not clipped to sure/unsure: it leaves the diagram and is counted."""
    results = pd.DataFrame(
        {"item_id": ["1", "2", "3"], "status": "ok", "label": ["a", "a", "a"], "confidence": [7.0, -1.0, 0.8]}
    )
    humans = pd.DataFrame({"item_id": ["1", "2", "3"], "annotator": "x", "label": ["b", "a", "a"]})
    cal = calibration_items(results, humans)
    assert list(cal.frame["item_id"]) == ["3"]
    assert cal.skipped == {"confidence_out_of_range": 2}


def test_human_majority_follows_compare_abstentions_and_unicode() -> None:
    """Abstentions are not votes and NFD/zero-width spellings are one label, as in compare."""
    results = pd.DataFrame(
        {
            "item_id": ["1", "2"],
            "status": "ok",
            "label": ["product.damaged", "logistics.late_delivery"],
            "confidence": [0.9, 0.9],
        }
    )
    humans = pd.DataFrame(
        {
            "item_id": ["1", "1", "2", "2", "2"],
            "annotator": ["x", "y", "x", "y", "z"],
            "label": [
                "product.\u200bdamaged",
                "\ufeffproduct.damaged",
                "needs_review",
                "needs_review",
                "logistics.late_delivery",
            ],
        }
    )
    cal = calibration_items(results, humans, sop=_abstaining_sop())
    assert list(cal.frame["correct"]) == [True, True] and cal.skipped == {}


def _abstaining_sop() -> prelabel.SOP:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    assert sop.abstain.allowed and sop.abstain.label == "needs_review"
    return sop


def test_compare_diagram_is_the_direct_calibration_report() -> None:
    """compare builds its diagram from its own prepared items; the figures equal the direct computation
    (ties, abstentions, missing and out-of-range confidences, repeated ids, Unicode spellings included)."""
    rng = np.random.default_rng(5)
    n = 400
    labels = np.array(["a", "b", "c", "needs_review"], dtype=object)
    confidence = rng.uniform(size=n)
    confidence[rng.uniform(size=n) < 0.1] = np.nan
    confidence[rng.uniform(size=n) < 0.05] = 1.5
    status = rng.choice(np.array(["ok", "error", "abstained"], dtype=object), n, p=[0.9, 0.05, 0.05])
    results = pd.DataFrame(
        {
            "item_id": [str(i) for i in range(n)],
            "status": status,
            "label": np.where(status == "abstained", "needs_review", rng.choice(labels[:3], n)),
            "confidence": confidence,
        }
    )
    humans = pd.DataFrame(
        {
            "item_id": [f"{i}.0" if i % 7 == 0 else str(i) for i in np.repeat(np.arange(n), 3)],
            "annotator": np.tile(["x", "y", "z"], n),
            "label": rng.choice(np.array(["a", "b", "c", "needs_review", "\u200ba"], dtype=object), 3 * n),
        }
    )
    direct = calibration_report(results, humans)
    via_compare = prelabel.compare(results, humans).calibration
    assert direct is not None and via_compare is not None
    assert via_compare.model_dump() == direct.model_dump()
    assert via_compare.overall["confidence"].n > 200


def test_answers_outside_the_sop_follow_compare() -> None:
    """Route's calibration set, built like compare's figures: a human label outside the SOP is not a vote
    (item 1's majority is the model's answer, not the typo), and a model answer outside the SOP is left out
    and counted (item 2), as compare's ``items_model_label_not_in_sop``. Before, the typo outvoted the leaf
    and the model's typo was scored as a wrong answer."""
    sop = _abstaining_sop()
    late, damaged = "logistics.late_delivery", "product.damaged"
    results = pd.DataFrame(
        {"item_id": ["1", "2", "3"], "label": [late, "logistics.lat", damaged], "confidence": 0.9}
    )
    humans = pd.DataFrame(
        {
            "item_id": ["1", "1", "1", "2", "3"],
            "annotator": ["x", "y", "z", "x", "x"],
            "label": [late, "logistic.late", "logistic.late", late, damaged],
        }
    )
    cal = calibration_items(results, humans, sop=sop)
    assert dict(zip(cal.frame["item_id"], cal.frame["correct"], strict=True)) == {"1": True, "3": True}
    assert cal.skipped == {"model_label_not_in_sop": 1}
    assert cal.human_labels == {late, damaged}
    skipped = prelabel.compare(results, humans, sop=sop).metrics.skipped
    assert (skipped.items_model_label_not_in_sop, skipped.annotations_not_in_sop) == (1, 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_set_is_the_items_compare_scores_against_the_majority(seed: int) -> None:
    """Every item compare counts in its figures against the human majority is in the calibration set (all
    confidences given), with the same correctness: abstentions, errors, labels outside the SOP on both
    sides, repeated ids, ties and Unicode spellings included."""
    sop = _abstaining_sop()
    rng = np.random.default_rng(seed)
    n = 300
    leaves = np.array(
        [*sop.leaf_ids[:3], "needs_review", "not.in_sop", "\u200b" + sop.leaf_ids[0]], dtype=object
    )
    status = rng.choice(np.array(["ok", "error", "abstained"], dtype=object), n, p=[0.85, 0.05, 0.1])
    ids = [str(i) for i in rng.integers(0, n, n)]  # some ids repeat: the last row is used
    results = pd.DataFrame(
        {
            "item_id": ids,
            "status": status,
            "label": np.where(
                status == "abstained", "needs_review", rng.choice(leaves, n, p=[0.3, 0.3, 0.2, 0, 0.1, 0.1])
            ),
            "confidence": rng.uniform(size=n),
        }
    )
    humans = pd.DataFrame(
        {
            "item_id": [str(i) for i in np.repeat(np.arange(n), 3)],
            "annotator": np.tile(["x", "y", "z"], n),
            "label": rng.choice(leaves, 3 * n, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05]),
        }
    )
    cal = calibration_items(results, humans, sop=sop)
    metrics = prelabel.compare(results, humans, sop=sop).metrics
    vs = metrics.model_vs_majority
    assert cal.n_used == vs.n and cal.frame["correct"].mean() == pytest.approx(vs.accuracy)
    assert cal.skipped["humans_tied"] == vs.n_tied_excluded
    assert cal.skipped["model_label_not_in_sop"] == metrics.skipped.items_model_label_not_in_sop > 0
    assert cal.skipped["model_row_duplicate"] == metrics.skipped.model_rows_duplicate > 0
