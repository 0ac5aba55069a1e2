"""The run ledger: ``RUN_DIR/run.db``, one SQLite row per input item, committed as each result arrives.

``labels.jsonl`` is written from it (exactly one line per input item, in input order), so a run killed at any
moment — ``kill -9`` included — loses at most the requests in flight, and rerunning the same command resumes:
finished items are not sent again, error items are retried (unless told not to), and an item whose prompt
changed (``inputs.digest.item_digest``: text, language, images) or whose id changed is labeled again; a change
in ``meta`` alone is not. Paid answers are never thrown away: the answer of an item that left the input (a
shorter input) or of an item's earlier text is set aside in the ledger (``set_aside``), and a later run with
that item and text takes it back unpaid; an answer follows its item when the input shifts. The ledger is bound
to what decides an answer (SOP hash, model, template, prompt hash, prompt options): a run that asks for
something else is refused with what differs and how to start fresh. One process at a time: an exclusive lock
on ``RUN_DIR/.lock``, released by the OS when the process dies.

Schema changes are numbered migrations (``PRAGMA user_version``), applied in order on open. Rows written by
prelabel 0.1.0 (schema 3) hold its whole-item hash; each is known again when its item is read
(``labeling.ledger_legacy``), so such a RUN_DIR resumes without sending anything again.

The batches table (Batch API records) is ``labeling.ledger_batches``; the run directory's file names, its
lock and ``--restart`` are ``runs`` (``runs.run_dir.RunDir``, ``runs.restart``): ``Ledger.open`` is the one
way to open a ledger, and takes its path and lock from ``RunDir``.

    >>> import tempfile
    >>> with Ledger.open(tempfile.mkdtemp(), {"model": "m"}) as ledger:
    ...     ledger.schema_version
    6
"""

from __future__ import annotations

import contextlib
import errno
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from prelabel.errors import InputError, OutputError
from prelabel.inputs.digest import is_item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.ledger_batches import LedgerBatches
from prelabel.labeling.ledger_legacy import legacy_digest
from prelabel.labeling.result import LabelResult
from prelabel.runs.run_dir import RunDir, RunLock

__all__ = ["CHANGED", "KEPT", "SEND", "Ledger", "LedgerRow", "recorded_binding", "recorded_items"]

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
    # 5: answers no row of the current input holds (items dropped from the input, an earlier text of a changed
    # item) are set aside instead of deleted: a later run with that item and text takes them back unpaid.
    """
    CREATE TABLE set_aside (
        item_id TEXT NOT NULL,
        input_hash TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'abstained')),
        attempts INTEGER NOT NULL,
        error_type TEXT,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        latency_s REAL,
        result TEXT NOT NULL,
        PRIMARY KEY (item_id, input_hash)
    );
    CREATE INDEX items_by_key ON items (item_id, input_hash);
    """,
    # 6: prompt tokens written to the provider's prompt cache (Anthropic bills them above the input price).
    """
    ALTER TABLE items ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE set_aside ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
    """,
)

#: The columns ``items`` and ``set_aside`` share (``items`` has ``position`` first).
_COLUMNS = (
    "item_id, input_hash, status, attempts, error_type, prompt_tokens, completion_tokens, cached_tokens, "
    "latency_s, result, cache_write_tokens"
)
#: The token columns, in ``Usage``'s order; ``totals`` and the superseded tokens sum them.
_TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens")
_MARKS = ", ".join("?" * (2 + _COLUMNS.count(",")))  # position and the columns
_SUMS = ", ".join(f"COALESCE(SUM({name}), 0)" for name in _TOKENS)
_END = 2**62  # past every input position

