"""The run directory's own files: their names, the one-process lock, the write probe, the refusal to
overwrite results that no ledger holds, and ``--restart``.

``DB_FILE`` is the ledger (``labeling.ledger``); ``LOCK_FILE`` holds an exclusive lock while a process uses
the directory (released by the OS when the process dies); ``remove_run_files`` deletes a run's ledger and
outputs, leaving other files in the directory alone. ``--restart`` is ``labeling.restart``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.labeling.sinks import LABELS_FILE, RUN_FILE

__all__ = [
    "DB_FILE",
    "LOCK_FILE",
    "RUN_FILES",
    "locked",
    "refuse_unledgered_results",
    "remove_files",
    "remove_run_files",
]

DB_FILE = "run.db"
LOCK_FILE = ".lock"
RUN_FILES = (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", LABELS_FILE, RUN_FILE, f".{LABELS_FILE}.partial")


def remove_run_files(run_dir: str | Path) -> None:
    """Delete a run's ledger and outputs, leaving other files in the directory alone."""
    out = Path(run_dir)
    if not out.is_dir():
        return
    with locked(out):
        remove_files(out)


def remove_files(out: Path) -> None:
    """Delete the run files of ``out`` (hold ``locked(out)``)."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "batch", ignore_errors=True)


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the run directory's lock (``InputError`` when another process holds it); an ``OSError`` inside
    becomes ``InputError("cannot change OUT: reason")``."""
    lock = _lock(out)
    try:
        yield
    except OSError as exc:
        raise InputError(f"cannot change {out}: {_reason(exc)}") from None
    finally:
        _unlock(lock)


def refuse_unledgered_results(out: Path) -> None:
    """Raise ``InputError`` when ``out`` holds ``labels.jsonl`` or ``run.json`` but no ledger: a run there
    would write both from an empty ledger and lose those results."""
    if (out / DB_FILE).exists():
        return
    found = [name for name in (LABELS_FILE, RUN_FILE) if (out / name).exists()]
    if found:
        raise InputError(
            f"{out} holds {' and '.join(found)} but no {DB_FILE} ledger to resume from, and a run would "
            "replace them: move them away, choose another -o, or rerun with --restart to replace them"
        )


def _probe_writable(out: Path) -> None:
    """Fail now, before any request, if the directory is read-only or full."""
    probe = out / f".write-probe-{os.getpid()}"
    try:
        with probe.open("wb") as handle:
            handle.write(b"\0" * 65536)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        probe.unlink(missing_ok=True)


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "it is read-only or not yours"
    return exc.strerror or str(exc)


def _lock(out: Path) -> Any:
    handle = (out / LOCK_FILE).open("a+")
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            handle.close()
            raise InputError(f"{out}: another prelabel process is using this run directory") from None
        return handle
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise InputError(
            f"{out}: another prelabel process is using this run directory; wait for it or use another -o"
        ) from None
    return handle


def _unlock(handle: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        handle.close()  # closing the file releases the lock
