"""Vendor-facing guideline documents rendered from the SOP the model reads (one source of truth).

The document shows the label tree as an outline (table of contents with an anchor per label id), each label's
definition, include and exclude lines (an exclusion links to the label to use instead), the numbered rules,
the edge cases with their rulings, examples grouped by language (with their images and a thumbnail strip of
their video, embedded, when the SOP's examples name media), and the change log when the SOP has one.
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

import base64
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from prelabel._documents import render_document
from prelabel._jsonio import write_text
from prelabel.authoring._templates import output_path
from prelabel.errors import InputError
from prelabel.inputs.image_header import image_size
from prelabel.inputs.media import MediaError, MediaPolicy, check_media, is_url, local_path
from prelabel.inputs.video import data_uri, thumbnails
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
_MAX_EMBEDDED = 5 * 1024 * 1024  # an example image embedded in the HTML guideline at most
_IMAGE_TYPES = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"RIFF": "image/webp",
}


def anchor(kind: Literal["label", "rule", "case"], ident: str) -> str:
    """The anchor of a label, rule or edge case in a guideline (``label-a.b``, ``rule-R1``, ``case-E1``)."""
    return f"{kind}-{ident}"


def _wanted(language: str | None, wanted: str | None) -> bool:
    return wanted is None or language is None or language.lower() == wanted.lower()


def _examples(examples: list[Example], wanted: str | None, root: Path | None) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for example in examples:
        if _wanted(example.language, wanted):
            shown = {"text": example.text, "note": example.note, "media": _example_media(example, root)}
            groups[example.language or _NO_LANGUAGE].append(shown)
    return [{"language": lang, "examples": items} for lang, items in sorted(groups.items())]


def _example_media(example: Example, root: Path | None) -> list[dict[str, Any]]:
    """An example's images and video as the guideline shows them: ``ref``, embedded ``uris`` (an image, or
    a video's thumbnails with their ``times``) and a ``note`` when it cannot be embedded. Local paths
    resolve inside ``root`` (the SOP file's folder); URLs are named, never fetched or linked."""
    shown = []
    for kind, ref in [
        *(("image", r) for r in example.images),
        *([("video", example.video)] * bool(example.video)),
    ]:
        assert ref is not None
        view: dict[str, Any] = {"kind": kind, "ref": ref, "uris": [], "times": [], "note": None}
        shown.append(view)
        if is_url(ref) and local_path(ref) is None:
            view["note"] = f"{kind} at {ref} (not embedded)"
            continue
        try:
            path = check_media(ref, root, MediaPolicy(root=root), kind)
            if kind == "video":
                frames = thumbnails(path, policy=MediaPolicy(root=root))
                view["uris"] = [data_uri(f) for f in frames]
                view["times"] = [f"{f.timestamp:.1f} s" for f in frames]
            else:
                view["uris"] = [_image_uri(Path(path))]
        except (MediaError, OSError, ValueError) as exc:
            view["note"] = f"{kind} {ref}: {getattr(exc, 'strerror', None) or exc}"
    return shown


def _image_uri(path: Path) -> str:
    if path.stat().st_size > _MAX_EMBEDDED:
        raise ValueError("larger than 5 MB, not embedded")
    data = path.read_bytes()
    mime = next((m for magic, m in _IMAGE_TYPES.items() if data.startswith(magic)), None)
    if mime is None or image_size(data) is None:
        raise ValueError("not a PNG, JPEG, GIF or WEBP image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _label_view(label: Label, sop: SOP, depth: int, wanted: str | None, root: Path | None) -> dict[str, Any]:
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
        "example_groups": _examples(label.examples, wanted, root),
        "edge_cases": [c.id for c in sop.edge_cases if label.id in c.label and _wanted(c.language, wanted)],
        "children": [_label_view(child, sop, depth + 1, wanted, root) for child in label.children],
    }


def _flatten(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for view in views for v in (view, *_flatten(view["children"]))]


def guideline_context(
    sop: SOP, language: str | None = None, media_root: str | Path | None = None
) -> dict[str, Any]:
    """What the guideline templates see: the SOP as plain data with anchors (SOP text stays data);
    examples' local media resolve inside ``media_root`` (the SOP file's folder; default: the current one)."""
    root = Path(media_root) if media_root is not None else None
    tree = [_label_view(label, sop, 1, language, root) for label in sop.labels]
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


def render_guideline(
    sop: SOP,
    format: GuidelineFormat = "html",
    *,
    language: str | None = None,
    media_root: str | Path | None = None,
) -> str:
    """The annotator guideline for ``sop`` as HTML (self-contained) or Markdown.

    ``language`` keeps only the examples and edge cases in that language (and those with none);
    ``media_root`` is the folder the examples' media paths are relative to (the SOP file's).
    """
    if format not in GUIDELINE_TEMPLATES:
        raise InputError(f"unknown guideline format '{format}'; use html or md")
    return render_document(GUIDELINE_TEMPLATES[format], **guideline_context(sop, language, media_root))


def write_guideline(
    sop: SOP,
    path: str | Path,
    format: GuidelineFormat | None = None,
    *,
    language: str | None = None,
    overwrite: bool = False,
    media_root: str | Path | None = None,
) -> Path:
    """Write the guideline to ``path`` (format from the suffix unless given); refuse to replace a file unless
    ``overwrite``. ``media_root``: see `render_guideline`."""
    chosen = guideline_format(path, format)
    out = output_path(path, overwrite)
    write_text(out, render_guideline(sop, chosen, language=language, media_root=media_root))
    return out
