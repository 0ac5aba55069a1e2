"""Reading items: every row yields an Item or a BadItem with a reason, in input order."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from prelabel import BadItem, InputError, Item, read_items


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def reasons(entries: list[Item | BadItem]) -> list[str | None]:
    return [e.reason if isinstance(e, BadItem) else None for e in entries]


JSONL = "\n".join(
    [
        '{"id": "a1", "text": "Where is my parcel?", "language": "en"}',
        '{"id": "a2", "text": "Broken", "market": "ID", "meta": {"vendor": "v1"}}',
        "not json",
        "[1, 2]",
        '"just a string"',
        '{"id": "a1", "text": "duplicate"}',
        '{"text": "no id"}',
        '{"id": "a3", "text": "   "}',
        "",
        '{"id": 7, "text": "numeric id"}',
        '{"id": "a4", "images": ["https://example.com/x.png"]}',
        '{"id": "a5", "text": "x", "images": 5}',
    ]
)


def test_jsonl_every_row_is_accounted_for(tmp_path: Path) -> None:
    entries = list(read_items(write(tmp_path, "items.jsonl", JSONL)))
    assert len(entries) == 11  # 12 lines, one blank
    assert [e.index for e in entries if isinstance(e, BadItem)] == [2, 3, 4, 5, 6, 7, 10]
    assert reasons(entries) == [
        None,
        None,
        "line 3: invalid JSON: Expecting value at column 1",
        "line 4: expected an object, got a list",
        "line 5: expected an object, got text",
        "line 6: duplicate id 'a1' (first at line 1)",
        "line 7: id: Field required",
        "line 8: item has neither text nor images",
        None,
        None,
        "line 12: images: Input should be a valid list",
    ]
    a1, a2 = entries[0], entries[1]
    assert isinstance(a1, Item) and isinstance(a2, Item)
    assert (a1.id, a1.text, a1.language) == ("a1", "Where is my parcel?", "en")
    assert a2.meta == {"market": "ID", "vendor": "v1"}  # unknown fields are kept in meta
    assert entries[5].item_id == "a1"  # type: ignore[union-attr]
    assert entries[8].id == "7"  # type: ignore[union-attr]
    assert entries[9].images == ["https://example.com/x.png"]  # type: ignore[union-attr]


def test_jsonl_non_utf8_line_is_a_bad_item(tmp_path: Path) -> None:
    path = write(tmp_path, "items.jsonl", b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "\xff"}\n')
    entries = list(read_items(path))
    assert isinstance(entries[0], Item)
    assert reasons(entries)[1] == "line 2: line is not UTF-8 text"


def test_csv_with_renamed_columns_and_meta(tmp_path: Path) -> None:
    csv_text = (
        "review_id,body,market,images\n"
        "r1,Late parcel,ID,\n"
        "r2,,TH,\n"
        "r3,Photo only,VN,a.png;b.png\n"
        "r1,dup,ID,\n"
        ",no id,ID,\n"
    )
    path = write(tmp_path, "items.csv", csv_text)
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    entries = list(read_items(path, id_col="review_id", text_col="body"))
    assert reasons(entries) == [
        None,
        "line 3: item has neither text nor images",
        None,
        "line 5: duplicate id 'r1' (first at line 2)",
        "line 6: id: Field required",
    ]
    r1, r3 = entries[0], entries[2]
    assert isinstance(r1, Item) and isinstance(r3, Item)
    assert (r1.id, r1.text, r1.meta) == ("r1", "Late parcel", {"market": "ID"})
    # image paths relative to the items file resolve against its folder when the file exists there
    assert r3.images == [str(tmp_path / "a.png"), "b.png"]


def test_parquet_and_dataframe(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [1.0, 2.0, None], "text": ["one", None, "three"], "score": [0.5, 1.0, None]})
    path = tmp_path / "items.parquet"
    frame.to_parquet(path)
    for source in (path, frame):
        entries = list(read_items(source))
        assert reasons(entries) == [
            None,
            "row 2: item has neither text nor images",
            "row 3: id: Field required",
        ]
        first = entries[0]
        assert isinstance(first, Item) and first.id == "1" and first.meta == {"score": 0.5}


def test_json_array_file(tmp_path: Path) -> None:
    path = write(tmp_path, "items.json", json.dumps([{"id": "x", "text": "hi"}, 5]))
    assert reasons(list(read_items(path))) == [None, "item 2: expected an object, got a number"]


def test_lists_of_dicts_strings_and_items() -> None:
    entries = list(read_items([{"id": "a", "text": "hi"}, "bare text", Item(id="c", text="ok"), None]))
    assert [e.id if isinstance(e, Item) else None for e in entries] == ["a", "1", "c", None]
    assert reasons(entries)[3] == "row 4: expected an object, got null"


def test_max_items_counts_rows_good_or_bad(tmp_path: Path) -> None:
    entries = list(read_items(write(tmp_path, "items.jsonl", JSONL), max_items=4))
    assert len(entries) == 4


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "items file not found"), ("items.xlsx", "unknown items format '.xlsx'")],
)
def test_unusable_sources_raise_input_error_at_once(tmp_path: Path, name: str, message: str) -> None:
    if name.endswith(".xlsx"):
        write(tmp_path, name, "x")
    with pytest.raises(prelabel.InputError, match=message):
        read_items(tmp_path / name)  # raised on the call, not on first iteration


def test_directory_and_bad_json_file(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="is a directory"):
        read_items(tmp_path)
    with pytest.raises(prelabel.InputError, match="must hold a list"):
        read_items(write(tmp_path, "one.json", '{"id": "a"}'))


def test_an_empty_csv_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"empty\.csv: is empty; there are no items to label"):
        read_items(write(tmp_path, "empty.csv", ""))


def test_a_table_without_the_id_or_text_column_is_one_clear_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("id,body\n1,late parcel\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"items.csv: no text column 'text' \(columns: id, body\); .*--text-col"
    ):
        read_items(csv_path)
    (item,) = read_items(csv_path, text_col="body")
    assert isinstance(item, Item) and item.text == "late parcel"
    with pytest.raises(InputError, match=r"the DataFrame: no id column 'review_id' \(columns: id, text\)"):
        read_items(pd.DataFrame({"id": ["1"], "text": ["x"]}), id_col="review_id")
    images_only = tmp_path / "images.csv"
    images_only.write_text("id,images\n1,https://example.com/a.png\n", encoding="utf-8")
    assert len(list(read_items(images_only))) == 1  # images stand in for text


def test_named_id_and_text_columns_never_fall_back_to_fields_called_id_and_text(tmp_path: Path) -> None:
    """`--text-col body` on a row without `body` is an error record, not an item labeled from its `text` field
    (nor, in a CSV, from a `text` column); such a field is kept in meta."""
    path = write(
        tmp_path,
        "items.jsonl",
        '{"id": "1", "body": "real text", "text": "a title"}\n{"id": "2", "text": "only a title"}\n',
    )
    first, second = read_items(path, text_col="body")
    assert isinstance(first, Item) and (first.text, first.meta) == ("real text", {"text": "a title"})
    assert isinstance(second, BadItem)
    assert (second.reason, second.item_id) == ("line 2: no 'body' field (--text-col)", "2")
    csv_path = write(tmp_path, "items.csv", "id,text,images\n1,a title,https://example.com/a.png\n")
    (only,) = read_items(csv_path, text_col="body")  # images stand in for the text: labeled from the image
    assert isinstance(only, Item) and only.text is None and only.meta == {"text": "a title"}
    (row,) = read_items([{"id": "7", "text": "x"}], id_col="review_id")
    assert isinstance(row, BadItem) and row.reason == "row 1: no 'review_id' field (--id-col)"


def test_a_csv_row_that_is_not_utf8_is_an_error_record_and_the_rest_are_read(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"id,text\n1,fine\n2,caf\xe9 latin-1\n3,also fine\n")
    entries = list(read_items(path))
    assert [type(e).__name__ for e in entries] == ["Item", "BadItem", "Item"]
    assert isinstance(entries[1], BadItem) and "line 3: row is not UTF-8 text" in entries[1].reason
    bad_header = tmp_path / "header.csv"
    bad_header.write_bytes(b"id,t\xe9xt\n1,x\n")
    with pytest.raises(InputError, match="header line is not UTF-8"):
        list(read_items(bad_header))


@pytest.mark.parametrize("name", ["items.csv", "items.tsv"])
def test_a_long_text_in_a_csv_is_read_like_one_in_jsonl(tmp_path: Path, name: str) -> None:
    # the csv module stops at 131,072 characters a field: a 40k-token review was an unreadable row, no id
    import csv

    previous = csv.field_size_limit(131_072)  # the default, whatever an earlier test set
    try:
        sep = "\t" if name.endswith(".tsv") else ","
        text = " ".join(["word"] * 60_000)
        path = write(tmp_path, name, f"id{sep}text\nlong{sep}{text}\nshort{sep}hi\n")
        entries = list(read_items(path))
    finally:
        csv.field_size_limit(previous)
    assert [type(e).__name__ for e in entries] == ["Item", "Item"]
    assert isinstance(entries[0], Item) and entries[0].id == "long" and entries[0].text == text
