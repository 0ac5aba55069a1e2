"""Calibration quizzes: items from edge cases, tests, examples and ruled report candidates; a separate key."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import prelabel


@pytest.mark.parametrize("name", prelabel.bundled_sops())
def test_quiz_and_key_for_every_bundled_sop(name: str) -> None:
    sop = prelabel.bundled_sop(name)
    calib = prelabel.calibration_set(sop, n=12, seed=3)
    assert list(calib.quiz.columns) == ["item_id", "text", "language"]  # no answer in the quiz
    assert list(calib.quiz["item_id"]) == list(calib.key["item_id"])
    assert calib.key["item_id"].is_unique and calib.quiz["text"].is_unique
    for labels in calib.key["label"]:
        assert set(labels.split(";")) <= set(sop.answer_ids)
    assert set(calib.key["sop_id"]) == {sop.id}
    edge = calib.key[calib.key["source"] == "edge_case"]
    assert set(edge["source_id"]) == {c.id for c in sop.edge_cases}  # edge cases come first
    assert prelabel.calibration_set(sop, n=12, seed=3).quiz.equals(calib.quiz)  # seeded


def test_examples_cover_labels_round_robin() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    calib = prelabel.calibration_set(sop, n=40)
    examples = calib.key[calib.key["source"] == "example"]
    assert set(examples["label"]) == set(sop.leaf_ids)  # every leaf has an example in the quiz
    assert calib.notes == [f"only {len(calib.key)} items available (asked for 40)"]


def test_multi_label_skips_examples_with_a_note() -> None:
    calib = prelabel.calibration_set(prelabel.bundled_sop("seller_content_risk"), n=100)
    assert "example" not in set(calib.key["source"])
    assert any("multi-label" in note for note in calib.notes)


def test_language_filter() -> None:
    calib = prelabel.calibration_set(prelabel.bundled_sop("customer_feedback_intent"), n=40, language="th")
    assert set(calib.quiz["language"]) <= {"th", ""} and "th" in set(calib.quiz["language"])


def test_ruled_report_candidates_come_first(tmp_path: Path) -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    ruled = sop.edge_cases[2]
    pd.DataFrame(
        {
            "rank": [1, 2],
            "cluster": ["a ↔ b", "c ↔ d"],
            "examples": [f"something else || {ruled.text.upper()}", "never ruled"],
        }
    ).to_csv(tmp_path / "ambiguity_candidates.csv", index=False)
    calib = prelabel.calibration_set(sop, n=1, report=tmp_path)
    (row,) = calib.key.to_dict("records")
    assert (row["source"], row["source_id"], row["label"]) == (
        "report",
        f"{ruled.id} (a ↔ b)",
        ruled.label[0],
    )
    assert any("c ↔ d" in note for note in calib.notes)
    assert not any("smoke" in note for note in calib.notes)


def test_candidates_ranked_from_smoke_model_answers_are_noted(tmp_path: Path) -> None:
    from prelabel.comparison.ambiguity import SMOKE_CANDIDATE_NOTE

    sop = prelabel.bundled_sop("customer_feedback_intent")
    pd.DataFrame(
        {
            "rank": [1],
            "model_note": [SMOKE_CANDIDATE_NOTE],
            "cluster": ["a ↔ b"],
            "examples": [sop.edge_cases[0].text],
        }
    ).to_csv(tmp_path / "ambiguity_candidates.csv", index=False)
    calib = prelabel.calibration_set(sop, n=1, report=tmp_path)
    assert calib.key["source"].tolist() == ["report"]
    assert any("local (smoke model: mechanics only)" in n and "mechanics only" in n for n in calib.notes)


def test_bad_input(tmp_path: Path) -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    with pytest.raises(prelabel.InputError, match=r"no ambiguity_candidates\.csv"):
        prelabel.calibration_set(sop, report=tmp_path)
    with pytest.raises(prelabel.InputError, match="at least one item"):
        prelabel.calibration_set(sop, n=0)
    with pytest.raises(prelabel.InputError, match=r"in language 'xx'"):
        bare = prelabel.parse_sop("id: d\nversion: 1\ntitle: D\nlabels: [{id: a, definition: A.}]")
        prelabel.calibration_set(bare, language="xx")
    calib = prelabel.calibration_set(sop, n=3)
    quiz, key = calib.save(tmp_path / "calib.csv")
    assert key.name == "calib_key.csv" and quiz.is_file()
    with pytest.raises(prelabel.InputError, match="already exists"):
        calib.save(tmp_path / "calib.csv")
