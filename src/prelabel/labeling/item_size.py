"""The per-item size limit: an item whose text is over ``LabelOptions.max_item_tokens`` is an error record.

A 5 MB text would send over a million prompt tokens (and crash the offline tokenizer of a dry run); the limit
turns such items into ``invalid_item`` records in runs, dry runs and Batch API runs alike, and the rest go on.
Text is counted in chunks and counting stops once over the limit, so a huge item costs little to refuse.
A video's transcript and on-screen text count as text. A video item sends as many of its frames as fit in
what the text and images leave of the limit (``frame_budget``: fewer frames, spread over the whole video);
when not even one fits, the item is an error record.

    >>> from prelabel.inputs.items import Item
    >>> oversize_reason(Item(id="a", text="short"), 100) is None
    True
    >>> oversize_reason(Item(id="b", text="word " * 1000), 100)[:64]
    'text too large: 5,000 characters, over the per-item limit of 100'
"""

from __future__ import annotations

from collections.abc import Iterator

from prelabel.inputs.image_header import image_file_size
from prelabel.inputs.items import Item, is_image_file
from prelabel.inputs.media import local_path
from prelabel.inputs.reading import BadItem
from prelabel.inputs.video import VideoSampling, probe_video, scaled_size
from prelabel.llm.image_tokens import image_tokens
from prelabel.llm.usage import count_tokens

__all__ = [
    "FRAME_TEXT_TOKENS",
    "TOO_LARGE",
    "frame_budget",
    "item_text",
    "no_frame_reason",
    "oversize_reason",
    "within_size",
]

#: How the reason of an item over the limit begins.
TOO_LARGE = "text too large"
_CHUNK = 100_000  # characters tokenized at once (the tokenizer refuses inputs of 1,000,000 and more)
_FRAMING = 7  # what count_tokens adds for one message around its text
#: Tokens counted for the text part before each frame ("Frame at 12.50 s:").
FRAME_TEXT_TOKENS = 10


def item_text(item: Item) -> str:
    """All the text an item sends: its text, and its video's transcript and on-screen text."""
    return "\n".join(t for t in (item.text, item.transcript, item.ocr_text) if t)


def _text_tokens_over(text: str, limit: int, model: str) -> bool:
    if len(text.encode("utf-8")) <= limit:  # a token is at least one byte: no need to count
        return False
    total = 0
    for start in range(0, len(text), _CHUNK):
        total += count_tokens([{"role": "user", "content": text[start : start + _CHUNK]}], model) - _FRAMING
        if total > limit:
            return True
    return False


def oversize_reason(item: Item, limit: int | None, model: str = "gpt-4o-mini") -> str | None:
    """Why ``item`` is too large to send (one line), or ``None`` when its text (with a video's transcript and
    on-screen text) is within ``limit`` tokens."""
    text = item_text(item)
    if limit is None or not text or not _text_tokens_over(text, limit, model):
        return None
    return (
        f"{TOO_LARGE}: {len(text):,} characters, over the per-item limit of {limit:,} tokens "
        "(raise it with --max-item-tokens)"
    )


def frame_budget(
    item: Item, limit: int | None, sampling: VideoSampling, *, backend: str = "openai", model: str = "gpt-4o"
) -> int:
    """How many of ``item``'s video frames fit in ``limit`` tokens beside its text and images (at most
    ``sampling.max_frames``; 0: not one). Reads the video's header (``MediaError`` when unreadable)."""
    if limit is None or not item.video:
        return sampling.max_frames
    info = probe_video(item.video, sampling.media)
    width, height = scaled_size(info.width, info.height, sampling.max_side)
    per_frame = image_tokens(backend, model, width, height) + FRAME_TEXT_TOKENS
    text = item_text(item)
    used = count_tokens([{"role": "user", "content": text}], model) if text else 0
    for ref in item.images:
        path = local_path(ref) if is_image_file(ref) else None
        size = image_file_size(path) if path is not None else None
        used += image_tokens(backend, model, *(size or (None, None)))
    return max(0, min(sampling.max_frames, (limit - used) // per_frame))


def no_frame_reason(limit: int) -> str:
    """The reason of a video item whose text and images leave no room for one frame under ``limit``."""
    return (
        f"{TOO_LARGE}: its text and images leave no room for a video frame within the per-item limit of "
        f"{limit:,} tokens (raise it with --max-item-tokens)"
    )


def within_size(entries: Iterator[Item | BadItem], limit: int | None, model: str) -> Iterator[Item | BadItem]:
    """``entries`` with every item over ``limit`` tokens turned into a ``BadItem`` saying so."""
    for index, entry in enumerate(entries):
        reason = oversize_reason(entry, limit, model) if isinstance(entry, Item) else None
        if reason is not None and isinstance(entry, Item):
            entry = BadItem(index, reason, entry.id)
        yield entry
