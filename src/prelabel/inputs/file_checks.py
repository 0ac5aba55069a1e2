"""Checks on an items file as a whole, before any item is labeled: what is wrong with the file is one clear
error (exit 2), not one error record per row that a run would count as done.

Refused: an empty file (or one with a header and no rows); UTF-16/UTF-32 text; a JSON array in a ``.jsonl``
file; a ``.csv`` whose header has no comma (``;``-separated, say) or a ``.tsv`` whose header has no tab; a
JSON(L) file none of whose first items has the id field, or the text field (``--id-col``/``--text-col``).

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "items.jsonl"
    >>> _ = path.write_text('[{"id": 1, "text": "a"}]')
    >>> check_items_file(path)
    Traceback (most recent call last):
    prelabel.errors.InputError: ...items.jsonl: holds a JSON array, not one object per line; name it .json...
"""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prelabel.errors import InputError

__all__ = ["HEAD_ROWS", "check_head", "check_items_file", "check_not_wide_text"]

#: How many rows ``check_head`` looks at for the id and text fields.
HEAD_ROWS = 100
_WIDE = (
    ("UTF-32", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),
    ("UTF-16", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
)
_SMALL = 1 << 20  # files this small are read whole to see whether they hold only whitespace


def check_items_file(path: Path) -> None:
    """Raise ``InputError`` when ``path`` cannot hold items as it is (see the module docstring)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return
    with path.open("rb") as handle:
        head = handle.read(4)
        first_line = head + handle.readline()
    _refuse_wide(path, head)
    size = path.stat().st_size
    if size == 0 or (size <= _SMALL and not path.read_bytes().strip()):
        raise InputError(f"{path}: is empty; there are no items to label")
    if suffix in (".jsonl", ".ndjson"):
        _refuse_json_array(path, first_line)
    elif suffix in (".csv", ".tsv"):
        header = first_line.decode("utf-8", "replace").strip()
        delimiter, kind = ("\t", "tab") if suffix == ".tsv" else (",", "comma")
        if delimiter not in header:
            hint = "name a tab-separated file .tsv" if "\t" in header else f"save it {kind}-separated"
            raise InputError(
                f"{path}: the header line {header[:80]!r} has no {kind}; {suffix} items are "
                f"{kind}-separated ({hint})"
            )


def check_not_wide_text(path: Path) -> None:
    """Raise ``InputError`` when ``path`` is UTF-16 or UTF-32 text (human labels, answer keys, results): read
    as UTF-8 it would be one mangled column, or "expected 3 fields, got 1"."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return  # the reader says what is wrong with a file it cannot open
    _refuse_wide(path, head)


def _refuse_wide(path: Path, head: bytes) -> None:
    encoding = _wide_encoding(head)
    if encoding:
        raise InputError(
            f"{path}: is {encoding} text; save it as UTF-8 (PowerShell: Out-File -Encoding utf8)"
        )


def _wide_encoding(head: bytes) -> str | None:
    for name, boms in _WIDE:
        if head.startswith(boms):
            return name
    if len(head) == 4 and 0 not in (head[0], head[2]) and head[1] == head[3] == 0:
        return "UTF-16"  # little-endian without a byte-order mark: 'i\0d\0'
    if len(head) == 4 and 0 not in (head[1], head[3]) and head[0] == head[2] == 0:
        return "UTF-16"
    return None


def _refuse_json_array(path: Path, first_line: bytes) -> None:
    text = first_line.decode("utf-8-sig", "replace").strip()
    if not text.startswith("["):
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None  # an array spread over several lines
    if value is None or _rest_is_blank(path, len(first_line)):
        raise InputError(
            f"{path}: holds a JSON array, not one object per line; name it .json (a list of items), or "
            "write one object per line"
        )


def _rest_is_blank(path: Path, offset: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(offset)
        for line in handle:
            if line.strip():
                return False
    return True


def check_head(
    rows: Iterator[tuple[str, Any]], name: str, id_col: str, text_col: str
) -> Iterator[tuple[str, Any]]:
    """``rows`` unchanged, after reading the first ``HEAD_ROWS``: raise ``InputError`` when there are none,
    or when objects are among them and none has the id field (or the text field, ``images`` or ``video``)."""
    head = list(itertools.islice(rows, HEAD_ROWS))
    if not head:
        raise InputError(f"{name}: holds no items; there is nothing to label")
    objects = [row for _, row in head if isinstance(row, dict)]
    if objects:
        fields = list(dict.fromkeys(key for row in objects for key in row))
        have = ", ".join(map(str, fields[:20])) + (", ..." if len(fields) > 20 else "")
        first = f"the first {len(head)} items" if len(head) > 1 else "the only item"
        if not any(id_col in row for row in objects):
            raise InputError(
                f"{name}: no '{id_col}' field in {first} (fields: {have}); name yours with --id-col"
            )
        if not any(text_col in row or "images" in row or "video" in row for row in objects):
            raise InputError(
                f"{name}: no '{text_col}' field in {first} (fields: {have}); name yours with --text-col"
            )
    return itertools.chain(head, rows)
