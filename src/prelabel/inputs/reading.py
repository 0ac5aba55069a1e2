"""Read items from JSONL, JSON, CSV, Parquet, a DataFrame or a list — never dropping a row.

Every input row yields either an ``Item`` or a ``BadItem`` carrying the reason (no id, no text or images,
duplicate id, invalid JSON line, not an object, ...), in input order, so labeling can turn bad rows into
error records.
Fields other than ``id``, ``text``, ``images``, ``language`` and ``meta`` go into ``meta``.

    >>> rows = list(read_items([{"id": 1, "text": "hi", "market": "ID"}, {"text": "no id"}]))
    >>> rows[0].id, rows[0].meta
    ('1', {'market': 'ID'})
    >>> rows[1].reason
    'row 2: id: Field required'
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prelabel.errors import InputError, ItemError
from prelabel.inputs.file_checks import check_head, check_items_file
from prelabel.inputs.ids import normalize_id
from prelabel.inputs.items import Item, as_item
from prelabel.inputs.media import MediaError, MediaPolicy, check_media
from prelabel.inputs.ragged import check_fields, lift_field_limit

__all__ = ["BadItem", "coerce_item", "read_items"]

_ITEM_FIELDS = ("id", "text", "images", "video", "transcript", "ocr_text", "language", "meta")
_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq")


@dataclass(frozen=True)
class BadItem:
    """An input row that cannot be labeled; ``index`` is its 0-based position, ``reason`` one clear line."""

    index: int
    reason: str
    item_id: str | None = None


def read_items(
    source: str | Path | Iterable[Any],
    *,
    id_col: str = "id",
    text_col: str = "text",
    max_items: int | None = None,
    media: MediaPolicy | None = None,
) -> Iterator[Item | BadItem]:
    """Items from a file path (by suffix), a DataFrame or an iterable of dicts/strings/``Item``s.

    Raises ``InputError`` at once for an unusable source (missing file, unknown format, a table without the id
    or text column, a file failing ``inputs.file_checks``); bad rows are yielded as ``BadItem``. Media
    references are checked against ``media`` (default: confined to the items file's folder, or the current
    directory, no local-network URLs; ``prelabel.inputs.media``): a refused one makes the row a ``BadItem``.
    """
    rows = _rows(source, lambda columns: _check_columns(columns, id_col, text_col, source))
    if isinstance(source, str | Path):  # an empty file, or one without the id or text field: exit 2 now
        rows = check_head(rows, str(source), id_col, text_col)
    base = Path(source).parent if isinstance(source, str | Path) else None
    return _items(
        rows,
        id_col=id_col,
        text_col=text_col,
        max_items=max_items,
        base=base,
        strings=base is None,
        media=media or MediaPolicy(),
    )


def _check_columns(columns: list[str], id_col: str, text_col: str, source: Any) -> None:
    """A table (CSV, Parquet, DataFrame) must have the id column and a text (or ``images``) column."""
    name = str(source) if isinstance(source, str | Path) else "the DataFrame"
    have = ", ".join(columns) or "none"
    if id_col not in columns:
        raise InputError(f"{name}: no id column '{id_col}' (columns: {have}); name yours with --id-col")
    if text_col not in columns and "images" not in columns and "video" not in columns:
        raise InputError(f"{name}: no text column '{text_col}' (columns: {have}); name yours with --text-col")


def _rows(
    source: str | Path | Iterable[Any], check: Callable[[list[str]], None]
) -> Iterator[tuple[str, Any]]:
    """(where, raw row) pairs; ``where`` names the row in messages (``line 3``, ``row 2``). A table's column
    names go to ``check`` first."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: items file not found")
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected an items file ({', '.join(_SUFFIXES)})")
        suffix = path.suffix.lower()
        if suffix in _SUFFIXES:
            check_items_file(path)  # empty, UTF-16, a JSON array in .jsonl, a CSV without commas
        if suffix in (".jsonl", ".ndjson"):
            return _jsonl_rows(path)
        if suffix == ".json":
            return _json_rows(path)
        if suffix in (".csv", ".tsv"):
            return _csv_rows(path, "\t" if suffix == ".tsv" else ",", check)
        if suffix in (".parquet", ".pq"):
            frame = _read_parquet(path)
            check([str(c) for c in frame.columns])
            return _frame_rows(frame)
        raise InputError(f"{path}: unknown items format '{suffix}'; use one of {', '.join(_SUFFIXES)}")
    if hasattr(source, "to_dict") and hasattr(source, "columns"):
        check([str(c) for c in source.columns])
        return _frame_rows(source)
    if isinstance(source, Mapping):
        raise InputError("items must be a list of items, not a single mapping")
    return ((f"row {i + 1}", row) for i, row in enumerate(source))


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"line {number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield where, ItemError("line is not UTF-8 text")
                continue
            if not line.strip():
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, ItemError(f"invalid JSON: {exc.msg} at column {exc.colno}")


