"""The run ledger: ``RUN_DIR/run.db``, one SQLite row per input item, committed as each result arrives.

``labels.jsonl`` is written from it (exactly one line per input item, in input order), so a run killed at any
moment — ``kill -9`` included — loses at most the requests in flight, and rerunning the same command resumes:
finished items are not sent again, error items are retried (unless told not to), and an item whose prompt
changed (``inputs.digest.item_digest``: text, language, images) or whose id changed is labeled again; a change
in ``meta`` alone is not. The ledger is bound to what decides an answer (SOP hash, model, template, prompt
hash, prompt options): a run that asks for something else is refused with what differs and how to start fresh.
One process at a time: an exclusive lock on ``RUN_DIR/.lock``, released by the OS when the process dies.

Schema changes are numbered migrations (``PRAGMA user_version``), applied in order on open. Rows written by
prelabel 0.1.0 (schema 3) hold its whole-item hash; each is known again when its item is read
(``labeling.ledger_legacy``), so such a RUN_DIR resumes without sending anything again.

The batches table (Batch API records) is ``labeling.ledger_batches``; the run directory's file names, its
lock and ``--restart`` are ``runs`` (``runs.run_dir.RunDir``, ``runs.restart``): ``Ledger.open`` is the one
way to open a ledger, and takes its path and lock from ``RunDir``.

    >>> import tempfile
    >>> with Ledger.open(tempfile.mkdtemp(), {"model": "m"}) as ledger:
    ...     ledger.schema_version
    4
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from prelabel.errors import InputError
from prelabel.inputs.digest import is_item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.ledger_batches import LedgerBatches
from prelabel.labeling.ledger_legacy import legacy_digest
from prelabel.labeling.result import LabelResult
from prelabel.runs.run_dir import RunDir, RunLock

__all__ = ["Ledger", "LedgerRow", "recorded_items"]

#: Numbered schema migrations; ``PRAGMA user_version`` records how many ran. Never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE items (
        position INTEGER PRIMARY KEY,
        item_id TEXT,
        input_hash TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'abstained', 'error')),
        attempts INTEGER NOT NULL,
        error_type TEXT,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        latency_s REAL,
        result TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        input_file_id TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        positions TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE batches ADD COLUMN entries TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE batches ADD COLUMN job TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE batches ADD COLUMN request_counts TEXT;
    ALTER TABLE batches ADD COLUMN output_file_id TEXT;
    ALTER TABLE batches ADD COLUMN error_file_id TEXT;
    ALTER TABLE batches ADD COLUMN usage TEXT;
    ALTER TABLE batches ADD COLUMN collected_at TEXT;
    """,
    # 4: items.input_hash (and a batch's entries) hold inputs.digest.item_digest from now on. Older rows keep
    # 0.1.0's whole-item hash until their item is read again (labeling.ledger_legacy), and a prelabel that
    # does not know the new digest refuses this ledger instead of sending every item again.
    """
    INSERT OR REPLACE INTO meta (key, value) VALUES ('item_digest', 'sha256 of what the prompt shows');
    """,
)


class LedgerRow:
    """What the ledger knows about one input position (a light view: no parsed result)."""

    __slots__ = ("error_type", "input_hash", "item_id", "status")

    def __init__(self, item_id: str | None, input_hash: str, status: str, error_type: str | None = None):
        self.item_id = item_id
        self.input_hash = input_hash
        self.status = status
        self.error_type = error_type


