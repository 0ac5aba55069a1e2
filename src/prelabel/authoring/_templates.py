"""The files authoring reads and writes: output paths made ready, and text tables (calibration key, answers).

Documents (guideline, doc-diff) render with ``prelabel._documents`` from the top-level ``doc_templates/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prelabel._jsonio import make_parents
from prelabel.comparison.run_info import refuse_overwrite
from prelabel.errors import InputError
from prelabel.inputs.file_checks import check_not_wide_text
from prelabel.inputs.ragged import check_fields

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["output_path", "read_text_table"]


def output_path(path: str | Path, overwrite: bool = False) -> Path:
    """``path`` made ready for writing: not a directory, not an existing file unless ``overwrite``."""
    out = Path(path)
    refuse_overwrite([out], overwrite)
    return make_parents(out)


def read_text_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV file with every cell as text (empty cells as ``""``); a missing or unreadable file is an
    ``InputError`` naming ``what`` it should hold."""
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    check_not_wide_text(path)
    check_fields(path)  # a ragged row is "FILE:LINE: expected 3 fields, got 5", not an id read from a label
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from None
