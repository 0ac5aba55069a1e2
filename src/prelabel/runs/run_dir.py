"""``RunDir``: a run directory, the one module that knows its file names.

A RUN_DIR holds the ledger ``run.db`` (with SQLite's ``-wal``/``-shm`` companions), ``labels.jsonl`` written
from it, ``run.json`` (the run's record), the lock file ``.lock`` (an exclusive lock while a process uses the
directory, released by the OS when the process dies), ``batch/`` (Batch API request and output files), with
``--keep-mask-map`` ``mask_map.jsonl`` (what the placeholders of masked items replaced) and, during a
``--restart``, ``.previous/`` (the earlier run set aside, ``runs.restart``). Everything else in the
directory is the user's and is left alone.

Every other module asks ``RunDir`` for a path (``run.labels``, ``run.db``, ...) or a name (``RunDir.LABELS``
in a message) instead of spelling it; ``tests/runs/test_file_names.py`` checks that.

    >>> run = RunDir("runs/a")
    >>> run.labels.as_posix(), run.request_file(2).as_posix()
    ('runs/a/labels.jsonl', 'runs/a/batch/requests-002.jsonl')
    >>> RunDir.of("runs/a/labels.jsonl").path.as_posix()
    'runs/a'
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from prelabel._jsonio import PARTIAL, atomic_open, write_json
from prelabel.errors import InputError

__all__ = ["RunDir", "RunLock", "reason"]


class RunLock:
    """The run directory's exclusive lock, held until ``release`` (or until the process dies)."""

    def __init__(self, handle: Any):
        self._handle = handle

    def release(self) -> None:
        """Release the lock (closing the file releases it); safe to call twice."""
        with contextlib.suppress(OSError, ValueError):
            self._handle.close()


