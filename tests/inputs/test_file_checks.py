"""Items files that are almost right are one clear error before any work (issue 13, items 3 and 12)."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pandas as pd
import pytest

from prelabel.errors import InputError
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem, read_items

ROWS = [{"id": "1", "text": "late parcel"}, {"id": "2", "text": "broken box"}]
JSONL = "".join(json.dumps(row) + "\n" for row in ROWS)


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "encoding"),
    [
        ("bom.jsonl", codecs.BOM_UTF16_LE + JSONL.encode("utf-16-le"), "UTF-16"),
        ("bom-be.jsonl", codecs.BOM_UTF16_BE + JSONL.encode("utf-16-be"), "UTF-16"),
        ("no-bom.jsonl", JSONL.encode("utf-16-le"), "UTF-16"),
        ("wide.jsonl", JSONL.encode("utf-32"), "UTF-32"),
        ("items.csv", "id,text\n1,late\n".encode("utf-16"), "UTF-16"),
        ("items.json", json.dumps(ROWS).encode("utf-16"), "UTF-16"),
    ],
)
def test_utf16_and_utf32_files_are_one_clear_error(
    tmp_path: Path, name: str, data: bytes, encoding: str
) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(InputError, match=rf"{name}: is {encoding} text; save it as UTF-8"):
        read_items(path)


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_array_in_a_jsonl_file_suggests_json(tmp_path: Path, indent: int | None) -> None:
    path = write(tmp_path, "items.jsonl", json.dumps(ROWS, indent=indent))
    with pytest.raises(
        InputError, match=r"items\.jsonl: holds a JSON array, not one object per line; name it \.json"
    ):
        read_items(path)
    renamed = path.rename(tmp_path / "items.json")
    assert [entry.id for entry in read_items(renamed)] == ["1", "2"]  # type: ignore[union-attr]


def test_a_list_line_among_object_lines_stays_one_error_record(tmp_path: Path) -> None:
    path = write(tmp_path, "items.jsonl", "[1, 2]\n" + JSONL)
    entries = list(read_items(path))
    assert isinstance(entries[0], BadItem) and "expected an object, got a list" in entries[0].reason
    assert all(isinstance(entry, Item) for entry in entries[1:])


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.jsonl", "", "is empty; there are no items to label"),
        ("blank.jsonl", "\n \n\n", "is empty; there are no items to label"),
        ("empty.csv", "", "is empty; there are no items to label"),
        ("header.csv", "id,text\n", "holds no items; there is nothing to label"),
        ("header.tsv", "id\ttext\n\n", "holds no items; there is nothing to label"),
        ("empty.json", "[]", "holds no items; there is nothing to label"),
    ],
)
def test_an_items_file_without_items_is_one_clear_error(
    tmp_path: Path, name: str, data: str, message: str
) -> None:
    with pytest.raises(InputError, match=rf"{name}: {message}"):
        read_items(write(tmp_path, name, data))


def test_an_empty_parquet_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    pd.DataFrame({"id": pd.Series([], dtype=str), "text": pd.Series([], dtype=str)}).to_parquet(path)
    with pytest.raises(InputError, match=r"items\.parquet: holds no items"):
        read_items(path)


def test_in_memory_sources_may_be_empty() -> None:
    assert list(read_items([])) == []  # a program's empty list is not a file mistake


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "semi.csv",
            "id;text\n1;late\n",
            r"the header line 'id;text' has no comma; \.csv items are comma-separated",
        ),
        ("tabs.csv", "id\ttext\n1\tlate\n", r".* has no comma; .*name a tab-separated file \.tsv"),
        (
            "commas.tsv",
            "id,text\n1,late\n",
            r"the header line 'id,text' has no tab; \.tsv items are tab-separated",
        ),
    ],
)
def test_a_table_with_the_wrong_delimiter_is_one_clear_error(
    tmp_path: Path, name: str, data: str, message: str
) -> None:
    with pytest.raises(InputError, match=rf"{name}: {message}"):
        read_items(write(tmp_path, name, data))


def test_jsonl_without_the_named_id_or_text_field_is_one_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "items.jsonl", JSONL)
    with pytest.raises(
        InputError,
        match=r"items\.jsonl: no 'idnet' field in the first 2 items \(fields: id, text\); .* --id-col",
    ):
        read_items(path, id_col="idnet")
    with pytest.raises(
        InputError, match=r"no 'bdy' field in the first 2 items \(fields: id, text\); .*--text-col"
    ):
        read_items(path, text_col="bdy")
    no_ids = write(tmp_path, "no-ids.jsonl", '{"item_id": 1, "text": "x"}\n')
    with pytest.raises(InputError, match=r"no 'id' field in the only item \(fields: item_id, text\)"):
        read_items(no_ids)


def test_a_field_some_rows_lack_is_per_row_error_records(tmp_path: Path) -> None:
    """One row without the field is that row's error record; the file is fine."""
    path = write(tmp_path, "items.jsonl", '{"id": "1", "body": "a"}\n{"id": "2", "text": "b"}\n')
    first, second = read_items(path, text_col="body")
    assert isinstance(first, Item) and first.text == "a"
    assert isinstance(second, BadItem) and "no 'body' field (--text-col)" in second.reason
