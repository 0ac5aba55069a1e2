"""``prelabel doc``, ``doc-diff``, ``calibration`` and ``calibration score``, including hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

import prelabel
from helpers import run_cli

DATA = Path(__file__).parent / "data"
SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))
Capture = pytest.CaptureFixture[str]


def test_doc_and_doc_diff(tmp_path: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "doc", SOP, "-o", str(tmp_path / "guide.md"), "--language", "en")
    assert (
        code == 0 and "wrote" in out and (tmp_path / "guide.md").read_text(encoding="utf-8").startswith("# ")
    )
    code, _, err = run_cli(capsys, "doc", SOP, "-o", str(tmp_path / "guide.md"))
    assert (code, err.strip()) == (
        2,
        f"error: {tmp_path / 'guide.md'} already exists; pass --force to overwrite it",
    )
    assert (
        run_cli(capsys, "doc", SOP, "-o", str(tmp_path / "guide.md"), "--force", "--format", "html")[0] == 0
    )
    code, out, _ = run_cli(capsys, "doc-diff", str(DATA / "sop_v1.yaml"), str(DATA / "sop_v2.yaml"),
                           "-o", str(tmp_path / "changes.md"))  # fmt: skip
    assert code == 0 and "1 renamed" in out and (tmp_path / "changes.md").is_file()


def test_doc_and_validate_count_the_same_labels_and_say_what_they_count(
    tmp_path: Path, capsys: Capture
) -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    size = (
        f"{len(sop.leaf_ids)} leaf labels ({len(sop.label_index)} labels in the tree), {len(sop.tests)} tests"
    )
    code, out, _ = run_cli(capsys, "doc", SOP, "-o", str(tmp_path / "guide.md"))
    assert code == 0 and out == f"wrote {tmp_path / 'guide.md'} ({sop.id} {sop.version}, {size})\n"
    code, out, _ = run_cli(capsys, "validate", SOP)
    assert code == 0 and out == f"{SOP}: ok ({sop.id} {sop.version}, {size})\n"


def test_bad_sop_is_one_line_per_problem(tmp_path: Path, capsys: Capture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nversion: 1\ntitle: X\nlabels: [{id: a, definiton: typo}]\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "doc", str(bad), "-o", str(tmp_path / "g.html"))
    assert code == 2 and err.startswith(f"{bad}:4:") and "Traceback" not in err
    assert not (tmp_path / "g.html").exists()


def test_calibration_build_then_score(tmp_path: Path, capsys: Capture) -> None:
    quiz = tmp_path / "calib.csv"
    code, out, _ = run_cli(capsys, "calibration", SOP, "-n", "6", "-o", str(quiz))
    assert code == 0 and "calib_key.csv" in out and (tmp_path / "calib_key.csv").is_file()
    code, _, err = run_cli(capsys, "calibration", SOP, "-n", "6", "-o", str(quiz))
    assert code == 2 and "already exists" in err
    code, out, _ = run_cli(capsys, "calibration", "score", str(DATA / "key.csv"), str(DATA / "answers.csv"),
                           "-o", str(tmp_path / "scores"))  # fmt: skip
    assert (
        code == 0
        and "| x | 6/6 | 5 | 0.833 | 0.750 |" in out
        and (tmp_path / "scores" / "labels.csv").is_file()
    )


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("item_id,who,answer\nq1,x,a\n", "missing column(s) annotator, label"),
        ("item_id,annotator,label\n", "empty"),
        (None, "no such human labels file"),
        ("item_id,annotator,label\nzz,x,a\n", "no answer can be scored"),
    ],
)
def test_score_hostile_answers(tmp_path: Path, capsys: Capture, answers: str | None, message: str) -> None:
    path = tmp_path / "answers.csv"
    if answers is not None:
        path.write_text(answers, encoding="utf-8")
    code, _, err = run_cli(
        capsys, "calibration", "score", str(DATA / "key.csv"), str(path), "-o", str(tmp_path / "s")
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_score_missing_key_and_unknown_labels(tmp_path: Path, capsys: Capture) -> None:
    nokey, answers_csv = str(tmp_path / "nokey.csv"), str(DATA / "answers.csv")
    code, _, err = run_cli(capsys, "calibration", "score", nokey, answers_csv, "-o", str(tmp_path / "s"))
    assert code == 2 and err.strip() == f"error: {tmp_path / 'nokey.csv'}: no such answer key file"
    answers = tmp_path / "answers.csv"
    answers.write_text("item_id,annotator,label\nq1,x,a\nq2,x,typo\nq77,x,a\n", encoding="utf-8")
    code, out, _ = run_cli(
        capsys, "calibration", "score", str(DATA / "key.csv"), str(answers), "-o", str(tmp_path / "s")
    )
    assert code == 0 and "unknown item 1, unknown label 1" in out
    problems = (tmp_path / "s" / "problems.csv").read_text(encoding="utf-8")
    assert "q77" in problems and "typo" in problems
