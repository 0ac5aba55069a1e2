"""``--restart`` without losing anything: the earlier run is set aside until the new one has earned its place.

A restart moves the run's ledger and outputs (and ``batch/``) into ``RUN_DIR/.previous/``. When the new run
gets an answer (or pays for an error record, or completes), ``.previous/`` is deleted; when it stops before
that (an unreachable server, a refused upload, Ctrl-C), the earlier run is put back. A restart killed outright
(SIGKILL, a lost ssh session) leaves ``.previous/`` behind: the next run into the directory puts it back when
the run in its place paid for nothing, and deletes it otherwise.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prelabel.runs.run_dir import RunDir

__all__ = ["Restart", "restarting"]


@dataclass
class Restart:
    """A run in a directory: the earlier run set aside by ``--restart`` (``None``: none), whether the new run
    has earned its place (``keep_new``), and whether an earlier run a killed restart had left aside was put
    back (``recovered``)."""

    aside: Path | None = None
    keep_new: bool = False
    recovered: bool = False


@contextlib.contextmanager
def restarting(run_dir: str | Path, restart: bool) -> Iterator[Restart]:
    """Around every run: first recover what a killed restart left; with ``restart``, set the run aside, and
    when the block ends delete it if ``keep_new`` was set, else put it back in place of the new run's
    files."""
    out = Path(run_dir)
    recovered = _recover(out)
    state = Restart(_set_aside(out) if restart else None, recovered=recovered)
    try:
        yield state
    finally:
        if state.aside is not None:
            _settle(state.aside, keep_new=state.keep_new)


def _set_aside(out: Path) -> Path | None:
    if not out.is_dir():
        return None
    run = RunDir(out)
    with run.locked():
        found = [name for name in (*run.run_files(), run.BATCH) if (out / name).exists()]
        if not found:
            return None
        run.aside.mkdir()
        for name in found:
            (out / name).rename(run.aside / name)
        return run.aside


def _settle(aside: Path, *, keep_new: bool) -> None:
    run = RunDir(aside.parent)
    with run.locked():
        if not keep_new:
            run.remove_run_files()
            for moved in aside.iterdir():
                moved.rename(run.path / moved.name)
        shutil.rmtree(aside, ignore_errors=True)


def _recover(out: Path) -> bool:
    """Settle a ``.previous/`` a killed restart left: put it back (``True``) when the run in its place paid
    for nothing, else delete it."""
    run = RunDir(out)
    if not run.aside.is_dir():
        return False
    paid = _paid_for_anything(run.db)
    _settle(run.aside, keep_new=paid)
    return not paid


def _paid_for_anything(db: Path) -> bool:
    """Whether the ledger ``db`` holds an answer or an error record that used tokens."""
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
            row = connection.execute(
                "SELECT 1 FROM items WHERE status != 'error' OR prompt_tokens + completion_tokens > 0 LIMIT 1"
            ).fetchone()
    except sqlite3.Error:  # unreadable or without the table: nothing usable was paid for there
        return False
    return row is not None
