"""A griffe extension for the site's Python API pages (``mkdocs.yml``): doctest examples become code blocks.

prelabel's docstrings are Markdown prose whose examples are doctests (``>>>`` lines, run by
``tests/test_docs.py``). In Markdown a ``>>>`` line is a blockquote three deep; this fences each run of
doctest lines (up to the next blank line) as a ``pycon`` code block: an interpreter session, as it is.
"""

from __future__ import annotations

from typing import Any

import griffe

FENCE = "```"


def fence_doctests(text: str) -> str:
    """``text`` with each doctest example (a ``>>>`` line and the lines after it, up to a blank line or a
    line indented less), dedented, in a ``pycon`` fence; code fences of the docstring's own are left
    as they are (tests/test_site.py)."""
    lines = text.splitlines()
    out: list[str] = []
    fenced = False  # inside a code fence of the docstring's own
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(FENCE):
            fenced = not fenced
        if fenced or not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(stripped)
        block = []
        while i < len(lines) and lines[i].strip() and not lines[i][:indent].strip():
            block.append(lines[i][indent:])
            i += 1
        if out and out[-1].strip():
            out.append("")
        out += [f"{FENCE}pycon", *block, FENCE]
        if i < len(lines):
            out.append("")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctest examples of every docstring griffe reads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring as it is read."""
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
