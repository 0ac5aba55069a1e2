"""Vendor QA of one batch: gold kept apart from votes and taken from rows, a file or the SOP's tests; accuracy
with Wilson intervals; the target rule; throughput from lead times or timestamps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

import prelabel
from prelabel.comparison.vendor_qa import FAST_SECONDS, wilson
from prelabel.errors import InputError


def _frame() -> pd.DataFrame:
    rows = []
    for i in range(10):
        truth = "a" if i % 2 else "b"
        rows.append((str(i), "good", truth, "", 20.0, "V1", "de"))
        rows.append((str(i), "weak", truth if i < 3 else ("b" if truth == "a" else "a"), "", 1.0, "V2", "fr"))
        rows.append((str(i), "lead", truth, "true", None, "QA", "de"))
    return pd.DataFrame(
        rows, columns=["item_id", "annotator", "label", "gold", "lead_time", "vendor", "market"]
    )


def _agent(qa: prelabel.AgreementMetrics, level: str, name: str) -> dict:
    assert qa.vendor_qa is not None
    return next(a.model_dump() for a in qa.vendor_qa.agents if a.level == level and a.name == name)


def test_gold_rows_are_the_key_not_votes() -> None:
    got = prelabel.agreement(_frame(), target_accuracy=0.8)
    assert got.n_annotators == 2 and got.n_annotations == 20  # the lead's gold rows are not votes
    assert set(got.slices) == {"vendor", "market"}  # gold and lead_time are no slices; these stay slices
    weak = _agent(got, "annotator", "weak")
    assert (weak["n_gold"], weak["gold_correct"], weak["vendor"], weak["market"]) == (10, 3, "V2", "fr")
    assert (weak["gold_low"], weak["gold_high"]) == pytest.approx(proportion_confint(3, 10, method="wilson"))
    assert weak["below_target"] is True and weak["flagged"] is True  # upper bound 0.61 < 0.8
    good = _agent(got, "annotator", "good")
    assert good["gold_accuracy"] == 1.0 and good["below_target"] is False and good["flagged"] is False
    assert _agent(got, "vendor", "V2")["gold_accuracy"] == 0.3
    assert _agent(got, "market", "de")["n_labels"] == 10
    assert got.vendor_qa is not None and got.vendor_qa.gold_items == {"rows": 10, "file": 0, "sop_tests": 0}


def test_flagged_needs_the_whole_interval_below_the_target() -> None:
    frame = _frame()
    small = frame[frame["item_id"].isin(["0", "1", "2", "3"])]  # weak: 3 of 4 right on gold
    weak = _agent(prelabel.agreement(small, target_accuracy=0.8), "annotator", "weak")
    assert weak["gold_accuracy"] == 0.75 and weak["below_target"] is True and weak["flagged"] is False


def test_wilson_matches_statsmodels() -> None:
    for correct, n in ((0, 5), (5, 5), (37, 50), (180, 200)):
        assert wilson(correct, n) == pytest.approx(proportion_confint(correct, n, method="wilson"))
    assert wilson(0, 0) == (None, None)


def test_gold_from_a_file_and_from_the_sops_tests(tmp_path: Path) -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    case = sop.tests[0]
    humans = pd.DataFrame(
        {
            "item_id": ["t", "t", "f", "f"],
            "annotator": ["x", "y", "x", "y"],
            "label": [case.expect[0], sop.tests[1].expect[0], "product.damaged", "product.damaged"],
            "text": [case.text, case.text, "whatever", "whatever"],
        }
    )
    key = tmp_path / "key.csv"
    pd.DataFrame({"item_id": ["f"], "label": ["product.damaged"]}).to_csv(key, index=False)
    got = prelabel.agreement(humans, sop=sop, gold=key)
    assert got.vendor_qa is not None and got.vendor_qa.gold_items == {"rows": 0, "file": 1, "sop_tests": 1}
    x, y = _agent(got, "annotator", "x"), _agent(got, "annotator", "y")
    assert (x["gold_correct"], y["gold_correct"], x["n_gold"]) == (2, 1, 2)


def test_throughput_from_lead_time() -> None:
    got = prelabel.agreement(_frame())
    weak, good = _agent(got, "annotator", "weak"), _agent(got, "annotator", "good")
    assert weak["fast_share"] == 1.0 and weak["items_per_hour"] == pytest.approx(3600)
    assert good["fast_share"] == 0.0 and good["median_seconds"] == 20.0 and good["items_per_hour"] == 180
    assert got.vendor_qa is not None and got.vendor_qa.fast_seconds == FAST_SECONDS == 3.0
    slow = _agent(prelabel.agreement(_frame(), fast_seconds=30), "annotator", "good")
    assert slow["fast_share"] == 1.0


def test_throughput_from_timestamps_leaves_breaks_out() -> None:
    times = ["2026-01-05T09:00:00Z", "2026-01-05T09:00:10Z", "2026-01-05T09:00:40Z", "2026-01-05T13:00:00Z"]
    humans = pd.DataFrame(
        {"item_id": list("abcd"), "annotator": "x", "label": ["p", "q", "p", "q"], "created_at": times}
    )
    got = prelabel.agreement(humans)
    x = _agent(got, "annotator", "x")
    assert (
        x["n_timed"] == 2 and x["median_seconds"] == 20.0
    )  # 10 s and 30 s; the first vote and the break: no
    assert got.vendor_qa is not None and got.vendor_qa.duration_source == "created_at"


def test_bad_settings_and_bad_gold_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"target accuracy must be strictly between 0 and 1, got 1\.5"):
        prelabel.agreement(_frame(), target_accuracy=1.5)
    with pytest.raises(InputError, match="fast seconds must be 0 or more"):
        prelabel.agreement(_frame(), fast_seconds=-1)
    bad = _frame().assign(gold="maybe")
    with pytest.raises(InputError, match="column 'gold': 'maybe' is not a yes/no value"):
        prelabel.agreement(bad)
    with pytest.raises(InputError, match="no such gold file"):
        prelabel.agreement(_frame(), gold=tmp_path / "missing.csv")
    (tmp_path / "g.csv").write_text("item_id,answer\n1,a\n")
    with pytest.raises(InputError, match="missing column"):
        prelabel.agreement(_frame(), gold=tmp_path / "g.csv")


def test_a_calibration_answer_key_is_gold(tmp_path: Path) -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    calib = prelabel.calibration_set(sop, n=8, seed=3)
    _, key = calib.save(tmp_path / "calib.csv")
    right = calib.key[["item_id", "label"]].assign(annotator="a")
    wrong = calib.key[["item_id"]].assign(annotator="b", label="product.damaged")
    answers = pd.concat([right, wrong])
    got = prelabel.agreement(answers, sop=sop, gold=key)
    score = prelabel.score_calibration(key, answers, sop=sop).annotators.set_index("annotator")
    for name in ("a", "b"):
        row = _agent(got, "annotator", name)
        assert row["gold_accuracy"] == pytest.approx(score.loc[name, "accuracy"])
        assert row["n_gold"] == score.loc[name, "answered"]


def test_vectorised_kappas_equal_scikit_learns() -> None:
    import numpy as np

    from prelabel.comparison.interrater import kappa_from_table, kappas_from_tables

    rng = np.random.default_rng(1)
    tables = rng.integers(0, 6, size=(30, 4, 4))
    tables[3] = 0  # empty: undefined
    tables[4] = 0
    tables[4, 2, 2] = 7  # one class: undefined
    got = kappas_from_tables(tables)
    for table, mine in zip(tables, got, strict=True):
        theirs = kappa_from_table(table)
        assert (mine is None and theirs is None) or mine == pytest.approx(theirs)
