"""What a run masked: ``run.json``'s ``masking`` record, and ``RUN_DIR/mask_map.jsonl`` (``--keep-mask-map``).

The placeholders of masked items (``<PHONE_1>`` -> the number it replaced) stay in memory and are never sent.
Only ``keep_mask_map`` writes them, into the run directory, atomically (``prelabel._jsonio``), when the run
ends: one line per item read that had something masked, in input order,
``{"position": 0, "item_id": "a1", "placeholders": {"<PHONE_1>": "0812 3456 7890"}}``.

    >>> from prelabel.prompt.masking import MaskPolicy
    >>> masking_record(MaskPolicy(kinds=("email",)), 2, {"EMAIL": 3}, None)
    {'kinds': ['email'], 'regions': [], 'patterns': [], 'items': 2, 'counts': {'EMAIL': 3}, 'mask_map': None}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prelabel._jsonio import atomic_open
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.labeler import Labeler
from prelabel.prompt.masking import MaskPolicy
from prelabel.runs.run_dir import RunDir

__all__ = ["MaskMap", "masking_record"]


def masking_record(
    policy: MaskPolicy, items: int, counts: dict[str, int], mask_map: Path | None
) -> dict[str, Any] | None:
    """``run.json``'s ``masking``: what was masked (kinds, phone regions, the SOP's pattern names), in how
    many items, how many occurrences per placeholder name, and the mask map written (``None``: none). The
    SOP's regexes are not repeated (the SOP holds them); ``None`` when nothing is masked."""
    if not policy.active:
        return None
    record = policy.record()
    return {
        "kinds": record["kinds"],
        "regions": record["regions"],
        "patterns": list(record["patterns"]),
        "items": items,
        "counts": counts,
        "mask_map": None if mask_map is None else str(mask_map),
    }


class MaskMap:
    """The placeholders of the items a run reads (``keep``: collected, then written by ``write``)."""

    def __init__(self, labeler: Labeler, keep: bool):
        self.labeler = labeler
        self.keep = keep and labeler.masking.active
        self._lines: list[str] = []

    def entries(self, entries: Iterable[Item | BadItem]) -> Iterator[Item | BadItem]:
        """``entries`` as they are, noting the placeholders of each masked one (when kept)."""
        if not self.keep:
            yield from entries
            return
        for position, entry in enumerate(entries):
            if isinstance(entry, Item):
                masked = self.labeler.shown(entry)[1]  # the same masking the prompt gets (cached)
                if masked:
                    line = {"position": position, "item_id": entry.id, "placeholders": masked.mapping}
                    self._lines.append(json.dumps(line, ensure_ascii=False))
            yield entry

    def write(self, run_dir: RunDir) -> Path | None:
        """Write ``mask_map.jsonl`` (when kept); its path, else ``None``."""
        if not self.keep:
            return None
        with atomic_open(run_dir.mask_map) as handle:
            handle.writelines(line + "\n" for line in self._lines)
        return run_dir.mask_map
