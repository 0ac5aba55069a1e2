"""Vendor-facing guideline documents rendered from the SOP the model reads (one source of truth).

The document shows the label tree as an outline (table of contents with an anchor per label id), each label's
definition, include and exclude lines (an exclusion links to the label to use instead), the numbered rules,
the edge cases with their rulings, examples grouped by language, and the change log when the SOP has one.
HTML is self-contained (inline CSS and an inline search script, no external URL: it opens offline and prints
well); Markdown suits wikis.

    >>> import prelabel
    >>> sop = prelabel.bundled_sop("customer_feedback_intent")
    >>> html = prelabel.render_guideline(sop)
    >>> 'id="label-logistics.late_delivery"' in html and 'href="#rule-R1"' in html
    True
    >>> prelabel.render_guideline(sop, format="md").splitlines()[0]
    '# Buyer feedback intent'
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from prelabel._documents import render_document
from prelabel._jsonio import write_text
from prelabel.authoring._templates import output_path
from prelabel.errors import InputError
from prelabel.sop.spec import SOP, Example, Label

__all__ = [
    "GUIDELINE_TEMPLATES",
    "GuidelineFormat",
    "anchor",
    "guideline_format",
    "render_guideline",
    "write_guideline",
]

GuidelineFormat = Literal["html", "md"]
#: The template each format renders with (in the top-level ``doc_templates/``; a released one is never
#: edited).
GUIDELINE_TEMPLATES: dict[str, str] = {"html": "guideline.html.v1", "md": "guideline.md.v1"}
_NO_LANGUAGE = "unspecified"


def anchor(kind: Literal["label", "rule", "case"], ident: str) -> str:
    """The anchor of a label, rule or edge case in a guideline (``label-a.b``, ``rule-R1``, ``case-E1``)."""
    return f"{kind}-{ident}"


def _wanted(language: str | None, wanted: str | None) -> bool:
    return wanted is None or language is None or language.lower() == wanted.lower()


def _examples(examples: list[Example], wanted: str | None) -> list[dict[str, Any]]:
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        if _wanted(example.language, wanted):
            groups[example.language or _NO_LANGUAGE].append(example)
    return [{"language": lang, "examples": items} for lang, items in sorted(groups.items())]


def _label_view(label: Label, sop: SOP, depth: int, wanted: str | None) -> dict[str, Any]:
    return {
        "id": label.id,
        "name": label.name or label.id.rsplit(".", 1)[-1].replace("_", " "),
        "anchor": anchor("label", label.id),
        "depth": depth,
        "is_leaf": label.is_leaf,
        "exclusive": label.exclusive,
        "definition": label.definition,
        "include": label.include,
        "exclude": [
            {"text": e.text, "use": e.use, "anchor": anchor("label", e.use) if e.use else None}
            for e in label.exclude
        ],
        "example_groups": _examples(label.examples, wanted),
        "edge_cases": [c.id for c in sop.edge_cases if label.id in c.label and _wanted(c.language, wanted)],
        "children": [_label_view(child, sop, depth + 1, wanted) for child in label.children],
    }


def _flatten(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for view in views for v in (view, *_flatten(view["children"]))]


def guideline_context(sop: SOP, language: str | None = None) -> dict[str, Any]:
    """What the guideline templates see: the SOP as plain data with anchors (SOP text stays data)."""
    tree = [_label_view(label, sop, 1, language) for label in sop.labels]
    cases = [c for c in sop.edge_cases if _wanted(c.language, language)]
    return {
        "sop": sop,
        "language": language,
        "multi_label": sop.multi_label,
        "tree": tree,
        "labels": _flatten(tree),
        "rules": [
            {
                "id": r.id,
                "text": r.text,
                "anchor": anchor("rule", r.id),
                "cases": [c.id for c in cases if r.id in c.rules],
            }
            for r in sop.rules
        ],
        "edge_cases": [
            {
                "id": c.id,
                "anchor": anchor("case", c.id),
                "text": c.text,
                "ruling": c.ruling,
                "language": c.language,
                "labels": c.label,
                "rules": c.rules,
            }
            for c in cases
        ],
        "changelog": sop.changelog,
    }


def guideline_format(path: str | Path, format: str | None = None) -> GuidelineFormat:
    """``format`` checked, or guessed from the file name (``.md``/``.markdown`` → md, otherwise html)."""
    chosen = format or ("md" if Path(path).suffix.lower() in (".md", ".markdown") else "html")
    if chosen not in GUIDELINE_TEMPLATES:
        raise InputError(f"unknown guideline format '{chosen}'; use html or md")
    return chosen  # type: ignore[return-value]


def render_guideline(sop: SOP, format: GuidelineFormat = "html", *, language: str | None = None) -> str:
    """The annotator guideline for ``sop`` as HTML (self-contained) or Markdown.

    ``language`` keeps only the examples and edge cases in that language (and those with none).
    """
    if format not in GUIDELINE_TEMPLATES:
        raise InputError(f"unknown guideline format '{format}'; use html or md")
    return render_document(GUIDELINE_TEMPLATES[format], **guideline_context(sop, language))


def write_guideline(
    sop: SOP,
    path: str | Path,
    format: GuidelineFormat | None = None,
    *,
    language: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the guideline to ``path`` (format from the suffix unless given); refuse to replace a file unless
    ``overwrite``."""
    chosen = guideline_format(path, format)
    out = output_path(path, overwrite)
    write_text(out, render_guideline(sop, chosen, language=language))
    return out