class Ledger(LedgerBatches):
    """``RUN_DIR/run.db``, from ``Ledger.open(run_dir, binding)`` (a context manager holding the lock)."""

    def __init__(self, run_dir: Path, connection: sqlite3.Connection, lock: RunLock):
        self.run_dir = run_dir
        self.path = RunDir(run_dir).db
        self._db = connection
        self._lock = lock

    # ---------------------------------------------------------------------------------------------- opening

    @classmethod
    def open(cls, run_dir: str | Path, binding: dict[str, Any] | None) -> Ledger:
        """Open (or create) the ledger of ``run_dir``, take its lock and check its binding (``None``: read
        it as it is, e.g. to poll a batch).

        Raises ``InputError`` when the directory cannot be written, another process holds it, or the ledger
        was made for another SOP, model, template or prompt options.
        """
        run = RunDir(run_dir)
        run.prepare()  # a directory that can be written, or InputError before any request
        lock = run.lock()
        try:
            if binding is not None:
                run.refuse_unledgered_results()
            connection = sqlite3.connect(run.db, timeout=30, isolation_level=None)
            ledger = cls(run.path, connection, lock)
            ledger._prepare()
            ledger._bind(binding)
        except sqlite3.DatabaseError as exc:
            lock.release()
            raise InputError(f"{run.db}: cannot use the run ledger ({exc}); {_FRESH}") from None
        except BaseException:
            lock.release()
            raise
        return ledger

    def _prepare(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a process kill
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise InputError(
                f"{self.path} was written by a newer prelabel (ledger schema {version}); "
                "upgrade prelabel or use another run directory"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")

    def _bind(self, binding: dict[str, Any] | None) -> None:
        stored = self._meta("binding")
        if binding is None:
            return
        if stored is None:
            self._set_meta("binding", json.dumps(binding, sort_keys=True))
            return
        before = json.loads(stored)
        differs = [key for key in sorted(set(before) | set(binding)) if before.get(key) != binding.get(key)]
        if len(differs) > 1 and "prompt_hash" in differs:
            differs.remove("prompt_hash")  # it follows from the others; alone, it means the template changed
        if differs:
            what = "; ".join(f"{key}: {before.get(key)!r} then, {binding.get(key)!r} now" for key in differs)
            raise InputError(f"{self.run_dir} holds a run made with other settings ({what}); {_FRESH}")

    @property
    def schema_version(self) -> int:
        """How many migrations have run."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---------------------------------------------------------------------------------------------- items

    def row(self, position: int) -> LedgerRow | None:
        """What is recorded at ``position`` (0-based input position), if anything."""
        found = self._db.execute(
            "SELECT item_id, input_hash, status, error_type FROM items WHERE position = ?", (position,)
        ).fetchone()
        return None if found is None else LedgerRow(found[0], found[1], found[2], found[3])

    def is_finished(
        self, position: int, entry: Item | BadItem, digest: str, retry_errors: bool = True
    ) -> bool:
        """True when ``position`` holds a result for ``entry`` (same id, same ``digest`` — its
        ``item_digest``) that a rerun keeps (an error only when ``retry_errors`` is off; an item the run
        stopped in the middle of, never). A row of an older prelabel that matches gets ``digest``."""
        known = self.row(position)
        if known is None or known.item_id != (entry.id if isinstance(entry, Item) else entry.item_id):
            return False
        if known.input_hash != digest:
            if is_item_digest(known.input_hash) or known.input_hash != legacy_digest(entry):
                return False
            self._db.execute("UPDATE items SET input_hash = ? WHERE position = ?", (digest, position))
        if known.status == "error" and known.error_type == "interrupted":
            return False
        return known.status != "error" or not retry_errors

    def record(self, position: int, digest: str, result: LabelResult) -> None:
        """Store one result and commit it (autocommit: durable as soon as this returns)."""
        usage = result.usage
        try:
            replaced = self._tokens("position = ?", (position,))  # a rerun's error, an interrupted item
            if replaced:
                self._db.execute("BEGIN IMMEDIATE")
                self._add_superseded(replaced)
            self._db.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    position, result.item_id, digest, result.status, result.attempts,
                    result.error.type if result.error else None, usage.prompt_tokens,
                    usage.completion_tokens, usage.cached_tokens, result.latency_s, result.to_json(),
                ),
            )  # fmt: skip
            if replaced:
                self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise InputError(f"{self.path}: cannot record a result ({exc})") from None

    def _tokens(self, where: str, params: tuple[Any, ...]) -> list[int] | None:
        """Summed prompt, completion and cached tokens of the rows ``where`` selects (``None``: none)."""
        found = self._db.execute(
            "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
            f"COALESCE(SUM(cached_tokens), 0) FROM items WHERE {where}",
            params,
        ).fetchone()
        return list(found) if any(found) else None

    def _add_superseded(self, tokens: list[int]) -> None:
        """Paid for in this RUN_DIR by rows now replaced or dropped: ``totals`` keeps counting them."""
        before = json.loads(self._meta("superseded_usage") or "[0, 0, 0]")
        self._set_meta("superseded_usage", json.dumps([a + b for a, b in zip(before, tokens, strict=True)]))

    def truncate(self, count: int) -> int:
        """Forget rows at positions ``>= count`` (the input got shorter); how many were removed (their tokens
        stay in ``totals``)."""
        dropped = self._tokens("position >= ?", (count,))
        if dropped:
            self._add_superseded(dropped)
        return self._db.execute("DELETE FROM items WHERE position >= ?", (count,)).rowcount

    def results(self) -> Iterator[str]:
        """Every stored result line (JSON), in input order, streamed."""
        for (line,) in self._db.execute("SELECT result FROM items ORDER BY position"):
            yield str(line)

    def totals(self) -> dict[str, Any]:
        """Counts by status and error type over every stored item, and the usage of the whole RUN_DIR: the
        stored items' plus what replaced or dropped rows had paid for (retried errors, interrupted items)."""
        counts = {"total": 0, "ok": 0, "abstained": 0, "error": 0}
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM items GROUP BY status"):
            counts[status] = n
            counts["total"] += n
        errors = dict(
            self._db.execute(
                "SELECT error_type, COUNT(*) FROM items WHERE status = 'error' GROUP BY error_type ORDER BY 1"
            ).fetchall()
        )
        sums = self._db.execute(
            "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
            "COALESCE(SUM(cached_tokens), 0) FROM items"
        ).fetchone()
        earlier = json.loads(self._meta("superseded_usage") or "[0, 0, 0]")
        total = [a + b for a, b in zip(sums, earlier, strict=True)]
        usage = {"prompt_tokens": total[0], "completion_tokens": total[1], "cached_tokens": total[2]}
        return {"counts": counts, "errors_by_type": errors, "usage": usage}

    def forget_errors(self, error_types: Iterable[str]) -> int:
        """Delete the error rows of these types (so a resumed run sends their items again); how many."""
        kinds = sorted(set(error_types))
        marks = ", ".join("?" * len(kinds))
        where = f"status = 'error' AND error_type IN ({marks})"
        dropped = self._tokens(where, tuple(kinds)) if kinds else None
        if dropped:
            self._add_superseded(dropped)
        return self._db.execute(f"DELETE FROM items WHERE {where}", kinds).rowcount if kinds else 0

    def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer (``ok`` when sound)."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # ---------------------------------------------------------------------------------------------- closing

    def close(self) -> None:
        """Checkpoint, close the database and release the lock."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        self._lock.release()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def recorded_items(run_dir: str | Path) -> dict[int, LedgerRow] | None:
    """What the ledger of ``run_dir`` records per input position (id, item digest, status), read without
    its lock (a run may be writing it); ``None`` when ``run_dir`` holds no readable ledger."""
    path = RunDir(run_dir).db
    if not path.is_file():
        return None
    query = "SELECT position, item_id, input_hash, status, error_type FROM items ORDER BY position"
    for mode in ("rw", "ro"):  # rw (nothing is written): closing it removes the WAL files a read opens
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=30)) as db:
                found = db.execute(query).fetchall()
        except sqlite3.OperationalError:
            continue  # a read-only file or folder: read-only, then
        except sqlite3.Error:
            return None
        return {int(p): LedgerRow(i, h, s, e) for p, i, h, s, e in found}
    return None


_FRESH = "to start fresh, rerun with --restart (deletes this run's results) or choose another -o directory"
