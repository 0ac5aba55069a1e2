"""Documents for people, rendered from the templates in the top-level ``doc_templates/`` (apart from the
prompt templates in ``prompts/``): the annotator guideline, the doc-diff and the compare report.

One sandboxed jinja environment renders them all. SOP text, item text and every other value are data:
``.html.`` templates autoescape every value, and Markdown templates pass free text through the ``md`` filter,
which backslash-escapes Markdown syntax (and ``<``/``>``, so a wiki never runs markup taken from an SOP).

    >>> md_escape("use *bold* <b>")
    'use \\\\*bold\\\\* \\\\<b\\\\>'
    >>> "report.html.v1" in document_templates()
    True
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment

from prelabel._resources import data_dir
from prelabel.errors import TemplateError

__all__ = ["document_templates", "md_escape", "render_document"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
_SUFFIX = ".jinja"


def md_escape(text: object) -> str:
    """Backslash-escape the characters Markdown (and wiki HTML) would interpret."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _is_html(name: str | None) -> bool:
    return name is not None and ".html." in f".{name}"


@cache
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(data_dir("doc_templates")),
        undefined=StrictUndefined,
        autoescape=_is_html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def document_templates() -> list[str]:
    """Names of the document templates (``guideline.html.v1``, ``report.html.v1``, ...)."""
    root = data_dir("doc_templates")
    return sorted(p.name.removesuffix(_SUFFIX) for p in root.iterdir() if p.name.endswith(_SUFFIX))


def render_document(name: str, **context: Any) -> str:
    """Render ``doc_templates/<name>.jinja`` with ``context``; ``.html.`` templates escape every value."""
    if "/" in name or "\\" in name:
        raise TemplateError(f"unknown document template '{name}' (names, not paths)")
    try:
        return _environment().get_template(name + _SUFFIX).render(**context)
    except TemplateNotFound:
        where = data_dir("doc_templates")
        raise TemplateError(f"unknown document template '{name}' (not in {where})") from None
    except JinjaTemplateError as exc:
        raise TemplateError(f"template '{name}' failed to render: {exc}") from exc
