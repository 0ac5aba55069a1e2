"""How the comparator reads its input files: ``pandas`` (Python's JSON and CSV readers) or ``duckdb``.

DuckDB reads ``labels.jsonl`` and Parquet files — local paths, patterns such as ``humans/*.parquet``, and URLs
(``s3://``, ``gs://``, every protocol fsspec has a package for, through fsspec; else DuckDB's own readers) —
column by column on every core, keeps only the columns the comparator uses and hands them over through Arrow
(with pandas ≥ 3 text columns stay Arrow strings, not Python objects): the 1 M-item ``labels.jsonl`` of the
benchmark is read in about a second. The counting after reading is the same code for both engines, so every
figure, table and report is the same.

``auto`` (the default) uses DuckDB for inputs of at least `AUTO_BYTES` when it is installed
(``pip install 'prelabel[duckdb]'``) and pandas otherwise. Lists, objects and columns of mixed kinds (an id
written as a number in some lines and as text in others) are decoded once per distinct value, as Python's
JSON reader gives them. A file DuckDB would read differently from the pandas reader is read by the pandas
reader, whatever the engine: a cut-off last line (a crash's; the pandas reader skips it with its warning),
a broken line (the pandas reader names it). CSV files and vendor exports are always read by the pandas reader.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prelabel.errors import InputError
from prelabel.runs.run_dir import RunDir

if TYPE_CHECKING:
    import duckdb

__all__ = ["AUTO_BYTES", "ENGINES", "check_engine", "duckdb_table", "engine_hint", "is_glob", "wants_duckdb"]

ENGINES = ("auto", "pandas", "duckdb")
#: ``auto`` reads input files at least this big (together) with DuckDB, when it is installed.
AUTO_BYTES = 64 * 2**20
#: Columns of model results the comparator reads (the rest of a ``labels.jsonl`` line is not read).
RESULT_READ = (
    "item_id",
    "id",
    "status",
    "label",
    "labels",
    "confidence",
    "cited_rules",
    "samples",
    "label_prob",
    "rationale",
    "model",
    "sop_id",
    "sop_version",
)
#: Columns whose cells are JSON lists or objects: decoded once per distinct value, as Python's reader would.
_NESTED = ("labels", "cited_rules", "samples")
_SCALAR_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "UBIGINT", "DOUBLE", "FLOAT", "BOOLEAN", "NULL", "DECIMAL")
_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
_INSTALL = "pip install 'prelabel[duckdb]'"
#: Rows a text column's distinct values are counted in: under 1 % distinct there, it is read as categorical.
_SAMPLE = 100_000


def check_engine(engine: str) -> str:
    """``engine`` if it is one of `ENGINES` (``InputError`` otherwise; ``duckdb`` must be installed)."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    if engine == "duckdb" and not _installed():
        raise InputError(f"--engine duckdb needs DuckDB: {_INSTALL}")
    return engine


def is_glob(source: object) -> bool:
    """Whether ``source`` is a path pattern (``*``, ``?``, ``[``) or a URL only DuckDB reads."""
    text = str(source) if isinstance(source, str | Path) else ""
    return any(c in text for c in "*?[") or "://" in text


def wants_duckdb(engine: str, sources: Iterable[object]) -> bool:
    """Whether the files among ``sources`` are read with DuckDB under ``engine``."""
    files = [s for s in sources if isinstance(s, str | Path)]
    if engine == "pandas" or not files:
        return False
    if engine == "duckdb" or any(is_glob(s) for s in files):
        return True
    return _installed() and sum(_size(Path(s)) for s in files) >= AUTO_BYTES