def _json_rows(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc}); use .jsonl for one object per line") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: a .json items file must hold a list of objects")
    return ((f"item {i + 1}", row) for i, row in enumerate(data))


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8


def _csv_rows(
    path: Path, delimiter: str, check: Callable[[list[str]], None] | None = None
) -> Iterator[tuple[str, Any]]:
    lift_field_limit()  # a long text is bounded by --max-item-tokens, not by the csv module's 128 KiB
    try:
        # bytes that are not UTF-8 become lone surrogates, so one bad row is an error record, not a lost file
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
    except (OSError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read CSV: {exc}") from None
    if header is None:
        handle.close()
        return iter(())  # an empty file: no items, no columns to check
    header = [h.strip() for h in header]
    if any(_NOT_UTF8.search(h) for h in header):
        handle.close()
        raise InputError(f"{path}: the header line is not UTF-8 text; save the file as UTF-8")
    try:
        if check is not None:
            check(header)
        check_fields(path, delimiter)  # a ragged row is a broken file: exit 2 before any work
    except InputError:
        handle.close()
        raise

    def rows() -> Iterator[tuple[str, Any]]:
        with handle:
            line = reader.line_num
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    yield f"line {line + 1}", ItemError(f"unreadable CSV row: {exc}")
                    line = reader.line_num
                    continue
                where = f"line {line + 1}"
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if any(_NOT_UTF8.search(v) for v in values):
                    yield where, ItemError("row is not UTF-8 text")
                    continue
                if len(values) != len(header):
                    yield where, ItemError(f"has {len(values)} fields, the header has {len(header)}")
                    continue
                yield where, {k: (v if v.strip() else None) for k, v in zip(header, values, strict=True)}

    return rows()


def _read_parquet(path: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install 'prelabel[parquet]'") from None
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet: {exc}") from None


def _plain(value: Any) -> Any:
    """pandas/numpy scalars and NaN as plain Python values."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _frame_rows(frame: Any) -> Iterator[tuple[str, Any]]:
    for i, row in enumerate(frame.to_dict(orient="records")):
        yield f"row {i + 1}", {str(k): _plain(v) for k, v in row.items()}


def _normalise(
    row: dict[str, Any], id_col: str, text_col: str, base: Path | None, media: MediaPolicy | None
) -> dict[str, Any]:
    row = dict(row)
    # a field named ``id`` or ``text`` is data, not the id or text, when other columns are named for them:
    # it goes to ``meta`` and a row without the named field is an error record, never labeled from the other
    renamed = {}
    for given, field in ((id_col, "id"), (text_col, "text")):
        if given != field:
            if field in row:
                renamed[field] = row.pop(field)
            if given in row:
                row[field] = row.pop(given)
    raw_id = row.get("id")
    if not isinstance(raw_id, list | dict):
        row["id"] = normalize_id(raw_id)  # the one id normalisation (prelabel.inputs.ids)
    if row.get("id") is None:
        row.pop("id", None)  # "id: Field required", not a type error
    images = row.get("images")
    if isinstance(images, str):
        text = images.strip()
        images = (
            json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(";") if p.strip()]
        )
    if isinstance(images, list) and media is not None:
        images = [check_media(ref, base, media, "images") if isinstance(ref, str) else ref for ref in images]
    if images is None:
        row.pop("images", None)
    else:
        row["images"] = images
    video = row.get("video")
    if isinstance(video, str) and video.strip() and media is not None:
        row["video"] = check_media(video.strip(), base, media, "video")
    for key in ("text", "video", "transcript", "ocr_text", "language", "meta"):
        if key in row and row[key] is None:
            row.pop(key)
    extra = {k: row.pop(k) for k in list(row) if k not in _ITEM_FIELDS} | renamed
    if extra:
        meta = row.get("meta")
        row["meta"] = (
            {**extra, **meta} if isinstance(meta, dict) else ({**extra, "meta": meta} if meta else extra)
        )
    return row


def coerce_item(
    row: Any,
    index: int = 0,
    *,
    where: str | None = None,
    id_col: str = "id",
    text_col: str = "text",
    base: Path | None = None,
    strings: bool = True,
    media: MediaPolicy | None = None,
) -> Item | BadItem:
    """One row as an ``Item`` (unknown fields folded into ``meta``) or a ``BadItem`` saying why not.

    ``where`` prefixes reasons (``line 3: ...``); bare strings become items (id = ``index``) when ``strings``.
    ``media`` checks the row's media references (``prelabel.inputs.media``); ``None`` checks none (relative
    paths are still joined to ``base``).
    """
    prefix = f"{where}: " if where else ""
    if isinstance(row, Item | BadItem):
        return row
    if isinstance(row, ItemError):
        return BadItem(index, f"{prefix}{row}")
    if isinstance(row, dict):
        raw = row
        try:
            row = _normalise(row, id_col, text_col, base, media or MediaPolicy(confine=False))
        except MediaError as exc:
            return BadItem(index, f"{prefix}{exc}", _id_of(raw, id_col))
        except (ValueError, TypeError) as exc:
            return BadItem(index, f"{prefix}images: {exc}", _id_of(raw, id_col))
        missing = [
            f"no '{given}' field ({flag})"
            for given, field, flag in ((id_col, "id", "--id-col"), (text_col, "text", "--text-col"))
            if given != field
            and given not in raw
            and not (field == "text" and (row.get("images") or row.get("video")))
        ]
        if missing:
            return BadItem(index, f"{prefix}{'; '.join(missing)}", _id_of(row, "id"))
    elif not (strings and isinstance(row, str)):
        return BadItem(index, f"{prefix}expected an object, got {_kind(row)}")
    try:
        return as_item(row, index)
    except ItemError as exc:
        return BadItem(index, f"{prefix}{exc}", exc.item_id)


def _items(
    rows: Iterator[tuple[str, Any]],
    *,
    id_col: str,
    text_col: str,
    max_items: int | None,
    base: Path | None,
    strings: bool,
    media: MediaPolicy,
) -> Iterator[Item | BadItem]:
    """Validate rows and flag repeated ids (the first row of an id, good or bad, is the item: every later
    row with that id, compared after ``normalize_id``, is a duplicate); bare strings are items only in
    in-memory lists, never in files."""
    seen: dict[str, str] = {}
    for index, (where, row) in enumerate(rows):
        if max_items is not None and index >= max_items:
            return
        entry = coerce_item(
            row, index, where=where, id_col=id_col, text_col=text_col, base=base, strings=strings, media=media
        )
        if isinstance(entry, Item) and entry.id in seen:
            reason = f"{where}: duplicate id '{entry.id}' (first at {seen[entry.id]})"
            entry = BadItem(index, reason, entry.id)
        key = entry.id if isinstance(entry, Item) else entry.item_id
        if key is not None:
            seen.setdefault(key, where)
        yield entry


def _id_of(row: dict[str, Any], id_col: str) -> str | None:
    value = row.get(id_col, row.get("id"))
    return None if isinstance(value, list | dict) else normalize_id(value)


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
