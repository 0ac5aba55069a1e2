"""Model results that are almost right (issue 13 items 8, 12) and the report directory (item 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from prelabel.runs.labels import read_labels

DATA = Path(__file__).parents[1] / "data" / "compare"
FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
HUMANS = pd.DataFrame(
    {"item_id": list("1122"), "annotator": ["x", "y"] * 2, "label": ["product.damaged"] * 4}
)


def _results(versions: list[str], sop_id: str = "customer_feedback_intent") -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": ["1", "2"], "label": "product.damaged", "sop_id": sop_id, "sop_version": versions}
    )


def test_one_sop_and_version_gives_no_warning() -> None:
    for sop in (None, FEEDBACK):
        cmp = prelabel.compare(_results([FEEDBACK.version] * 2), HUMANS, sop=sop)
        assert cmp.metrics.warnings == []
        assert "warnings" not in cmp.metrics.model_dump(mode="json")
    assert prelabel.compare(HUMANS.assign(annotator="m"), HUMANS).metrics.warnings == []  # no sop columns


def test_mixed_versions_warn_without_an_sop() -> None:
    cmp = prelabel.compare(_results(["3.1.0", "3.2.0"]), HUMANS)
    assert cmp.metrics.model_dump(mode="json")["warnings"] == [
        "the results were labeled under several SOPs or versions: customer_feedback_intent@3.1.0 (1 row), "
        "customer_feedback_intent@3.2.0 (1 row)"
    ]


def test_results_of_another_sop_warn_with_an_sop() -> None:
    cmp = prelabel.compare(_results(["1.0.0"] * 2, "review_authenticity"), HUMANS, sop=FEEDBACK)
    (warning,) = cmp.metrics.warnings
    assert warning.startswith(
        f"the results were labeled under review_authenticity@1.0.0 (2 rows), not customer_feedback_intent@"
        f"{FEEDBACK.version} (--sop)"
    )


def test_only_the_last_line_may_be_cut(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"item_id": "1", "label": "a"}\n{"item_id": "2", "lab\n\n')
    frame = prelabel.read_results(path)
    assert list(frame["item_id"]) == ["1"] and frame.attrs["truncated"] == 1
    path.write_text('{"item_id": "1", "lab')  # nothing before it: not a cut run, a broken file
    with pytest.raises(prelabel.InputError, match=":1: not a JSON object"):
        prelabel.read_results(path)


def test_check_report_dir(tmp_path: Path) -> None:
    out = prelabel.check_report_dir(tmp_path / "a" / "b", "agreement")
    assert not (tmp_path / "a").exists()  # probed and removed: bad input found later leaves no empty folder
    out.mkdir(parents=True)
    assert prelabel.check_report_dir(out, "agreement") == out and list(out.iterdir()) == []
    (out / "report.html").write_text("old")
    with pytest.raises(prelabel.InputError, match=r"holds outputs of prelabel compare \(report.html\)"):
        prelabel.check_report_dir(out, "agreement")
    assert prelabel.check_report_dir(out, "compare") == out
    (out / "draft_edge_cases.yaml").write_text("drafts")
    assert prelabel.check_report_dir(out, "compare", drafts=True) == out  # replaced by new drafts
    with pytest.raises(prelabel.InputError, match="earlier compare --draft-edits"):
        prelabel.check_report_dir(out, "compare")


def test_save_without_html_removes_an_old_report(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("an earlier comparison")
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv")
    assert "report" not in cmp.save(tmp_path, html=False)
    assert not (tmp_path / "report.html").exists()


def test_a_cut_off_last_line_reads_the_same_as_rows_and_as_a_dataframe(tmp_path: Path) -> None:
    """``compare`` reads a DataFrame, ``export``/``route``/``gaps`` the lines: one reader, one warning, saying
    how many items are left out and how to repair (issue 19; the line readers refused the file before)."""
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"item_id": "1"}\n{"item_id": "2", "lab', encoding="utf-8")
    lines = read_labels(labels)
    assert [row["item_id"] for row in lines.rows] == ["1"] and lines.cut_line == 2
    (warning,) = lines.warnings
    assert re.fullmatch(
        r".*labels\.jsonl:2: the last line is cut off .*1 item is left out.*`prelabel run`.*", warning
    )
    assert prelabel.read_results(labels).attrs["warnings"] == lines.warnings
