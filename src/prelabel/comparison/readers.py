"""Reading what the comparator compares: model results and human labels, as plain DataFrames.

Result lines of a run (``labels.jsonl``) come from the run directory's one reader, ``runs.labels``
(a cut-off last line is skipped with its warning, as in every command); CSV/Parquet exports are read here.

Loaders are lossless and light: they check and normalise column names and leave values as given (CSV cells are
read as text, so ``007`` stays ``007``). `prelabel.compare` compares ids as text, normalised by
`prelabel.inputs.ids.normalize_id` (``7``, ``7.0`` and ``"7"`` match), decides what is skipped and counts
why; per-row work is done once per distinct value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from prelabel.comparison.engines import RESULT_READ, duckdb_table, is_glob, wants_duckdb
from prelabel.comparison.wide import melt_wide
from prelabel.errors import InputError
from prelabel.inputs.ids import normalize_ids
from prelabel.inputs.tables import read_table
from prelabel.runs.labels import read_labels
from prelabel.runs.run_dir import RunDir
from prelabel.vendors.labels import HUMANS_FORMATS, VENDOR_COLUMNS, detect_format, is_json, read_vendor_labels

if TYPE_CHECKING:
    from prelabel.sop.spec import SOP

__all__ = [
    "HUMAN_COLUMNS",
    "QA_COLUMNS",
    "RESULT_COLUMNS",
    "Ids",
    "as_list",
    "factorize_ids",
    "read_human_labels",
    "read_results",
    "result_status",
]

RESULT_COLUMNS = ["item_id", "status", "label", "labels", "confidence", "cited_rules", "samples"]
HUMAN_COLUMNS = ["item_id", "annotator", "label"]
#: Per-annotation columns vendor QA reads (`prelabel.comparison.vendor_qa`), kept in every human-labels
#: frame; the first four are never slices (``vendor`` and ``market`` are, unless ``--slice`` names others).
QA_COLUMNS = ("gold", "lead_time", "created_at", "vendor_task", "vendor", "market")
_ID_ALIASES = ("item_id", "id")


class Ids(NamedTuple):
    """Id codes, one array per column (-1 for a missing id), into ``index``, the distinct ids as text."""

    codes: list[np.ndarray]
    index: pd.Index


def factorize_ids(*columns: pd.Series) -> Ids:
    """Codes (one array per column) over the distinct ids of all columns, normalised by
    `prelabel.inputs.ids.normalize_id` (``7``, ``7.0``, ``"7.0"`` and ``" 7 "`` are one id, ``01`` another);
    missing or blank ids get -1. Work is per distinct value: one hash pass over the rows (a categorical
    column's codes are used as they are).
    """
    parts = [_factorized(c) for c in columns]
    sizes = np.cumsum([0, *(len(u) for _, u in parts)])
    uniques = np.concatenate([u for _, u in parts]) if parts else np.empty(0, object)
    text = pd.Series(normalize_ids(uniques), dtype=object)
    merged, index = pd.factorize(text, use_na_sentinel=True)
    table = np.append(merged, -1)
    codes = [
        table[np.where(c >= 0, c + sizes[k], -1)].astype(np.int64, copy=False)
        for k, (c, _) in enumerate(parts)
    ]
    return Ids(codes, pd.Index(index, dtype=object))


def _factorized(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: missing) and the distinct values of one id column."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # its codes, renumbered in order of appearance
        codes = np.asarray(column.array.codes, dtype=np.int64)
        seen = pd.unique(codes[codes >= 0])
        renumber = np.full(len(column.cat.categories) + 1, -1, dtype=np.int64)
        renumber[seen] = np.arange(len(seen))
        return renumber[codes], np.asarray(column.cat.categories, dtype=object)[seen]
    if isinstance(column.dtype, pd.StringDtype):  # Arrow strings: hashed without Python objects
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)
    codes, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _read_jsonl(path: Path) -> pd.DataFrame:
    lines = read_labels(path)  # a cut-off last line: skipped, with the same warning in every command
    frame = pd.DataFrame.from_records(lines.rows)
    if lines.cut_line:
        frame.attrs["truncated"] = 1
        frame.attrs["warnings"] = lines.warnings
    return frame


def _id_column(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    for name in _ID_ALIASES:
        if name in frame.columns:
            return frame.rename(columns={name: "item_id"}, copy=False) if name != "item_id" else frame
    found = ", ".join(map(str, frame.columns[:8])) or "none"
    raise InputError(f"{source}: no 'item_id' column (columns: {found})")


def result_status(values: pd.Series) -> np.ndarray:
    """Each result row's ``status`` as lower-case text; a missing status is ``ok`` (exports without it).
    Computed once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = np.array([str(u).strip().lower() for u in uniques] + ["ok"], dtype=object)
    return text[codes]


def as_list(value: Any) -> list[str] | None:
    """A list cell (``cited_rules``, ``labels``, ``samples``) as a list of text.

    Accepts lists (JSONL, Parquet arrays), ``;``-separated text and JSON-encoded lists (CSV exports);
    nested lists (multi-label samples) become ``;``-joined text. A mapping (or its JSON text) is a
    distribution of samples, ``{answer: count}`` as ``labels.jsonl`` stores it, and becomes each answer
    ``count`` times.

        >>> as_list({"a": 2, "b;c": 1}), as_list('{"a": 1}'), as_list([["b", "c"], "a"])
        (['a', 'a', 'b;c'], ['a'], ['b;c', 'a'])
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, Mapping):
        return [
            str(k) for k, n in value.items() if isinstance(n, int | float) and n == n for _ in range(int(n))
        ]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, list | dict):
                return as_list(decoded)
        return [part.strip() for part in text.split(";") if part.strip()]
    if isinstance(value, list | tuple | np.ndarray):
        return [";".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else str(v) for v in value]
    return [str(value)]


def read_results(source: str | Path | pd.DataFrame, engine: str = "pandas") -> pd.DataFrame:
    """Model results as a DataFrame with `RESULT_COLUMNS` (plus any other columns found).

    ``source`` is a ``labels.jsonl`` file, a run directory holding one, a CSV/Parquet export, or a DataFrame
    (with DuckDB, also a pattern such as ``runs/*/labels.jsonl``). Missing optional columns are added empty
    (``status`` defaults to ``ok``); list cells (``labels``, ``cited_rules``, ``samples``) may be lists or
    ``;``-separated text (see `as_list`). ``engine``: who reads the file (`prelabel.comparison.engines`;
    DuckDB reads only the columns the comparator uses).
    """
    if isinstance(source, pd.DataFrame):
        frame, name = source.copy(deep=False), str(source.attrs.get("source", "results"))
    else:
        path = Path(source)
        if path.is_dir():
            path = RunDir(path).labels
        if not is_glob(source) and not path.exists():
            raise InputError(f"{path}: no such model results file")
        name = str(source) if is_glob(source) else str(path)  # a pattern or URL as given
        found = duckdb_table(name, "model results", RESULT_READ) if wants_duckdb(engine, [source]) else None
        if found is None:  # the pandas readers
            _no_pattern(source)
            json_lines = path.suffix.lower() in (".jsonl", ".json", ".ndjson")
            found = _read_jsonl(path) if json_lines else read_table(path, "model results")
        frame = found
    if frame.empty:
        raise InputError(f"{name}: model results are empty")
    frame = _id_column(frame, name)
    for column in RESULT_COLUMNS[1:]:
        if column not in frame.columns:
            frame[column] = "ok" if column == "status" else None
    frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce")
    frame.attrs["source"] = name
    return frame


def read_human_labels(
    source: str | Path | pd.DataFrame,
    *,
    wide: bool = False,
    slices: list[str] | None = None,
    annotators: list[str] | None = None,
    sop: SOP | None = None,
    humans_format: str = "auto",
    votes: bool = False,
    engine: str = "pandas",
) -> pd.DataFrame:
    """Human labels in long form: ``item_id``, ``annotator``, ``label`` plus slice (and ``text``) columns.

    Long input has one row per (item, annotator); wide input (``wide=True``) has ``item_id`` and one column
    per annotator: ``annotators`` names them, else they are inferred (a column none of whose values is a
    label — of ``sop`` if given — is a slice; see `prelabel.comparison.wide`) and the split is noted in
    ``frame.attrs["notes"]``. Labels are stripped text (``;``-separated for multi-label); an empty wide cell
    means that annotator did not label the item.

    ``humans_format`` (``auto``: from the content): ``table`` (CSV/TSV/Parquet), or a vendor tool's export
    as the tool writes it — ``label-studio`` (JSON), ``label-studio-min`` (JSON_MIN), ``label-studio-csv``,
    ``argilla`` (records with responses; a ``Dataset.to_disk`` directory too); see
    `prelabel.vendors.labels`. An export adds ``gold``, ``lead_time``, ``created_at`` and ``vendor_task``
    where it has them, and says what is not a vote in ``attrs["notes"]``/``attrs["warnings"]``.
    ``votes=True`` keeps only the votes (what compare, agreement, route and calibration score count): gold
    annotations are left out (noted) and the export's extra columns dropped. ``engine``: who reads a
    Parquet or JSON lines table (`prelabel.comparison.engines`; with DuckDB a pattern such as
    ``humans/*.parquet`` reads every file it matches).
    """
    if humans_format not in HUMANS_FORMATS:
        raise InputError(f"humans format must be one of {', '.join(HUMANS_FORMATS)}, got '{humans_format}'")
    found = None
    if not isinstance(source, pd.DataFrame) and humans_format in ("auto", "table"):
        found = _duckdb_humans(source, engine)
    if found is not None:
        frame, name = found, str(found.attrs["source"])
    elif isinstance(source, pd.DataFrame):
        frame, name = source.copy(deep=False), "human labels"
    else:
        _no_pattern(source)
        path = Path(source)
        if not path.is_file() and not (path / "records.json").is_file():
            raise InputError(f"{path}: no such human labels file")
        kind = humans_format  # auto: a JSON file is detected as it is read (parsed once), a CSV by its header
        if kind == "auto" and not is_json(path):
            kind = detect_format(path)
        if kind != "table":
            if wide or annotators:
                what = "a vendor export" if kind == "auto" else f"a {kind} export"
                raise InputError(f"{path}: --wide and --annotator are for tables; this is {what}")
            return _vendor_frame(read_vendor_labels(path, kind, sop=sop), slices, votes)
        frame, name = read_table(path, "human labels"), str(path)
    if frame.empty:
        raise InputError(f"{name}: human labels are empty (no rows)")
    frame = _id_column(frame, name)
    frame.columns = [str(c) for c in frame.columns]
    keep = [c for c in (slices or []) if c in frame.columns] + (["text"] if "text" in frame.columns else [])
    missing = [c for c in (slices or []) if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: slice column(s) not found: {', '.join(missing)}")
    if annotators and not wide:
        raise InputError(f"{name}: annotator columns are for wide form; pass --wide, or drop --annotator")
    notes: list[str] = []
    if wide:
        vocabulary = None if sop is None else {*sop.label_index, sop.abstain.label}
        frame, note = melt_wide(frame, name, slices=slices, annotators=annotators, vocabulary=vocabulary)
        notes.append(note)
    else:
        absent = [c for c in HUMAN_COLUMNS if c not in frame.columns]
        if absent:
            hint = " (wide form? pass --wide)" if "annotator" in absent else ""
            raise InputError(f"{name}: missing column(s) {', '.join(absent)}{hint}")
        if slices is None:
            keep = [c for c in frame.columns if c not in HUMAN_COLUMNS]
        qa = [c for c in QA_COLUMNS if c in frame.columns and c not in keep]
        columns = [*HUMAN_COLUMNS, *[c for c in [*keep, *qa] if c not in HUMAN_COLUMNS]]
        if list(frame.columns) != columns:
            frame = frame[columns]
        frame.attrs["not_slices"] = _not_slices(frame, slices)
    frame.attrs["source"] = name
    frame.attrs["notes"] = notes
    return frame


def _no_pattern(source: object) -> None:
    if is_glob(source):
        raise InputError(f"{source}: reading a file pattern or URL needs the DuckDB engine (--engine duckdb)")


def _duckdb_humans(source: str | Path, engine: str) -> pd.DataFrame | None:
    """Human labels in a Parquet file (or a pattern) read by DuckDB under ``engine``; else ``None``."""
    if not wants_duckdb(engine, [source]):
        return None
    if not is_glob(source) and not Path(source).is_file():
        raise InputError(f"{source}: no such human labels file")
    if Path(str(source).split("?")[0]).suffix.lower() != ".parquet":
        if is_glob(source):
            raise InputError(f"{source}: a pattern of human labels names Parquet files (*.parquet)")
        return None  # CSV, TSV and vendor exports: the pandas readers
    return duckdb_table(source, "human labels", None)


def _not_slices(frame: pd.DataFrame, slices: list[str] | None) -> list[str]:
    """The `QA_COLUMNS` of ``frame`` that are not slices: the first four always, ``vendor`` and ``market``
    when ``slices`` names others."""
    return [c for c in QA_COLUMNS if c in frame.columns and (c in QA_COLUMNS[:4] or c not in (slices or [c]))]


def _vendor_frame(frame: pd.DataFrame, slices: list[str] | None, votes: bool) -> pd.DataFrame:
    """A vendor export's frame: slices must be its columns; ``votes``: gold rows and extra columns out."""
    name = frame.attrs["source"]
    missing = [c for c in (slices or []) if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: slice column(s) not found: {', '.join(missing)}")
    if frame.empty:
        why = "; ".join(frame.attrs["warnings"] + frame.attrs["notes"])
        raise InputError(f"{name}: no usable human label in the export ({why})")
    if not votes:  # vendor QA reads gold, lead_time, created_at: kept, and never slices
        frame.attrs["not_slices"] = _not_slices(frame, slices)
        return frame
    attrs = frame.attrs
    if "gold" in frame.columns and frame["gold"].any():
        frame = frame[~frame["gold"].astype(bool)]
    frame = frame.drop(columns=[c for c in VENDOR_COLUMNS if c not in (slices or [])], errors="ignore")
    frame.attrs = attrs
    return frame.reset_index(drop=True)
