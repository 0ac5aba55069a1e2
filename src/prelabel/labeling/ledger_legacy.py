"""Item digests in ledgers written by prelabel 0.1.0 (ledger schema 3 and before), known again on a rerun.

0.1.0 kept, per input position, a hash of the whole item — id, text, images, language and ``meta`` — where
the ledger now keeps ``inputs.digest.item_digest`` (what the prompt shows). The ledger stores no item, so
the old hashes cannot be converted when the ledger is opened: a rerun reads each item anyway, and a row
still holding an old hash is kept when the old hash of the item as read now matches it (nothing in it
changed), then rewritten with the new digest. Rows of a Batch API batch submitted by 0.1.0 carry old hashes
into the ledger when collected, and are known again the same way.

    >>> from prelabel.inputs.items import Item
    >>> legacy_digest(Item(id="a1", text="late parcel", meta={"market": "TH"}))
    '8c03977d0c812df77a6dd7a5618969a5'
"""

from __future__ import annotations

import hashlib
import json

from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem

__all__ = ["legacy_digest"]

#: The item fields 0.1.0 hashed (all of them then): a field added to ``Item`` later is not among them.
_FIELDS = {"id", "text", "images", "language", "meta"}


def legacy_digest(entry: Item | BadItem) -> str:
    """0.1.0's ``input_hash`` of ``entry``: 32 hex digits of the sha256 of the whole item (or of a bad
    row's reason and id)."""
    if isinstance(entry, BadItem):
        payload = json.dumps({"bad": entry.reason, "id": entry.item_id}, sort_keys=True, ensure_ascii=False)
    else:
        dumped = entry.model_dump(mode="json", include=_FIELDS)
        payload = json.dumps(dumped, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]
