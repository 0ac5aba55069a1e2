"""Render an SOP and an item into chat messages with sandboxed jinja2 templates.

The system message carries the SOP and is byte-identical for every item (so providers can cache it); the user
message carries the item between marker lines chosen so the item text cannot contain them. Item text is passed
to templates as data and never compiled as template source.

    >>> from prelabel import bundled_sop, render
    >>> messages = render(bundled_sop("customer_feedback_intent"), {"id": "1", "text": "where is my parcel?"})
    >>> [m["role"] for m in messages]
    ['system', 'user']
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment

from prelabel._resources import data_dir
from prelabel.errors import ItemError, TemplateError
from prelabel.inputs.image_header import HEAD_BYTES, image_size
from prelabel.inputs.items import Item, as_item, is_image_file
from prelabel.inputs.media import MediaError, local_path
from prelabel.inputs.video import VideoSampling, plan_timestamps, probe_video, sample_frames, scaled_size
from prelabel.prompt.masking import Masked, MaskPolicy, mask_item, mask_policy
from prelabel.sop.spec import SOP

__all__ = [
    "DEFAULT_TEMPLATE",
    "MediaPart",
    "Prompt",
    "delimiters",
    "list_templates",
    "media_listed",
    "prompt_hash",
    "render",
    "render_prompt",
]

DEFAULT_TEMPLATE = "classify.v1"
Message = dict[str, Any]


@dataclass(frozen=True)
class MediaPart:
    """What one image part of the user message shows: an image of the item or a frame of its video (with its
    time in seconds), its size in pixels when known, and the bytes embedded (0 when not embedded)."""

    source: str
    kind: str  # "image" or "frame"
    width: int | None = None
    height: int | None = None
    timestamp: float | None = None
    size_bytes: int = 0

    def describe(self) -> str:
        """One line naming the part, shown by ``prelabel render`` instead of its base64 bytes."""
        size = f"{self.width}x{self.height}" if self.width and self.height else "size unknown"
        embedded = f", {self.size_bytes:,} bytes" if self.size_bytes else ""
        if self.kind == "frame":
            return f"frame at {self.timestamp:.2f} s of {self.source} ({size} JPEG{embedded})"
        return f"image {self.source} ({size}{embedded})"


@dataclass(frozen=True)
class Prompt:
    """Rendered messages plus what identifies them: template name and prompt hash; ``media`` describes the
    user message's image parts, in order; ``masked`` says what personal data the item's texts had replaced
    (``prompt.masking``; empty when nothing was)."""

    messages: list[Message]
    template: str
    prompt_hash: str
    media: tuple[MediaPart, ...] = ()
    masked: Masked = field(default_factory=lambda: Masked(""))


def list_templates() -> list[str]:
    """Names of the bundled templates (``classify.v1``, ...)."""
    root = data_dir("prompts")
    return sorted(p.name.removesuffix(".jinja") for p in root.iterdir() if p.name.endswith(".jinja"))


@cache
def _template_source(name: str) -> str:
    resource = data_dir("prompts") / f"{name}.jinja"
    if "/" in name or "\\" in name or not resource.is_file():
        raise TemplateError(f"unknown template '{name}'; bundled: {', '.join(list_templates())}")
    return resource.read_text(encoding="utf-8")


@cache
def _template_module(name: str) -> Any:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["quote"] = lambda text: json.dumps(str(text), ensure_ascii=False)
    try:
        return env.from_string(_template_source(name)).module
    except JinjaTemplateError as exc:
        raise TemplateError(f"template '{name}' is invalid: {exc}") from exc


_SYSTEM_CACHE: dict[tuple[str, str, str | None], str] = {}


def _system_message(sop: SOP, template: str, rationale_language: str | None) -> str:
    key = (sop.sha256, template, rationale_language)
    if key not in _SYSTEM_CACHE:
        try:
            _SYSTEM_CACHE[key] = str(_template_module(template).system(sop, rationale_language))
        except JinjaTemplateError as exc:
            raise TemplateError(f"template '{template}' failed to render the SOP: {exc}") from exc
    return _SYSTEM_CACHE[key]


def prompt_hash(sop: SOP, template: str = DEFAULT_TEMPLATE, rationale_language: str | None = None) -> str:
    """``sha256:<hex>`` of template name, template source and the rendered SOP system message."""
    lang = rationale_language if rationale_language is not None else sop.rationale_language
    return _prompt_hash(sop, template, lang)


_HASH_CACHE: dict[tuple[str, str, str, str | None], str] = {}


def _prompt_hash(sop: SOP, template: str, lang: str | None) -> str:
    source = _template_source(template)
    key = (sop.sha256, template, source, lang)  # once per SOP, not per item: the system message is ~10 kB
    if key in _HASH_CACHE:
        return _HASH_CACHE[key]
    digest = hashlib.sha256()
    for part in (template, source, _system_message(sop, template, lang)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    _HASH_CACHE[key] = "sha256:" + digest.hexdigest()
    return _HASH_CACHE[key]


def delimiters(text: str) -> tuple[str, str]:
    """Marker lines for ``text``: a tag derived from the text, lengthened until the text contains neither."""
    tag = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    size = 12
    while True:
        begin, end = f"<<<ITEM {tag[:size]}>>>", f"<<<END ITEM {tag[:size]}>>>"
        if tag[:size] not in text:
            return begin, end
        size += 4
        if size > len(tag):  # the text contains every prefix of its own hash: rehash
            tag = hashlib.sha256(tag.encode()).hexdigest()
            size = 12


_MAX_IMAGE_BYTES = 20 * 1024 * 1024  # the OpenAI limit per image
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def _image_type(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF and WEBP data (what vision models accept), from its first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC.items() if data.startswith(magic)), None)


def _image_part(ref: str, item: Item, embed: bool = True) -> tuple[Message, MediaPart]:
    """An image content part: URLs pass through, local files become base64 data URLs.

    With ``embed=False`` (token estimates) a local file is checked (size, type) but not read or encoded.
    """
    if not is_image_file(ref):
        return {"type": "image_url", "image_url": {"url": ref}}, MediaPart(ref, "image")
    path = local_path(ref) or Path(ref)
    try:
        if path.stat().st_size > _MAX_IMAGE_BYTES:
            raise ItemError(f"image '{ref}' is larger than 20 MB", item_id=item.id)
        if embed:
            data = path.read_bytes()
        else:
            with path.open("rb") as head:
                data = head.read(HEAD_BYTES)  # the magic bytes and the size
    except OSError as exc:
        raise ItemError(f"cannot read image '{ref}': {exc.strerror or exc}", item_id=item.id) from None
    mime = _image_type(data)
    if mime is None:
        guessed = mimetypes.guess_type(path.name)[0] or "unknown type"
        raise ItemError(f"'{ref}' is not a PNG, JPEG, GIF or WEBP image ({guessed})", item_id=item.id)
    width, height = image_size(data) or (None, None)
    if not embed:
        part = MediaPart(ref, "image", width, height)
        return {"type": "image_url", "image_url": {"url": path.resolve().as_uri()}}, part
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}, MediaPart(
        ref, "image", width, height, None, len(data)
    )


def _video_parts(item: Item, sampling: VideoSampling, embed: bool) -> tuple[list[Message], list[MediaPart]]:
    """A video's frames as image parts, each after a text part giving its time. ``embed=False``: frames
    planned from the header, not decoded."""
    ref = str(item.video)
    try:
        if embed:
            info, frames = sample_frames(ref, sampling)
            shown = [
                (f.timestamp, MediaPart(ref, "frame", f.width, f.height, f.timestamp, len(f.jpeg)))
                for f in frames
            ]
            urls = [f"data:image/jpeg;base64,{base64.b64encode(f.jpeg).decode('ascii')}" for f in frames]
        else:
            info = probe_video(ref, sampling.media)
            width, height = scaled_size(info.width, info.height, sampling.max_side)
            times = plan_timestamps(info.duration, sampling.max_frames)
            shown = [(t, MediaPart(ref, "frame", width, height, t)) for t in times]
            urls = [f"{ref}#t={t:.3f}" for t in times]
    except MediaError as exc:
        raise ItemError(str(exc), item_id=item.id) from None
    parts: list[Message] = [
        {
            "type": "text",
            "text": f"The item's video lasts {info.duration:.1f} s; {len(shown)} frames follow in time "
            "order, each after its time.",
        }
    ]
    for (at, _), url in zip(shown, urls, strict=True):
        parts.append({"type": "text", "text": f"Frame at {at:.2f} s:"})
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts, [part for _, part in shown]


def _video_texts(item: Item, begin: str, end: str) -> list[Message]:
    """The video's transcript and on-screen text, each between the item's markers (they are item data)."""
    texts = []
    for title, text in (
        ("Transcript of the video", item.transcript),
        ("Text shown in the video", item.ocr_text),
    ):
        if text and text.strip():
            texts.append(
                {"type": "text", "text": f"{title}, between the same marker lines:\n{begin}\n{text}\n{end}"}
            )
    return texts


def render_prompt(
    sop: SOP,
    item: Item | dict[str, Any] | str,
    template: str = DEFAULT_TEMPLATE,
    rationale_language: str | None = None,
    *,
    embed_images: bool = True,
    video: VideoSampling | None = None,
    mask: MaskPolicy | Iterable[str] = (),
) -> Prompt:
    """Render the messages for one item, with the template name and prompt hash.

    Personal data is masked first (``prompt.masking``): what the SOP's ``privacy:`` section names, plus the
    kinds in ``mask`` (``"email"``, ``"phone"``, ``"card"``), or exactly the ``MaskPolicy`` given.
    ``embed_images=False`` checks local images without reading them into base64 and plans a video's frames
    without decoding them (for token estimates); ``video`` says how a video item is sampled.

        >>> from prelabel import bundled_sop
        >>> prompt = render_prompt(bundled_sop("customer_feedback_intent"),
        ...                        {"id": "1", "text": "mail me: ana@example.com"}, mask=["email"])
        >>> prompt.messages[1]["content"].splitlines()[2], prompt.masked.counts
        ('mail me: <EMAIL_1>', {'EMAIL': 1})
    """
    policy = mask if isinstance(mask, MaskPolicy) else mask_policy(sop, mask)
    item, masked = mask_item(policy, as_item(item))  # before anything is rendered: the one place
    lang = rationale_language if rationale_language is not None else sop.rationale_language
    system = _system_message(sop, template, lang)
    # every item string the user message shows is taken into account, so none of them can hold a marker
    shown = [item.text or "", item.language or ""]
    shown += [t for t in (item.transcript, item.ocr_text) if t]  # a video's texts are delimited too
    begin, end = delimiters("\n".join(shown))
    user_text = str(_template_module(template).user(item, begin, end))
    content: str | list[Message] = user_text
    media: list[MediaPart] = []
    if item.images or item.video:
        parts: list[Message] = [{"type": "text", "text": user_text}]
        for ref in item.images:
            part, described = _image_part(ref, item, embed_images)
            parts.append(part)
            media.append(described)
        if item.video:
            frames, described_frames = _video_parts(item, video or VideoSampling(), embed_images)
            parts += frames
            media += described_frames
        parts += _video_texts(item, begin, end)
        content = parts
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": content}]
    lang_hash = prompt_hash(sop, template, lang)
    return Prompt(
        messages=messages, template=template, prompt_hash=lang_hash, media=tuple(media), masked=masked
    )


def media_listed(prompt: Prompt) -> list[Message]:
    """``prompt``'s messages with each image part's URL replaced by the line describing it (``MediaPart``):
    what ``prelabel render`` prints instead of base64."""
    described = iter(prompt.media)
    messages = []
    for message in prompt.messages:
        content = message["content"]
        if isinstance(content, list):
            content = [
                {**part, "image_url": {**part["image_url"], "url": next(described).describe()}}
                if part.get("type") == "image_url"
                else part
                for part in content
            ]
        messages.append({**message, "content": content})
    return messages


def render(
    sop: SOP,
    item: Item | dict[str, Any] | str,
    template: str = DEFAULT_TEMPLATE,
    rationale_language: str | None = None,
    *,
    mask: MaskPolicy | Iterable[str] = (),
) -> list[Message]:
    """Render the chat messages (system = SOP, user = item, masked as ``render_prompt`` masks) for one
    item."""
    return render_prompt(sop, item, template, rationale_language, mask=mask).messages
