"""Batch API batches a stopped process created without recording them: found again, never orphaned.

``submit_batch`` records its intent before each step it cannot take back: once the request file is
uploaded, a row ``pending-FILE_ID`` (status ``creating``, with the file id, the positions and the job); once
the batch is created, its id. A process killed in between (``kill -9``, a lost session, a crash) leaves a
pending row while the server may hold a batch that nobody would collect, and pay for it anyway.
``reconcile`` — run by ``run --batch-api``, ``batch status`` and ``batch collect`` before they use the
batches — looks for that batch in the Batches list (by its input file id) and records it; when the server
has none, it creates it from the uploaded file (what the stopped process was doing), and when that is no
longer possible (the file is gone) it drops the row, so that the items are submitted again.

    >>> from prelabel.labeling.ledger_batches import CREATING, pending_batch_id
    >>> pending_batch_id("file-7"), CREATING
    ('pending-file-7', 'creating')
"""

from __future__ import annotations

from datetime import datetime

from prelabel.errors import EndpointError
from prelabel.labeling.ledger import Ledger
from prelabel.labeling.ledger_batches import CREATING
from prelabel.llm.batch_api import BatchAPI

__all__ = ["batch_metadata", "reconcile"]

#: How long before its recorded intent a batch may have been created by the server's clock (clock skew).
_SKEW_S = 24 * 3600.0


def batch_metadata(ledger: Ledger) -> dict[str, str]:
    """The metadata a run's batches carry (the run directory's name)."""
    return {"prelabel_run": ledger.run_dir.name[:64]}


async def reconcile(api: BatchAPI, ledger: Ledger) -> list[str]:
    """Record the batches a stopped submission created without recording them (or create them); what
    was done, one line each (none: nothing was pending)."""
    notes = []
    for record in ledger.batches(collected=False):
        if record.status != CREATING or record.input_file_id is None:
            continue
        file_id = record.input_file_id
        state = await api.find(file_id, since=_unix(record.created_at) - _SKEW_S)
        if state is not None:
            how = "found on the server"
        else:
            try:
                state = await api.create(file_id, batch_metadata(ledger))
            except EndpointError as exc:
                if exc.status_code not in (400, 404):
                    raise
                ledger.drop_batch(record.batch_id)
                notes.append(
                    f"the batch of {file_id} was never created and cannot be now ({exc}); its "
                    f"{len(record.positions)} items are submitted again by the next "
                    "`prelabel run --batch-api`"
                )
                continue
            how = "created now from the uploaded file"
        ledger.name_batch(record.batch_id, state.batch_id, state.status)
        notes.append(
            f"batch {state.batch_id} ({len(record.positions)} requests, {file_id}): {how}; the "
            "submission that made it stopped before recording it"
        )
    return notes


def _unix(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0