def engine_hint(engine: str, sources: Iterable[object]) -> str | None:
    """What to install when ``auto`` read big files with pandas for want of DuckDB (else ``None``)."""
    files = [Path(s) for s in sources if isinstance(s, str | Path) and not is_glob(s)]
    big = sum(_size(p) for p in files)
    if engine != "auto" or _installed() or big < AUTO_BYTES:
        return None
    return (
        f"these inputs ({big / 2**20:,.0f} MB) are read faster and in less memory by DuckDB: {_INSTALL} "
        "(then --engine auto uses it)"
    )


def _size(path: Path) -> int:
    if path.is_dir():
        path = RunDir(path).labels
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _installed() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def _paths(source: str | Path, what: str) -> list[str]:
    """The files ``source`` names: itself, or what its pattern matches (``InputError`` when none)."""
    text = str(source)
    if not any(c in text for c in "*?["):
        return [text]
    fs = _filesystem(text)
    if fs is not None:
        protocol = text.split("://", 1)[0]
        found = sorted(p if "://" in p else f"{protocol}://{p.lstrip('/')}" for p in fs.glob(text))
    else:
        found = sorted(glob.glob(text, recursive=True))
    if not found:
        raise InputError(f"{text}: no {what} file matches this pattern")
    return found


def _filesystem(url: str) -> Any:
    """The fsspec file system of ``url``'s protocol (``s3://``: s3fs, ``gs://``: gcsfs, ...), or ``None``
    for a local path, without fsspec or the protocol's package (DuckDB's own readers then try)."""
    if "://" not in url:
        return None
    try:
        import fsspec

        return fsspec.filesystem(url.split("://", 1)[0])
    except (ImportError, ValueError):
        return None


def duckdb_table(source: str | Path, what: str, columns: tuple[str, ...] | None) -> pd.DataFrame | None:
    """``source`` (a JSON lines or Parquet file or pattern) read by DuckDB, with ``columns`` (all when
    ``None``) that it has; ``None`` when the pandas reader must read it (see the module docstring)."""
    paths = _paths(source, what)
    suffixes = {Path(p.split("?")[0]).suffix.lower() for p in paths}
    if len(suffixes) != 1 or not suffixes <= {*_JSON_SUFFIXES, ".parquet"}:
        if is_glob(source):
            kinds = ", ".join(sorted(suffixes))
            raise InputError(
                f"{source}: a pattern reads JSON lines or Parquet files of one kind, got {kinds}"
            )
        return None
    if not _installed():
        raise InputError(f"{source}: reading a file pattern or URL needs DuckDB: {_INSTALL}")
    json_lines = suffixes <= set(_JSON_SUFFIXES)
    cut = [p for p in paths if json_lines and "://" not in p and _last_line_cut(Path(p))]
    if cut and is_glob(source):  # the pandas reader skips it in one file; a pattern says which file
        raise InputError(
            f"{cut[0]}: the last line is cut off (as after a crash): rerun its `prelabel run` to complete "
            "it, or compare that file alone (its cut-off line is then skipped with a warning)"
        )
    if cut:
        return None
    con = _connect()
    fs = _filesystem(paths[0])
    if fs is not None:  # DuckDB reads the URL through fsspec
        con.register_filesystem(fs)
    try:
        return _read(con, paths, json_lines, columns, what)
    except _PandasReads as why:
        if is_glob(source):
            raise InputError(f"{source}: {why}") from None
        return None
    except InputError:
        raise
    except (
        Exception
    ) as exc:  # a line DuckDB cannot parse, a file it cannot open: the pandas reader says which
        if is_glob(source):
            message = " ".join(str(exc).split())
            raise InputError(f"{source}: cannot read {what}: {message}") from None
        return None
    finally:
        con.close()


class _PandasReads(Exception):
    """A column DuckDB would read differently from the pandas reader."""


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect(config={"threads": 2, "memory_limit": "1GB", "preserve_insertion_order": True})


