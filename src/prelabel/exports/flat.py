"""Flat files for spreadsheets and warehouses: one row per result line, nested fields as columns.

``usage`` becomes ``prompt_tokens``/``completion_tokens``/``cached_tokens``, ``error`` becomes ``error_type``/
``error_message``, and ``model_version`` is added; the item's ``text`` and ``language`` join when the items
file is known (without one, or for lines whose item it lacks, a warning says what is missing). CSV cells hold
lists as ``;``-separated text; JSONL and Parquet keep them as lists. The ``samples`` distribution of a
self-consistency run stays a mapping in JSONL; CSV and Parquet hold JSON text. CSV text cells that a
spreadsheet would run as a formula (starting with ``= + - @``, a tab or a carriage return) start with ``'``
(``csv_safe``); JSONL and Parquet keep every value as it is.

    >>> row = flat_row({"item_id": "a", "status": "ok", "label": "x", "usage": {"prompt_tokens": 3},
    ...                 "error": None, "sop_id": "s", "sop_version": "1", "model": "m",
    ...                 "prompt_hash": "sha256:ab"})
    >>> row["prompt_tokens"], row["error_type"], row["model_version"]
    (3, None, 'prelabel:s@1:m:ab')
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prelabel._jsonio import atomic_path, write_text
from prelabel.exports.exporter import Exporter
from prelabel.exports.records import RunExport, model_version

__all__ = ["Csv", "Jsonl", "Parquet", "csv_safe", "flat_row", "write_flat"]


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """A result line with ``usage`` and ``error`` flattened and ``model_version`` added."""
    out = {k: v for k, v in row.items() if k not in ("usage", "error", "route")}
    out |= {k: v for k, v in (row.get("usage") or {}).items()}
    error = row.get("error") or {}
    out["error_type"], out["error_message"] = error.get("type"), error.get("message")
    if isinstance(row.get("route"), dict):
        out |= {f"route_{k}": v for k, v in row["route"].items()}
    out["model_version"] = model_version(row)
    return out


#: What a spreadsheet reads as the start of a formula (OWASP "CSV injection"): such CSV cells get a ``'``.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_safe(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text: text starting with ``= + - @``, a tab or a
    carriage return gets a leading ``'`` (OWASP's advice against CSV injection); a number written as text
    (``-5``, ``+1.5``) stays as it is, and so does anything that is not text.

        >>> csv_safe("=1+1"), csv_safe("@SUM(A1)"), csv_safe("- a bullet"), csv_safe("-5"), csv_safe(-5)
        ("'=1+1", "'@SUM(A1)", "'- a bullet", '-5', -5)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    return csv_safe(";".join(map(str, value)) if isinstance(value, list) else _mapping(value))


def _mapping(value: Any) -> Any:
    """A mapping cell (the ``samples`` distribution) as JSON text: one column type, read back by compare."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


def write_flat(run: RunExport, out: Path, fmt: str) -> list[Path]:
    """Write ``out`` as CSV, JSONL or Parquet (Parquet needs ``prelabel[parquet]``)."""
    import pandas as pd

    rows = []
    without: list[str] = []
    for row in run.rows:
        flat = flat_row(row)
        item = run.items.get(str(row["item_id"]))
        if item is not None:
            flat |= {"text": item.text, "language": item.language}
        elif run.items_missing is None:
            without.append(str(row["item_id"]))
        rows.append(flat)
    if run.items_missing is not None:
        run.warnings.append(
            f"{run.items_missing}: the export has no text or language columns; pass --items FILE to add them"
        )
    elif without:
        run.warnings.append(
            f"{len(without)} result lines have no item in the items file: their text and language are empty "
            f"({', '.join(without[:5])}{', ...' if len(without) > 5 else ''})"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        write_text(out, text)
        return [out]
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        with atomic_path(out) as temp:
            frame.map(_cell).to_csv(temp, index=False)
    else:
        from prelabel.errors import InputError

        try:
            with atomic_path(out) as temp:
                frame.map(_mapping).to_parquet(temp, index=False)
        except ImportError:
            raise InputError("Parquet export needs pyarrow: run `pip install 'prelabel[parquet]'`") from None
    return [out]


class _Flat(Exporter):
    def export(self, run: RunExport, out: Path) -> list[Path]:
        """Write every result line, flattened."""
        return write_flat(run, out, self.name)


class Csv(_Flat):
    """``--format csv``."""

    name, suffix = "csv", ".csv"
    description = "one row per result line; lists as ;-separated text"


class Jsonl(_Flat):
    """``--format jsonl``."""

    name, suffix = "jsonl", ".jsonl"
    description = "one JSON object per result line"


class Parquet(_Flat):
    """``--format parquet`` (needs ``prelabel[parquet]``)."""

    name, suffix = "parquet", ".parquet"
    description = "one row per result line (needs pyarrow: the parquet extra)"
