"""Thumbnail strips of candidate items that have a video, for the compare report.

A reviewer reading an ambiguity candidate about a video sees what the model saw, in small: four frames of
each example item's video, spread over it as a run samples them (``prelabel.inputs.video``), 160 px on the
long side, as data URIs in the self-contained ``report.html``. The videos are found through the run's items
file (``run.json`` names it); results given as a DataFrame, a run without an items file, or a video that
cannot be read any more get no strip (a note instead), never a failed report.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prelabel.errors import PrelabelError
from prelabel.inputs.items import Item
from prelabel.inputs.media import MediaError, MediaPolicy
from prelabel.inputs.reading import read_items
from prelabel.inputs.video import data_uri, thumbnails
from prelabel.runs.run_dir import RunDir
from prelabel.runs.sources import RunSources

__all__ = ["THUMBNAILS", "run_videos", "thumbnail_strip"]

#: Frames per strip, and their longest side in pixels.
THUMBNAILS, THUMB_SIDE = 4, 160


def run_videos(results: Any, wanted: Iterable[str]) -> dict[str, str]:
    """The video of each ``wanted`` item id, from the items file of the run ``results`` names (a run
    directory or its ``labels.jsonl``); empty when there is none to read."""
    ids = set(wanted)
    if not ids or not isinstance(results, str | Path):
        return {}
    path = Path(results)
    run_dir = path if path.is_dir() else path.parent
    if not RunDir(run_dir).info.exists():
        return {}
    try:
        items = RunSources.of(run_dir).items_file(None, need=False)
        if items is None:
            return {}
        entries = read_items(items, media=MediaPolicy(confine=False))  # read here, never sent
        return {e.id: e.video for e in entries if isinstance(e, Item) and e.video and e.id in ids}
    except (PrelabelError, OSError):
        return {}


def thumbnail_strip(item_id: str, video: str) -> dict[str, Any]:
    """``{"item_id", "frames": [{"time", "uri"}], "note"}``: the strip of one item's video, or a note."""
    try:
        frames = thumbnails(video, THUMBNAILS, THUMB_SIDE)
    except MediaError as exc:
        return {"item_id": item_id, "frames": [], "note": str(exc)}
    shown = [{"time": f"{f.timestamp:.1f} s", "uri": data_uri(f)} for f in frames]
    return {"item_id": item_id, "frames": shown, "note": None}