#: What a rerun does with an input item (``Ledger.resume``).
KEPT, CHANGED, SEND = "kept", "changed", "send"


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
        self._scan: tuple[int, bool] | None = None  # (last position, anything set aside) when a run began

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
        """True when the ledger holds a result for ``entry`` that a rerun keeps (``resume`` is ``KEPT``)."""
        return self.resume(position, entry, digest, retry_errors) == KEPT

    def resume(self, position: int, entry: Item | BadItem, digest: str, retry_errors: bool = True) -> str:
        """What a rerun does with ``entry`` (its ``item_digest`` is ``digest``) at input ``position``:

        ``KEPT``: the ledger holds its result (same id, same digest): not sent again. That result may come
        from another position (the input shifted) or from the answers set aside by an earlier run (the item
        had been dropped from the input, or its text changed and changed back); it moves to ``position``.
        An error is kept only when ``retry_errors`` is off, and an item the run stopped in the middle of
        never. ``CHANGED``: the ledger holds a finished result for this id, but for another text: sent
        again. ``SEND``: anything else (new, or an error to retry).

        A row at ``position`` that belongs to another item or text is set aside first (its answer kept for
        a later run; an error's tokens still counted). A row of an older prelabel that matches gets
        ``digest``."""
        item_id = entry.id if isinstance(entry, Item) else entry.item_id
        known = self.row(position)
        if known is not None and known.item_id == item_id:
            if known.input_hash != digest and not is_item_digest(known.input_hash):
                if known.input_hash == legacy_digest(entry):
                    self._write("UPDATE items SET input_hash = ? WHERE position = ?", (digest, position))
                    known.input_hash = digest
            if known.input_hash == digest:
                if known.status != "error":
                    return KEPT
                keep = not retry_errors and known.error_type != "interrupted"
                return KEPT if keep else SEND  # ``record`` replaces a retried error
        if known is not None:
            with self._transaction("set aside a result"):
                self._set_aside(position, position + 1)
        elif self._nothing_to_find(position):  # a first run, or past what the ledger held: no lookups
            return SEND
        if item_id is None:
            return SEND
        if self._take_back(item_id, digest, position):
            return KEPT
        found = self._db.execute("SELECT 1 FROM set_aside WHERE item_id = ? LIMIT 1", (item_id,)).fetchone()
        return SEND if found is None else CHANGED

    def _nothing_to_find(self, position: int) -> bool:
        """True when no result can be waiting for the item at ``position`` elsewhere: the ledger held no row
        past it when this run began, and no answer is set aside."""
        if self._scan is None:
            last = self._db.execute("SELECT COALESCE(MAX(position), -1) FROM items").fetchone()[0]
            aside = self._db.execute("SELECT 1 FROM set_aside LIMIT 1").fetchone() is not None
            self._scan = (int(last), aside)
        last, aside = self._scan
        return position > last and not aside

    def _take_back(self, item_id: str, digest: str, position: int) -> bool:
        """Move a finished result of (``item_id``, ``digest``) to ``position`` (which holds no row): from the
        answers set aside, or from a later position (the input shifted); whether there was one."""
        key = (item_id, digest)
        aside = self._db.execute(
            "SELECT 1 FROM set_aside WHERE item_id = ? AND input_hash = ?", key
        ).fetchone()
        if aside is not None:
            with self._transaction("take back a result"):
                self._db.execute(
                    f"INSERT INTO items (position, {_COLUMNS}) SELECT ?, {_COLUMNS} FROM set_aside "
                    "WHERE item_id = ? AND input_hash = ?",
                    (position, *key),
                )
                self._db.execute("DELETE FROM set_aside WHERE item_id = ? AND input_hash = ?", key)
            return True
        later = self._db.execute(
            "SELECT position FROM items WHERE item_id = ? AND input_hash = ? AND position > ? "
            "AND status != 'error' ORDER BY position LIMIT 1",
            (*key, position),
        ).fetchone()
        if later is None:
            return False
        self._write("UPDATE items SET position = ? WHERE position = ?", (position, later[0]))
        return True

    def _set_aside(self, start: int, end: int) -> None:
        """Take the rows at positions ``start <= p < end`` out of the current input: answers go to
        ``set_aside`` (replacing an older copy of the same item and text), errors go; the tokens of what
        goes keep counting in ``totals``. Inside a transaction."""
        span = (start, end)
        if self._scan is not None:
            self._scan = (self._scan[0], True)
        lost = self._tokens("position >= ? AND position < ? AND (status = 'error' OR item_id IS NULL)", span)
        replaced = self._db.execute(
            f"SELECT {_SUMS} FROM set_aside WHERE (item_id, input_hash) IN (SELECT item_id, input_hash "
            "FROM items WHERE position >= ? AND position < ? AND status != 'error')",
            span,
        ).fetchone()
        for tokens in (lost, list(replaced) if any(replaced) else None):
            if tokens:
                self._add_superseded(tokens)
        self._db.execute(
            f"INSERT OR REPLACE INTO set_aside ({_COLUMNS}) SELECT {_COLUMNS} FROM items "
            "WHERE position >= ? AND position < ? AND status != 'error' AND item_id IS NOT NULL",
            span,
        )
        self._db.execute("DELETE FROM items WHERE position >= ? AND position < ?", span)

    def record(self, position: int, digest: str, result: LabelResult) -> None:
        """Store one result and commit it (durable as soon as this returns). ``OutputError`` when the disk
        is full."""
        usage = result.usage
        with self._transaction("record a result"):
            known = self.row(position)
            if known is not None:
                other = (known.item_id, known.input_hash) != (result.item_id, digest)
                if known.status != "error" and other:  # an answer of another item or text: kept aside
                    self._set_aside(position, position + 1)
                elif replaced := self._tokens("position = ?", (position,)):  # a retried error
                    self._add_superseded(replaced)
            self._db.execute(
                f"INSERT OR REPLACE INTO items (position, {_COLUMNS}) VALUES ({_MARKS})",
                (
                    position, result.item_id, digest, result.status, result.attempts,
                    result.error.type if result.error else None, usage.prompt_tokens,
                    usage.completion_tokens, usage.cached_tokens, result.latency_s, result.to_json(),
                    usage.cache_write_tokens,
                ),
            )  # fmt: skip

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One committed transaction; a SQLite failure becomes ``OutputError`` (a full disk) or
        ``InputError`` naming ``what`` could not be done."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._failure(exc, what) from None
        except BaseException:
            self._rollback()
            raise

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One statement that changes the ledger (autocommit); how many rows it changed."""
        with self._transaction("update"):
            return int(self._db.execute(sql, params).rowcount)

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    def _failure(self, exc: sqlite3.Error, what: str) -> InputError:
        full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
        if full:
            return OutputError.of(OSError(errno.ENOSPC, "No space left on device"), self.path)
        return InputError(f"{self.path}: cannot {what} ({exc})")

    def _tokens(self, where: str, params: tuple[Any, ...]) -> list[int] | None:
        """Summed tokens (`_TOKENS`) of the rows ``where`` selects (``None``: none)."""
        found = self._db.execute(f"SELECT {_SUMS} FROM items WHERE {where}", params).fetchone()
        return list(found) if any(found) else None

    def _add_superseded(self, tokens: list[int]) -> None:
        """Paid for in this RUN_DIR by rows now replaced or dropped: ``totals`` keeps counting them."""
        before = self._superseded()
        self._set_meta("superseded_usage", json.dumps([a + b for a, b in zip(before, tokens, strict=True)]))

    def _superseded(self) -> list[int]:
        """The tokens (`_TOKENS`) of rows replaced or dropped (older ledgers kept three: no cache writes)."""
        before = json.loads(self._meta("superseded_usage") or "[]")
        return [*before, *[0] * (len(_TOKENS) - len(before))]

    def truncate(self, count: int) -> int:
        """Take rows at positions ``>= count`` out of the current input (it got shorter): their answers are
        set aside for a later run with those items, their tokens stay in ``totals``; how many rows."""
        with self._transaction("forget the end of the input"):
            found = self._db.execute("SELECT COUNT(*) FROM items WHERE position >= ?", (count,))
            n = int(found.fetchone()[0])
            if n:
                self._set_aside(count, _END)
        return n

    def set_aside_items(self) -> int:
        """Items whose answers the ledger keeps although they are not in the current input (dropped from
        it): a later run with them takes their answers back unpaid."""
        return int(
            self._db.execute(
                "SELECT COUNT(DISTINCT item_id) FROM set_aside WHERE item_id NOT IN "
                "(SELECT item_id FROM items WHERE item_id IS NOT NULL)"
            ).fetchone()[0]
        )

    def results(self) -> Iterator[str]:
        """Every stored result line (JSON), in input order, streamed."""
        for (line,) in self._db.execute("SELECT result FROM items ORDER BY position"):
            yield str(line)

    def totals(self) -> dict[str, Any]:
        """Counts by status and error type over the current input's items, and the usage of the whole
        RUN_DIR: their tokens plus those of the answers set aside and of replaced or dropped rows (retried
        errors, interrupted items)."""
        counts = {"total": 0, "ok": 0, "abstained": 0, "error": 0}
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM items GROUP BY status"):
            counts[status] = n
            counts["total"] += n
        errors = dict(
            self._db.execute(
                "SELECT error_type, COUNT(*) FROM items WHERE status = 'error' GROUP BY error_type ORDER BY 1"
            ).fetchall()
        )
        sums = self._db.execute(f"SELECT {_SUMS} FROM items").fetchone()
        aside = self._db.execute(f"SELECT {_SUMS} FROM set_aside").fetchone()
        earlier = self._superseded()
        usage = {name: a + b + c for name, a, b, c in zip(_TOKENS, sums, aside, earlier, strict=True)}
        return {"counts": counts, "errors_by_type": errors, "usage": usage}

    def masked_counts(self) -> tuple[int, dict[str, int]]:
        """Over the current input's items: how many had personal data masked, and the occurrences masked per
        placeholder name (summed from each result's ``masked``)."""
        items = self._db.execute(
            "SELECT COUNT(*) FROM items WHERE json_type(result, '$.masked') = 'object'"
        ).fetchone()[0]
        counts = self._db.execute(
            "SELECT m.key, SUM(m.value) FROM items, json_each(items.result, '$.masked') AS m "
            "WHERE json_type(items.result, '$.masked') = 'object' GROUP BY m.key ORDER BY m.key"
        ).fetchall()
        return int(items), {str(key): int(n) for key, n in counts}

    def forget_errors(self, error_types: Iterable[str]) -> int:
        """Delete the error rows of these types (so a resumed run sends their items again); how many."""
        kinds = sorted(set(error_types))
        marks = ", ".join("?" * len(kinds))
        where = f"status = 'error' AND error_type IN ({marks})"
        if not kinds:
            return 0
        with self._transaction("forget error items"):
            dropped = self._tokens(where, tuple(kinds))
            if dropped:
                self._add_superseded(dropped)
            return int(self._db.execute(f"DELETE FROM items WHERE {where}", kinds).rowcount)

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
    query = "SELECT position, item_id, input_hash, status, error_type FROM items ORDER BY position"
    found = _read(run_dir, query)
    return None if found is None else {int(p): LedgerRow(i, h, s, e) for p, i, h, s, e in found}


def recorded_binding(run_dir: str | Path) -> dict[str, Any] | None:
    """The settings the ledger of ``run_dir`` is bound to (``Ledger.open``'s binding), read without its
    lock; ``None`` when there is no readable ledger or binding."""
    found = _read(run_dir, "SELECT value FROM meta WHERE key = 'binding'")
    if not found:
        return None
    try:
        binding = json.loads(found[0][0])
    except ValueError:
        return None
    return binding if isinstance(binding, dict) else None


def _read(run_dir: str | Path, query: str) -> list[Any] | None:
    """The rows ``query`` selects from the ledger of ``run_dir`` (no lock), ``None`` without one."""
    path = RunDir(run_dir).db
    if not path.is_file():
        return None
    for mode in ("rw", "ro"):  # rw (nothing is written): closing it removes the WAL files a read opens
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=30)) as db:
                return db.execute(query).fetchall()
        except sqlite3.OperationalError:
            continue  # a read-only file or folder: read-only, then
        except sqlite3.Error:
            return None
    return None


_FRESH = "to start fresh, rerun with --restart (deletes this run's results) or choose another -o directory"
