"""A CSV whose rows do not all have the header's number of fields is a broken file, not a few bad rows:
every cell after a stray delimiter or quote lands in the wrong column (an item id read from a label).
Items files (``run``) and human labels (``compare``, ``agreement``) are checked before any work.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "humans.csv"
    >>> _ = path.write_text("item_id,annotator,label\\n1,a,x\\n1,b,x,y,z\\n")
    >>> check_fields(path)
    Traceback (most recent call last):
    prelabel.errors.InputError: ...humans.csv:3: expected 3 fields, got 5
"""

from __future__ import annotations

import csv
from pathlib import Path

from prelabel.errors import InputError

__all__ = ["check_fields", "lift_field_limit"]

#: The largest CSV field read (the ``csv`` module's default, 131,072 characters, is a long review or a short
#: document: far under ``--max-item-tokens``, which is what bounds an item's size).
FIELD_LIMIT = 2**31 - 1


def lift_field_limit() -> None:
    """Let the ``csv`` module read fields up to ``FIELD_LIMIT`` characters (a process-wide setting)."""
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)


def check_fields(path: Path, delimiter: str = ",", *, skipinitialspace: bool = False) -> None:
    """Raise ``InputError("FILE:LINE: expected N fields, got M")`` for the first row whose number of fields
    differs from the header's; blank rows are skipped, rows the ``csv`` module cannot parse are left to the
    reader. One streamed pass (about 0.4 s per million rows)."""
    lift_field_limit()
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, skipinitialspace=skipinitialspace)
        try:
            header = next(reader, None)
        except csv.Error:
            return
        if header is None:
            return
        expected, line = len(header), reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                line = reader.line_num
                continue
            if len(row) != expected and any(cell.strip() for cell in row):
                raise InputError(f"{path}:{line + 1}: expected {expected} fields, got {len(row)}")
            line = reader.line_num
