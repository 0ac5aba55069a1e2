"""The files authoring writes: output paths made ready (tables are read by ``prelabel.inputs.tables``).

Documents (guideline, doc-diff) render with ``prelabel._documents`` from the top-level ``doc_templates/``.
"""

from __future__ import annotations

from pathlib import Path

from prelabel._jsonio import make_parents
from prelabel.comparison.run_info import refuse_overwrite

__all__ = ["output_path"]


def output_path(path: str | Path, overwrite: bool = False) -> Path:
    """``path`` made ready for writing: not a directory, not an existing file unless ``overwrite``."""
    out = Path(path)
    refuse_overwrite([out], overwrite)
    return make_parents(out)
