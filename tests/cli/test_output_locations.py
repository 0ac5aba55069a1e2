"""An output location that cannot be written (a path under a regular file, where running as root makes chmod
useless) is one ``error: cannot write ...`` line and exit 2 for every command that writes files — never an
``OSError`` reported as an unexpected failure (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

import prelabel
from helpers import run_cli

DATA = Path(__file__).parents[1] / "data" / "compare"
SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))


def _commands(blocked: Path) -> dict[str, list[str]]:
    labels, humans, out = str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), str(blocked)
    return {
        "agreement": ["agreement", humans, "-o", str(blocked)],
        "compare": ["compare", labels, humans, "-o", str(blocked)],
        "export-csv": ["export", str(DATA), "--format", "csv", "-o", str(blocked / "x.csv")],
        "export-jsonl": ["export", str(DATA), "--format", "jsonl", "-o", str(blocked / "x.jsonl")],
        "route": ["route", str(DATA), "--calibration", str(DATA), "--target-precision", "0.9", "-o", out],
        "doc": ["doc", SOP, "-o", str(blocked / "guideline.html")],
        "doc-diff": ["doc-diff", SOP, SOP, "-o", str(blocked / "changes.md")],
        "calibration": ["calibration", SOP, "-n", "3", "-o", str(blocked / "calib.csv")],
    }


@pytest.mark.parametrize("name", list(_commands(Path("x"))))
def test_an_output_under_a_regular_file_is_one_line_and_exit_2(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    regular = tmp_path / "a_file"
    regular.write_text("not a directory")
    code, _, err = run_cli(capsys, *_commands(regular / "sub")[name])
    assert code == 2, err
    assert err.startswith(f"error: cannot write {regular / 'sub'}: Not a directory"), err
    assert len(err.strip().splitlines()) == 1, err
    assert regular.read_text() == "not a directory"


def test_the_writing_helper_names_the_path(tmp_path: Path) -> None:
    from prelabel._jsonio import make_parents, writing

    regular = tmp_path / "f"
    regular.write_text("")
    with pytest.raises(prelabel.InputError, match=r"cannot write .*f/out: Not a directory"):
        make_parents(regular / "out" / "x.json")
    with pytest.raises(prelabel.InputError, match=r"cannot write .*: Is a directory"):
        with writing(tmp_path) as path:
            path.write_text("x")


#: An existing directory in which nobody, root included, can create a file (chmod is no use under root).
UNWRITABLE = Path("/proc/self")


@pytest.mark.skipif(not (UNWRITABLE / "status").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("name", list(_commands(Path("x"))))
def test_an_existing_directory_that_takes_no_file_is_one_line_and_exit_2(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #21: doc, doc-diff and calibration made the folder, wrote, and failed with exit 1
    (``PermissionError``); every output is now checked up front, as compare and export check theirs."""
    code, out, err = run_cli(capsys, *_commands(UNWRITABLE)[name])
    assert code == 2, err
    assert err.startswith(f"error: cannot write {UNWRITABLE}:"), err  # the folder, not a probe file
    assert len(err.strip().splitlines()) == 1 and "Error" not in err and "wrote" not in out