def _quoted(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _read(
    con: duckdb.DuckDBPyConnection,
    paths: list[str],
    json_lines: bool,
    columns: tuple[str, ...] | None,
    what: str,
) -> pd.DataFrame:
    files = _quoted(paths)
    if not json_lines and len(paths) > 1:
        _same_layout(con, paths, what)
    scan = (
        f"read_json({files}, format='newline_delimited', union_by_name=true)"
        if json_lines
        else f"read_parquet({files}, union_by_name=true)"
    )
    schema = dict(_describe(con, scan))
    keep = [c for c in schema if columns is None or c in columns]
    decode: set[str] = set()  # columns read as JSON text and decoded once per distinct value
    if json_lines:
        types = {}
        for name in keep:
            kind = schema[name]
            if name in _NESTED or kind.split("(")[0] not in _SCALAR_TYPES:
                # lists and objects, and a column of mixed kinds (a number here, text there): each cell
                # as Python's JSON reader gives it
                types[name] = "JSON"
                decode.add(name)
            else:
                types[name] = kind
        spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        scan = f"read_json({files}, format='newline_delimited', union_by_name=true, columns={spec})"
    select = ", ".join(_column(name, name in decode) for name in keep)
    frame = _fetch(con, f"SELECT {select} FROM {scan}")
    if frame.empty:
        raise _PandasReads("the files it matches hold no rows")  # one file: the pandas reader says so
    for name in decode:
        frame[name] = _decoded(frame[name])
    frame.attrs["source"] = str(paths[0]) if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} files)"
    return frame


def _same_layout(con: duckdb.DuckDBPyConnection, paths: list[str], what: str) -> None:
    """``InputError`` naming the first Parquet file whose columns differ from the first file's (read from
    the files' footers): a pattern reads files of one layout, not a mix that would leave cells empty."""
    first = None
    for path in paths:
        columns = {row[0] for row in _describe(con, f"read_parquet({_quoted([path])})")}
        if first is None:
            first = columns
        elif columns != first:
            missing, extra = sorted(first - columns), sorted(columns - first)
            raise InputError(
                f"{path}: its columns differ from those of {paths[0]} (missing: {', '.join(missing) or '-'}; "
                f"extra: {', '.join(extra) or '-'}): a pattern reads {what} files of one layout"
            )


def _describe(con: duckdb.DuckDBPyConnection, scan: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]


def _column(name: str, as_text: bool) -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    if as_text:
        return f"CAST({quoted} AS VARCHAR) AS {quoted}"
    return quoted


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The query's rows as a DataFrame (through Arrow: text stays in Arrow's buffers with pandas ≥ 3); a
    text column of few distinct values (status, labels, models, annotators, markets) becomes categorical."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = con.sql(sql).to_arrow_table()
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and len(column):
            sample = column.slice(0, _SAMPLE)
            if pc.count_distinct(sample).as_py() <= len(sample) // 100:
                table = table.set_column(index, name, pc.dictionary_encode(column))
    return table.unify_dictionaries().to_pandas(self_destruct=True, split_blocks=True)


def _decoded(column: pd.Series) -> np.ndarray:
    """JSON text cells as the lists and objects they hold (decoded once per distinct text)."""
    values = pd.Categorical(column)
    decoded: list[Any] = [json.loads(text) for text in values.categories]
    table = np.empty(len(decoded) + 1, dtype=object)
    table[: len(decoded)] = decoded
    table[-1] = None  # a missing cell (code -1)
    return table[values.codes]


def _last_line_cut(path: Path) -> bool:
    """Whether the file's last non-blank line is not whole JSON (as a crash mid-write leaves it)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            tail = b""
            while size > 0:
                step = min(size, 1 << 16)
                size -= step
                handle.seek(size)
                tail = handle.read(step) + tail
                stripped = tail.rstrip()
                if b"\n" in stripped or size == 0:
                    break
    except OSError:
        return True  # the pandas reader says why it cannot be read
    last = tail.rstrip().rsplit(b"\n", 1)[-1]
    try:
        json.loads(last)
    except ValueError:
        return True
    return False
