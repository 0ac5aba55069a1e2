"""`prelabel.inputs.tables.read_table`: the one reader of compared and scored tables (human labels, CSV
results, answer keys, ambiguity candidates), and the files it refuses with one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import prelabel
from prelabel.inputs.tables import read_table

KEY = "item_id,label\nq1,a\nq2,b\n"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("key.csv", KEY.encode()),
        ("key.csv", b"\xef\xbb\xbf" + KEY.encode()),  # Excel's "CSV UTF-8" starts with a BOM
        ("key.csv", b"item_id, label\nq1, a\nq2, b\n"),
        ("key.tsv", KEY.replace(",", "\t").encode()),
    ],
    ids=["csv", "bom", "spaces", "tsv"],
)
def test_reads_text_cells(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert read_table(path, "answer key").to_dict("records") == [
        {"item_id": "q1", "label": "a"},
        {"item_id": "q2", "label": "b"},
    ]


def test_reads_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"item_id": ["007"], "label": ["a"]}).to_parquet(tmp_path / "key.parquet")
    assert read_table(tmp_path / "key.parquet", "answer key")["item_id"].tolist() == ["007"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "no such answer key file"),
        (b"", "answer key file is empty"),
        ("item_id,label\nq1,a\n".encode("utf-16"), "UTF-16"),
        (b"item_id,label\nq1,a,b,c\n", "key.csv:2: expected 2 fields, got 4"),
    ],
    ids=["missing", "empty", "utf16", "ragged"],
)
def test_a_file_wrong_as_a_whole_is_one_line(tmp_path: Path, data: bytes | None, message: str) -> None:
    path = tmp_path / "key.csv"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(prelabel.InputError, match=message) as caught:
        read_table(path, "answer key")
    assert "\n" not in str(caught.value)


def test_answer_key_is_read_like_compares_tables(tmp_path: Path) -> None:
    """Quiz answer keys and ambiguity candidates are read by the same reader as compare's human labels: a
    tab-separated key is a key (it was one column named ``item_id\tlabel``), an empty one says so."""
    key = tmp_path / "calib_key.tsv"
    key.write_text(KEY.replace(",", "\t"), encoding="utf-8")
    answers = pd.DataFrame({"item_id": ["q1", "q2"], "annotator": "x", "label": ["a", "a"]})
    assert prelabel.score_calibration(key, answers).summary["accuracy"] == 0.5
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(prelabel.InputError, match=r"empty\.csv: answer key file is empty"):
        prelabel.score_calibration(tmp_path / "empty.csv", answers)
    with pytest.raises(prelabel.InputError, match=r"empty\.csv: ambiguity candidates file is empty"):
        prelabel.calibration_set(
            prelabel.bundled_sop("customer_feedback_intent"), n=2, report=tmp_path / "empty.csv"
        )
