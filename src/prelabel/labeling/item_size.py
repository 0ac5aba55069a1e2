"""The per-item size limit: an item whose text is over ``LabelOptions.max_item_tokens`` is an error record.

A 5 MB text would send over a million prompt tokens (and crash the offline tokenizer of a dry run); the limit
turns such items into ``invalid_item`` records in runs, dry runs and Batch API runs alike, and the rest go on.
Text is counted in chunks and counting stops once over the limit, so a huge item costs little to refuse.

    >>> from prelabel.inputs.items import Item
    >>> oversize_reason(Item(id="a", text="short"), 100) is None
    True
    >>> oversize_reason(Item(id="b", text="word " * 1000), 100)[:64]
    'text too large: 5,000 characters, over the per-item limit of 100'
"""

from __future__ import annotations

from collections.abc import Iterator

from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.llm.usage import count_tokens

__all__ = ["TOO_LARGE", "oversize_reason", "within_size"]

#: How the reason of an item over the limit begins.
TOO_LARGE = "text too large"
_CHUNK = 100_000  # characters tokenized at once (the tokenizer refuses inputs of 1,000,000 and more)
_FRAMING = 7  # what count_tokens adds for one message around its text


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
    """Why ``item`` is too large to send (one line), or ``None`` when its text is within ``limit`` tokens."""
    if limit is None or not item.text or not _text_tokens_over(item.text, limit, model):
        return None
    return (
        f"{TOO_LARGE}: {len(item.text):,} characters, over the per-item limit of {limit:,} tokens "
        "(raise it with --max-item-tokens)"
    )


def within_size(entries: Iterator[Item | BadItem], limit: int | None, model: str) -> Iterator[Item | BadItem]:
    """``entries`` with every item over ``limit`` tokens turned into a ``BadItem`` saying so."""
    for index, entry in enumerate(entries):
        reason = oversize_reason(entry, limit, model) if isinstance(entry, Item) else None
        if reason is not None and isinstance(entry, Item):
            entry = BadItem(index, reason, entry.id)
        yield entry
