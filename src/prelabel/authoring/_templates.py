"""Sandboxed rendering of the authoring templates (top-level ``prompts/``), and the files authoring writes.

SOP text is data: HTML templates autoescape it, and the ``md`` filter backslash-escapes Markdown syntax (and
``<``/``>``, so a wiki never runs markup taken from an SOP).

    >>> md_escape("use *bold* <b>")
    'use \\\\*bold\\\\* \\\\<b\\\\>'
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment

from prelabel._jsonio import make_parents
from prelabel._resources import data_dir
from prelabel.comparison.run_info import refuse_overwrite
from prelabel.errors import TemplateError

__all__ = ["md_escape", "output_path", "render_template"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(text: object) -> str:
    """Backslash-escape the characters Markdown (and wiki HTML) would interpret."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


@cache
def _environment(html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``prompts/<name>.jinja``; ``.html.`` templates escape every value."""
    path = data_dir("prompts") / f"{name}.jinja"
    if not path.is_file():
        raise TemplateError(f"unknown template '{name}' (not in {path.parent})")
    env = _environment(".html." in f".{name}.")
    try:
        return env.from_string(path.read_text(encoding="utf-8")).render(**context)
    except JinjaTemplateError as exc:
        raise TemplateError(f"template '{name}' failed to render: {exc}") from exc


def output_path(path: str | Path, overwrite: bool = False) -> Path:
    """``path`` made ready for writing: not a directory, not an existing file unless ``overwrite``."""
    out = Path(path)
    refuse_overwrite([out], overwrite)
    return make_parents(out)
