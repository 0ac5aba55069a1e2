"""Writing big tables as CSV: the bytes pandas' CSV writer writes (``index=False``), several times faster, and
atomically (`prelabel._jsonio`).

pandas formats a CSV cell by cell in Python objects (10 s for the 450,000 rows × 18 columns of a 1 M-item
``disagreements.csv``). With pyarrow installed, each column is formatted once as an Arrow string array —
floats as Python's ``repr`` (what pandas writes), booleans ``True``/``False``, missing values empty, text
quoted where the csv module's minimal quoting quotes it (a comma, a double quote or a newline inside) — and
the rows are joined by Arrow's compute kernels. Without pyarrow, or for a column type not handled here
(dates, ...), or a one-column table (whose empty cell the csv module quotes), pandas writes the file.
``tests/test_csvio.py`` holds this writer to pandas' bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prelabel._jsonio import atomic_open, atomic_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["write_csv"]

#: Rows formatted and written at a time (bounds the memory of the formatted text).
_ROWS = 200_000


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """``frame`` as pandas writes it without the index: the same bytes (UTF-8, ``\\n``), atomically."""
    if not _arrow_writes(frame):
        with atomic_path(path) as temp:
            frame.to_csv(temp, index=False)
        return
    with atomic_open(path, newline="") as out:  # no newline translation: the bytes as formatted
        out.write(",".join(_quoted_text(str(c)) for c in frame.columns) + "\n")
        for start in range(0, len(frame), _ROWS):
            out.write(_rows(frame.iloc[start : start + _ROWS]))


def _arrow_writes(frame: pd.DataFrame) -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return frame.shape[1] >= 2 and all(_handled(frame[c]) for c in frame.columns)


def _handled(column: pd.Series) -> bool:
    kind = column.dtype.kind
    return kind in "fbiuO" or str(column.dtype) in ("str", "string", "category")


def _quoted_text(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _rows(frame: pd.DataFrame) -> str:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(frame) == 0:
        return ""
    cells = [_cells(frame[c]) for c in frame.columns]
    newline = pa.scalar("\n", pa.large_string())
    lines = pc.binary_join_element_wise(*cells, pa.scalar(",", pa.large_string()))
    lines = pc.binary_join_element_wise(lines, newline, pa.scalar("", pa.large_string()))
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[int(offsets[0]) : int(offsets[-1])].decode("utf-8")


def _cells(column: pd.Series) -> Any:
    """One column's cells as CSV text (an Arrow large string array without nulls)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.dtype.kind
    if kind == "f":  # Python's repr, once per distinct value
        values = column.to_numpy(dtype=float)
        distinct, where = np.unique(values, return_inverse=True)
        text = pa.array([repr(v) for v in distinct.tolist()], pa.large_string())
        return pc.fill_null(pa.array(text.take(pa.array(where.ravel())), mask=np.isnan(values)), "")
    if kind == "b":
        return pa.array(np.where(column.to_numpy(dtype=bool), "True", "False"), pa.large_string())
    if kind in "iu":
        return pc.cast(pa.array(column.to_numpy()), pa.large_string())
    if isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype):  # Arrow's own strings
        array = pc.cast(pa.array(column.array), pa.large_string())
    else:
        values = column.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) == "string":  # text: each distinct value once
            codes, distinct = pd.factorize(values, use_na_sentinel=True)
            array = pa.array(list(distinct), pa.large_string()).take(pa.array(codes, mask=codes < 0))
        else:  # mixed Python objects (1 and True are equal keys, not equal text): str() of each
            missing = column.isna().to_numpy(dtype=bool)
            text = [v if type(v) is str else str(v) for v in values]
            array = pa.array(text, pa.large_string(), mask=missing)
    array = pc.fill_null(array, "")
    needs = pc.or_(
        pc.or_(pc.match_substring(array, ","), pc.match_substring(array, '"')),
        pc.match_substring(array, "\n"),
    )
    if not pc.any(needs).as_py():
        return array
    quote = pa.scalar('"', pa.large_string())
    quoted = pc.binary_join_element_wise(
        quote, pc.replace_substring(array, '"', '""'), quote, pa.scalar("", pa.large_string())
    )
    return pc.if_else(needs, quoted, array)
