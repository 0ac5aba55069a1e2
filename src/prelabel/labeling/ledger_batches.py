"""The ledger's ``batches`` table: one row per Batch API batch of a run, in the same ``RUN_DIR/run.db``.

``BatchRecord`` is one batch (the positions it carries, how it was made, its state); ``LedgerBatches`` holds
the batch methods of ``Ledger`` (``add_batch``, ``batches``, ``update_batch``, ``batch_usage``), over the
ledger's connection. The table's schema is among the ledger's migrations (``labeling.ledger``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["CREATING", "BatchRecord", "LedgerBatches", "pending_batch_id"]

#: The status of a batch whose request file is uploaded and whose creation is not recorded yet: its row is
#: written first (``pending_batch_id``), so that a process killed before the batch id is recorded leaves
#: what ``labeling.batch_reconcile`` needs to find the batch (or create it).
CREATING = "creating"


def pending_batch_id(input_file_id: str) -> str:
    """The row id of a batch being created over the uploaded file ``input_file_id``."""
    return f"pending-{input_file_id}"


@dataclass(frozen=True)
class BatchRecord:
    """One Batch API batch of a run: the positions it carries (with item ids and item digests) and its state.

    ``job`` records how it was made (SOP and items sources, options without the key) so that it can be
    collected from the run directory alone.
    """

    batch_id: str
    input_file_id: str | None
    status: str
    created_at: str
    positions: list[int]
    entries: list[tuple[Any, ...]]
    """Per position: (item id, item digest), and what was masked in the item when anything was."""
    job: dict[str, Any]
    request_counts: dict[str, int] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: dict[str, int] | None = None
    collected_at: str | None = None


_BATCH_COLUMNS = tuple(f.name for f in fields(BatchRecord))
_BATCH_JSON = frozenset({"positions", "entries", "job", "request_counts", "usage"})


class LedgerBatches:
    """The batch methods of ``Ledger`` (a base class of it: they use its connection)."""

    _db: sqlite3.Connection

    def add_batch(self, batch: BatchRecord) -> None:
        """Record a Batch API batch as soon as it is created (committed at once)."""
        values = [_to_column(name, getattr(batch, name)) for name in _BATCH_COLUMNS]
        marks = ", ".join("?" * len(values))
        self._db.execute(f"INSERT INTO batches ({', '.join(_BATCH_COLUMNS)}) VALUES ({marks})", values)

    def batches(self, *, collected: bool | None = None) -> list[BatchRecord]:
        """The run's batches, oldest first (``collected=False``: only those not collected yet)."""
        where = "" if collected is None else f"WHERE collected_at IS {'NOT ' if collected else ''}NULL"
        rows = self._db.execute(f"SELECT {', '.join(_BATCH_COLUMNS)} FROM batches {where} ORDER BY rowid")
        return [_batch_record(row) for row in rows]

    def update_batch(self, batch_id: str, **changes: Any) -> None:
        """Change fields of a batch (``status``, ``request_counts``, ``collected_at``, ...)."""
        unknown = set(changes) - set(_BATCH_COLUMNS[2:])
        if unknown:
            raise ValueError(f"not batch fields: {', '.join(sorted(unknown))}")
        sets = ", ".join(f"{name} = ?" for name in changes)
        values = [_to_column(name, value) for name, value in changes.items()]
        self._db.execute(f"UPDATE batches SET {sets} WHERE batch_id = ?", [*values, batch_id])

    def name_batch(self, row_id: str, batch_id: str, status: str) -> None:
        """Record the id (and status) of the batch created for the row ``row_id`` (a pending one)."""
        self._db.execute(
            "UPDATE batches SET batch_id = ?, status = ? WHERE batch_id = ?", (batch_id, status, row_id)
        )

    def drop_batch(self, row_id: str) -> None:
        """Forget a batch row (a pending one whose batch could not be created: its items are not sent)."""
        self._db.execute("DELETE FROM batches WHERE batch_id = ?", (row_id,))

    def batch_usage(self) -> dict[str, int]:
        """Tokens of every collected batch line (billed at the Batch price), summed."""
        total = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}
        for (usage,) in self._db.execute("SELECT usage FROM batches WHERE usage IS NOT NULL"):
            for key, value in json.loads(usage).items():
                total[key] = total.get(key, 0) + int(value)
        return total


def _to_column(name: str, value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if name in _BATCH_JSON and value is not None else value


def _batch_record(row: tuple[Any, ...]) -> BatchRecord:
    values = {
        name: json.loads(value) if name in _BATCH_JSON and value is not None else value
        for name, value in zip(_BATCH_COLUMNS, row, strict=True)
    }
    values["entries"] = [tuple(entry) for entry in values["entries"]]
    return BatchRecord(**values)
