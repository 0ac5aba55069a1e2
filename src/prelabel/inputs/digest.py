"""The one item digest: ``sha256:<hex>`` of what the prompt shows of an item, and nothing else.

The run ledger keeps it per input position (a rerun sends an item again only when it changed) and the answer
cache keys answers by it, so both agree on when an item is "the same". It covers what ``prompt.rendering``
puts in the user message: the text, the language and the images — their references in order, and the bytes
of each local image file, which the prompt embeds (URLs are sent as they are). The id and ``meta`` (a CSV's
other columns) never reach the prompt, so changing them changes no answer and no digest. Items without local
image files keep the answer cache's earlier keys (the same JSON, the same hash).

A row that cannot be labeled (``BadItem``) has no prompt: its digest covers its id and the reason.

    >>> from prelabel.inputs.items import Item
    >>> item_digest(Item(id="a", text="late parcel", meta={"market": "TH"}))[:19]
    'sha256:b5a5f14467a5'
    >>> item_digest(Item(id="b", text="late parcel")) == item_digest(Item(id="a", text="late parcel"))
    True
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prelabel.inputs.items import Item, is_image_file
from prelabel.inputs.reading import BadItem

__all__ = ["is_item_digest", "item_digest"]

_PREFIX = "sha256:"


def item_digest(entry: Item | BadItem) -> str:
    """``sha256:<hex>`` of what the prompt shows of ``entry`` (text, language, images; a bad row's reason)."""
    shown: dict[str, Any]
    if isinstance(entry, BadItem):
        shown = {"bad": entry.reason, "id": entry.item_id}
    else:
        shown = {"text": entry.text, "language": entry.language, "images": list(entry.images)}
        files = {ref: _file_digest(ref) for ref in entry.images if is_image_file(ref)}
        if files:  # absent otherwise: a text item's digest is the one the answer cache always had
            shown["image_files"] = files
    payload = json.dumps(shown, sort_keys=True, ensure_ascii=False)
    # lone surrogates (JSON "\ud800") are text a prompt can carry: hash them as they are, never fail on them
    return _PREFIX + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def is_item_digest(value: str) -> bool:
    """True when ``value`` has the form ``item_digest`` returns (a ledger row written by an older prelabel
    holds another)."""
    return value.startswith(_PREFIX)


def _file_digest(ref: str) -> str | None:
    """The sha256 of a local image file's bytes (``None`` when it cannot be read: the prompt fails too)."""
    try:
        with Path(ref).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None
