"""The one item digest: ``sha256:<hex>`` of what the prompt shows of an item, and nothing else.

The run ledger keeps it per input position (a rerun sends an item again only when it changed) and the answer
cache keys answers by it, so both agree on when an item is "the same". It covers what ``prompt.rendering``
puts in the user message: the text, the language and the images — their references in order, and the bytes
of each local image file, which the prompt embeds (URLs are sent as they are); a video's reference, its
transcript and on-screen text, and the bytes of a local video file (``video_digest``: the whole file up to
256 MiB; above, its size and 64 chunks of 1 MiB spread over it, first and last included — a replaced
recording is new content at a bounded cost, where hashing a two-hour recording whole would cost more than
sampling its frames). The id and ``meta`` (a CSV's other columns) never reach the prompt, so changing them
changes no answer and no digest. Items without local image files or video keep the answer cache's earlier
keys (the same JSON, the same hash).

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
import os
from pathlib import Path
from typing import Any

from prelabel.inputs.items import Item, is_image_file
from prelabel.inputs.media import local_path
from prelabel.inputs.reading import BadItem

__all__ = ["is_item_digest", "item_digest", "video_digest"]

_PREFIX = "sha256:"
_WHOLE_VIDEO = 256 * 1024 * 1024  # hashed whole up to this size
_CHUNKS, _CHUNK = 64, 1024 * 1024


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
        if entry.video:  # the same: present only for video items
            path = local_path(entry.video)
            shown["video"] = entry.video
            shown["video_file"] = None if path is None else video_digest(path)
        for field in ("transcript", "ocr_text"):
            if getattr(entry, field):
                shown[field] = getattr(entry, field)
    payload = json.dumps(shown, sort_keys=True, ensure_ascii=False)
    # lone surrogates (JSON "\ud800") are text a prompt can carry: hash them as they are, never fail on them
    return _PREFIX + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def is_item_digest(value: str) -> bool:
    """True when ``value`` has the form ``item_digest`` returns (a ledger row written by an older prelabel
    holds another)."""
    return value.startswith(_PREFIX)


def video_digest(path: Path) -> str | None:
    """The sha256 of a video file's bytes: all of them up to 256 MiB, else its size and 64 chunks of 1 MiB
    spread evenly over it (``None`` when it cannot be read: the prompt fails too)."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= _WHOLE_VIDEO:
                return hashlib.file_digest(handle, "sha256").hexdigest()
            digest = hashlib.sha256(f"{size}:".encode())
            for index in range(_CHUNKS):  # the first chunk at 0, the last ending at the file's end
                handle.seek(index * (size - _CHUNK) // (_CHUNKS - 1))
                digest.update(handle.read(_CHUNK))
            return "sampled:" + digest.hexdigest()
    except OSError:
        return None


def _file_digest(ref: str) -> str | None:
    """The sha256 of a local image file's bytes (``None`` when it cannot be read: the prompt fails too)."""
    try:
        with (local_path(ref) or Path(ref)).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None
