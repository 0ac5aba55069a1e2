"""The one reader of the tables prelabel compares and scores: human labels, model results exported as CSV,
answer keys, ambiguity candidates. (Items files have their own streamed reader, `prelabel.inputs.reading`.)

CSV and TSV cells are read as text, empty cells as ``""`` (``007`` stays ``007``; `prelabel.inputs.ids`
decides what is one id), a BOM is dropped and spaces after a delimiter are skipped; Parquet keeps its types.
A file that is wrong as a whole is one ``InputError`` line naming what it should hold: missing, empty,
UTF-16, ragged (``FILE:LINE: expected 3 fields, got 5``) or unparsable.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "key.csv"
    >>> _ = path.write_text("\\ufeffitem_id, label\\n007, a\\n", encoding="utf-8")
    >>> read_table(path, "answer key").to_dict("records")
    [{'item_id': '007', 'label': 'a'}]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prelabel.errors import InputError
from prelabel.inputs.file_checks import check_not_wide_text
from prelabel.inputs.ragged import check_fields

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_table"]


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV (``.tsv``/``.tab``: tab-separated) or Parquet file as a DataFrame; ``what`` names what it should
    hold in error messages ("human labels", "answer key")."""
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        sep = "\t" if suffix in (".tsv", ".tab") else ","
        check_not_wide_text(path)  # UTF-16 read as UTF-8 is "expected 3 fields, got 1"
        check_fields(path, sep, skipinitialspace=True)  # "FILE:LINE: expected 3 fields, got 5"
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig", skipinitialspace=True
        )
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install 'prelabel[parquet]'") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: {what} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        raise InputError(f"{path}: cannot read {what}: {message}") from None
