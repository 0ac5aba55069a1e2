"""The files authoring writes: output paths made ready (tables are read by ``prelabel.inputs.tables``).

Documents (guideline, doc-diff) render with ``prelabel._documents`` from the top-level ``doc_templates/``.
"""

from __future__ import annotations

from pathlib import Path

from prelabel._jsonio import check_output, make_parents

__all__ = ["output_path"]


def output_path(path: str | Path, overwrite: bool = False) -> Path:
    """``path`` made ready for writing: not a directory, not an existing file unless ``overwrite``, in a
    folder that takes files (``check_output``); its parent folders are created."""
    return make_parents(check_output(path, overwrite=overwrite))
