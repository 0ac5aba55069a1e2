"""Where the data folders at the top of the repository live: ``sop_specs/``, ``prompts/``, ``doc_templates/``
and ``examples/``.

The SOPs and templates SOP authors edit (prompt templates in ``prompts/``, the templates of documents for
people — guideline, doc-diff, compare report — in ``doc_templates/``), and the example items and human labels
of the README's Quickstart (which ``prelabel demo`` labels), sit at the top of the repository (one copy each)
and ship inside the wheel as ``prelabel/sop_specs``, ``prelabel/prompts``, ``prelabel/doc_templates`` and
``prelabel/examples`` (hatchling ``force-include``). An editable install (``pip install -e .``) puts ``src/``
on ``sys.path`` instead, where they are absent: then they are read from the checkout, two levels above this
file.

    >>> data_dir("prompts").joinpath("classify.v1.jinja").is_file()
    True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

__all__ = ["data_dir"]

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: Literal["sop_specs", "prompts", "doc_templates", "examples"]) -> Path:
    """The folder of the bundled SOPs, prompt templates, document templates or examples, in a wheel or an
    editable checkout."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(  # a broken install: neither the wheel's copy nor a checkout's
        f"prelabel's {name}/ folder is in neither {_PACKAGE} nor the source checkout; reinstall prelabel"
    )