class RunDir:
    """A run directory: the paths of its files, its lock, and its record ``run.json``.

    ``RunDir(path)`` for a directory; ``RunDir.of(source)`` for a RUN_DIR or a results file inside one.
    Reading ``labels.jsonl`` is ``runs.labels``; the sources ``run.json`` names are ``runs.sources``; the
    ledger is opened by ``Ledger.open`` (``labeling.ledger``), which takes its path and lock from here.
    """

    LABELS: ClassVar[str] = "labels.jsonl"
    """The run's results, one line per input item, in input order."""
    INFO: ClassVar[str] = "run.json"
    """The run's record: SOP, model, endpoint, sources, counts, usage, cost."""
    DB: ClassVar[str] = "run.db"
    """The ledger (SQLite)."""
    LOCK: ClassVar[str] = ".lock"
    ASIDE: ClassVar[str] = ".previous"
    """Where ``--restart`` keeps the earlier run until the new one has earned its place."""
    BATCH: ClassVar[str] = "batch"
    """Batch API request files and downloaded output files."""
    MASK_MAP: ClassVar[str] = "mask_map.jsonl"
    """With ``--keep-mask-map``: what each masked item's placeholders replaced (never sent anywhere)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def of(cls, source: str | Path) -> RunDir:
        """The run directory of ``source``: the directory itself, or the one holding a results file."""
        path = Path(source)
        return cls(path if path.is_dir() else path.parent)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ------------------------------------------------------------------------------------------- paths

    @property
    def labels(self) -> Path:
        """``labels.jsonl``."""
        return self.path / self.LABELS

    @property
    def info(self) -> Path:
        """``run.json``."""
        return self.path / self.INFO

    @property
    def db(self) -> Path:
        """``run.db``, the ledger."""
        return self.path / self.DB

    @property
    def aside(self) -> Path:
        """``.previous/``, the earlier run a ``--restart`` set aside."""
        return self.path / self.ASIDE

    @property
    def mask_map(self) -> Path:
        """``mask_map.jsonl``, the placeholders of the masked items (``--keep-mask-map``)."""
        return self.path / self.MASK_MAP

    @property
    def batch_dir(self) -> Path:
        """``batch/``."""
        return self.path / self.BATCH

    def request_file(self, number: int) -> Path:
        """The ``number``-th Batch API request file, ``batch/requests-NNN.jsonl``."""
        return self.batch_dir / f"requests-{number:03d}.jsonl"

    def batch_output(self, batch_id: str, kind: str) -> Path:
        """A downloaded batch file (``kind``: ``output`` or ``errors``), ``batch/BATCH_ID.KIND.jsonl``."""
        return self.batch_dir / f"{batch_id}.{kind}.jsonl"

    @classmethod
    def run_files(cls) -> tuple[str, ...]:
        """The names of a run's own files: the ledger, its outputs and the temporary file an older prelabel
        killed while writing ``labels.jsonl`` left (``batch/`` is the run's too; a file being written now is
        ``.NAME.XXXXXXXX.partial``, removed by its writer, see ``prelabel._jsonio``)."""
        db, labels = cls.DB, cls.LABELS
        return (db, f"{db}-wal", f"{db}-shm", labels, cls.INFO, cls.MASK_MAP, f".{labels}{PARTIAL}")

    # ------------------------------------------------------------------------------------------- writing

    def prepare(self) -> None:
        """Create the directory and check that it can be written, before any request: ``InputError``
        when it is a file, read-only or full."""
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: exists and is not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe_writable(self.path)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write the run directory ({reason(exc)})") from None

    def write_info(self, record: Mapping[str, Any]) -> Path:
        """Write ``run.json`` (the sources in ``record`` are written as ``runs.sources.recorded`` gives
        them: absolute paths)."""
        write_json(self.info, dict(record))
        return self.info

    def read_info(self) -> dict[str, Any] | None:
        """``run.json`` as a dict, or ``None`` when the directory has none; ``InputError`` when unreadable."""
        if not self.info.is_file():
            return None
        try:
            data = json.loads(self.info.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{self.info}: cannot read: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(f"{self.info}: expected a JSON object")
        return data

    def write_labels(self, lines: Iterable[str]) -> int:
        """Write ``labels.jsonl`` (one JSON line each) atomically (``prelabel._jsonio``): the earlier file
        stays whole until the new one is; how many lines. ``OutputError`` when it cannot be written."""
        n = 0
        with atomic_open(self.labels) as handle:
            for line in lines:
                handle.write(line + "\n")
                n += 1
        return n

    def refuse_unledgered_results(self) -> None:
        """Raise ``InputError`` when the directory holds ``labels.jsonl`` or ``run.json`` but no ledger: a
        run there would write both from an empty ledger and lose those results."""
        if self.db.exists():
            return
        found = [name for name in (self.LABELS, self.INFO) if (self.path / name).exists()]
        if found:
            raise InputError(
                f"{self.path} holds {' and '.join(found)} but no {self.DB} ledger to resume from, and a run "
                "would replace them: move them away, choose another -o, or rerun with --restart to replace "
                "them"
            )

    def remove_run_files(self) -> None:
        """Delete the run's ledger, outputs and ``batch/`` (hold the lock), leaving other files alone."""
        for name in self.run_files():
            (self.path / name).unlink(missing_ok=True)
        for name in (self.LABELS, self.INFO):  # what a process killed while writing them left
            for left in self.path.glob(f".{name}.*{PARTIAL}"):
                left.unlink(missing_ok=True)
        shutil.rmtree(self.batch_dir, ignore_errors=True)

    # ------------------------------------------------------------------------------------------- the lock

    def lock(self) -> RunLock:
        """Take the directory's exclusive lock; ``InputError`` when another process holds it."""
        handle = (self.path / self.LOCK).open("a+")
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            except OSError:
                handle.close()
                busy = f"{self.path}: another prelabel process is using this run directory"
                raise InputError(busy) from None
            return RunLock(handle)
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise InputError(
                f"{self.path}: another prelabel process is using this run directory; wait for it or use "
                "another -o"
            ) from None
        return RunLock(handle)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock for the block; an ``OSError`` inside becomes ``InputError("cannot change DIR:
        reason")``."""
        held = self.lock()
        try:
            yield
        except OSError as exc:
            raise InputError(f"cannot change {self.path}: {reason(exc)}") from None
        finally:
            held.release()


def probe_writable(out: Path) -> None:
    """Fail now, before any request, if the directory is read-only or full."""
    probe = out / f".write-probe-{os.getpid()}"
    try:
        with probe.open("wb") as handle:
            handle.write(b"\0" * 65536)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        probe.unlink(missing_ok=True)


def reason(exc: OSError) -> str:
    """Why a file operation failed, in words (a full disk, a read-only directory, ...)."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "it is read-only or not yours"
    return exc.strerror or str(exc)
