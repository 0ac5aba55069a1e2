"""Calibration scoring against a hand-computed fixture (tests/authoring/data/key.csv, answers.csv).

Key: q1 a, q2 a, q3 b, q4 b, q5 c, q6 c.
Annotator x answers a a b a c c: 5/6 correct; marginals key (2, 2, 2), x (3, 1, 2):
p_e = (2·3 + 2·1 + 2·2) / 36 = 1/3, κ = (5/6 − 1/3) / (1 − 1/3) = 0.75.
Annotator y answers a b b c c a: 3/6 correct; marginals (2, 2, 2): p_e = 1/3, κ = (1/2 − 1/3) / (2/3) = 0.25.
Per key label: a 3/4, b 2/4, c 3/4. Most missed: q4 (2/2 wrong), then q2 and q6 (1/2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

import prelabel

DATA = Path(__file__).parent / "data"


def test_matches_hand_computed_figures() -> None:
    score = prelabel.score_calibration(DATA / "key.csv", DATA / "answers.csv")
    rows = score.annotators.set_index("annotator")
    assert rows.loc["x", "accuracy"] == pytest.approx(5 / 6) and rows.loc["x", "kappa"] == pytest.approx(0.75)
    assert rows.loc["y", "accuracy"] == pytest.approx(0.5) and rows.loc["y", "kappa"] == pytest.approx(0.25)
    key = list("aabbcc")
    assert cohen_kappa_score(key, list("aabacc")) == pytest.approx(0.75)  # the same figure from sklearn
    labels = score.labels.set_index("label")["accuracy"].to_dict()
    assert labels == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.75})
    assert list(score.missed["item_id"]) == ["q4", "q2", "q6"]
    assert score.missed.iloc[0][["n_wrong", "wrong_answers", "source_id"]].tolist() == [
        2,
        "a ×1 | c ×1",
        "T1",
    ]
    assert score.summary["accuracy"] == pytest.approx(8 / 12) and score.problems.empty


def test_unknown_items_labels_blank_and_repeats_are_reported_and_counted() -> None:
    answers = pd.read_csv(DATA / "answers.csv")
    extra = pd.DataFrame(
        {
            "item_id": ["q99", "q1", "q2", "q3", "q3"],
            "annotator": ["x", "z", "z", "z", "z"],
            "label": ["a", "typo", None, "a", "b"],
        }
    )
    score = prelabel.score_calibration(DATA / "key.csv", pd.concat([answers, extra], ignore_index=True))
    kinds = score.summary["problems"]
    assert kinds == {"unknown item": 1, "unknown label": 1, "blank answer": 1, "repeated answer": 1}
    z = score.annotators.set_index("annotator").loc["z"]
    assert (z["answered"], z["correct"], z["unknown_labels"], z["unanswered"]) == (
        2,
        1,
        1,
        4,
    )  # typo is wrong
    assert score.annotators.set_index("annotator").loc["x", "unknown_items"] == 1
    assert score.summary["n_answers"] == 17 and score.summary["n_scored"] == 14


def test_sop_checks_labels_and_multi_label_sets_ignore_order() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    calib = prelabel.calibration_set(sop, n=5)
    multi = calib.key[calib.key["label"].str.contains(";")].iloc[0]
    reversed_answer = ";".join(reversed(multi["label"].split(";")))
    answers = pd.DataFrame({"item_id": [multi["item_id"]] * 2, "annotator": ["p", "q"],
                            "label": [reversed_answer, "safe;not_a_label"]})  # fmt: skip
    score = prelabel.score_calibration(calib.key, answers, sop=sop)
    assert score.annotators.set_index("annotator")["correct"].to_dict() == {"p": 1, "q": 0}
    assert "not in the SOP seller_content_risk" in score.problems["problem"].iloc[0]
    with pytest.raises(prelabel.InputError, match="is for SOP 'seller_content_risk'"):
        prelabel.score_calibration(calib.key, answers, sop=prelabel.bundled_sop("review_authenticity"))


def test_save_and_bad_input(tmp_path: Path) -> None:
    score = prelabel.score_calibration(DATA / "key.csv", DATA / "answers.csv")
    paths = score.save(tmp_path / "scores")
    assert json.loads(paths["summary"].read_text(encoding="utf-8"))["n_items"] == 6
    with pytest.raises(prelabel.InputError, match="already exists"):
        score.save(tmp_path / "scores")
    with pytest.raises(prelabel.InputError, match="no such answer key"):
        prelabel.score_calibration(tmp_path / "nope.csv", DATA / "answers.csv")
    (tmp_path / "wrong.csv").write_text("item,answer\nq1,a\n", encoding="utf-8")
    with pytest.raises(prelabel.InputError, match=r"missing column\(s\) item_id, label"):
        prelabel.score_calibration(tmp_path / "wrong.csv", DATA / "answers.csv")
    with pytest.raises(prelabel.InputError, match="appears twice"):
        prelabel.score_calibration(DATA / "answers.csv", DATA / "answers.csv")
    only_unknown = pd.DataFrame({"item_id": ["zz"], "annotator": ["x"], "label": ["a"]})
    with pytest.raises(prelabel.InputError, match="no answer can be scored"):
        prelabel.score_calibration(DATA / "key.csv", only_unknown)


def test_ids_are_normalised_like_compare() -> None:
    """The key's ``7`` and an answer's ``7.0`` or `` 7 `` are one item, as in compare and agreement."""
    key = pd.DataFrame({"item_id": [7, 8], "label": ["a", "b"]})
    answers = pd.DataFrame({"item_id": ["7.0", " 8 "], "annotator": ["x", "x"], "label": ["a", "b"]})
    score = prelabel.score_calibration(key, answers)
    assert score.problems.empty and score.summary["accuracy"] == pytest.approx(1.0)


def test_a_ragged_or_utf16_key_or_answers_file_is_one_clear_error(tmp_path: Path) -> None:
    # a ragged row was read with its first fields as the index: "item product.damaged has no label"
    ragged = tmp_path / "key.csv"
    ragged.write_text("item_id,label,source,source_id\nq1,a,edge_case,E1,extra\nq2,a,edge_case,E2\n")
    with pytest.raises(prelabel.InputError) as info:
        prelabel.score_calibration(ragged, DATA / "answers.csv")
    assert str(info.value) == f"{ragged}:2: expected 4 fields, got 5"
    wide = tmp_path / "key16.csv"
    wide.write_bytes((DATA / "key.csv").read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(prelabel.InputError, match="is UTF-16 text; save it as UTF-8"):
        prelabel.score_calibration(wide, DATA / "answers.csv")


def test_answers_are_canonical_as_in_compare() -> None:
    """An answer spelled with a zero-width space or in NFD is the key's label, as compare reads it: the
    ``correct`` count and the accuracy (compare's figure) agree."""
    key = pd.DataFrame({"item_id": ["q1", "q2"], "label": ["café", "b"]})
    answers = pd.DataFrame({"item_id": ["q1", "q2"], "annotator": "x", "label": ["cafe\u0301", "\u200bb"]})
    row = prelabel.score_calibration(key, answers).annotators.iloc[0]
    assert (row["correct"], row["accuracy"]) == (2, 1.0)
