"""Writing the files prelabel produces (labels.jsonl, run.json, exports, reports, drafts): the one home of
*how* a file is written.

Every output file is written atomically (``atomic_path``, ``atomic_open``, ``write_text``, ``write_json``):
into a temporary file beside it (``.NAME.XXXXXXXX.partial``), flushed to disk (fsync), then renamed over it
(``os.replace``). A reader sees the old file or the new one, never half of one; on any failure (a full disk,
Ctrl-C, an exception in the writer) the temporary file is removed and the earlier file stays as it was. An
``OSError`` on the way becomes one ``OutputError`` line (exit 2 in the CLI), naming the file. Files that
belong together (an export's tasks and label config, a report's files) are renamed together at the end of a
``together`` block, or not at all.

    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_open(out) as handle:
    ...     _ = handle.write("hello\\n")
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('hello\\n', ['a.txt'])

``check_output`` is the one check of an output location, made before any work (a model call, a render):

    >>> out = Path(tempfile.mkdtemp()) / "new" / "guide.html"
    >>> check_output(out) == out, out.parent.exists()  # probed, then removed again: nothing left behind
    (True, False)
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from prelabel.errors import OutputError

__all__ = [
    "PARTIAL",
    "atomic_open",
    "atomic_path",
    "check_output",
    "make_parents",
    "move_aside",
    "together",
    "write_bytes",
    "write_json",
    "write_text",
    "writing",
]

#: The suffix of a file being written (``.NAME.XXXXXXXX.partial`` beside NAME), gone once it is renamed.
PARTIAL = ".partial"
#: The files of the ``together`` block in progress: (temporary file, target), renamed when it ends.
_GROUP: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar(
    "prelabel_output_group", default=None
)


@contextmanager
def atomic_path(path: str | Path, *, keep_mode: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write (``DataFrame.to_csv(temp)``, ...); when the
    block ends without error it is fsynced and renamed over ``path`` (inside ``together``: when that block
    ends). On any failure the temporary file is removed and ``path`` is left as it was; an ``OSError``
    becomes ``OutputError`` naming ``path``. ``keep_mode``: the new file gets the permissions of the file it
    replaces (a file edited in place, such as an SOP)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL}")
    group = _GROUP.get()
    handed_over = False
    try:
        yield temp
        if keep_mode and target.exists():
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
        _fsync(temp)
        if group is not None:
            group.append((temp, target))
            handed_over = True
        else:
            os.replace(temp, target)
    except OSError as exc:
        named = exc.filename is not None and Path(os.fsdecode(exc.filename)) != temp
        raise OutputError.of(exc, exc.filename if named else target) from None
    finally:
        if not handed_over:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
    if group is None:
        _fsync_folder(target.parent)


@contextmanager
def together() -> Iterator[None]:
    """The files written atomically inside the block appear together when it ends without error (each is
    renamed into place then), or none of them does: an export's tasks and its label config, a report's
    files. Inside another ``together`` block, the files join that one."""
    if _GROUP.get() is not None:
        yield
        return
    group: list[tuple[Path, Path]] = []
    token = _GROUP.set(group)
    try:
        try:
            yield
        finally:
            _GROUP.reset(token)
        for temp, target in group:
            try:
                os.replace(temp, target)
            except OSError as exc:
                raise OutputError.of(exc, target) from None
        for folder in {target.parent for _, target in group}:
            _fsync_folder(folder)
    finally:
        for temp, _ in group:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """``open(path, mode)`` for writing (``"w"`` or ``"wb"``), atomically: see ``atomic_path``."""
    binary = "b" in mode
    with atomic_path(path) as temp:
        handle: IO[Any]
        if binary:
            handle = temp.open(mode)
        else:
            handle = temp.open(mode, encoding=encoding, newline=newline)
        with handle:  # closed (flushed) before atomic_path fsyncs and renames it
            yield handle


def write_text(path: str | Path, text: str, *, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically."""
    with atomic_open(path, newline=newline) as handle:
        handle.write(text)


def write_bytes(path: str | Path, data: bytes, *, keep_mode: bool = False) -> None:
    """Write ``data`` to ``path``, atomically (``keep_mode``: see ``atomic_path``)."""
    with atomic_path(path, keep_mode=keep_mode) as temp, temp.open("wb") as handle:
        handle.write(data)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON (non-ASCII kept, whatever the locale), newline-terminated,
    atomically."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """Create ``path``'s parent folders, then run the block that writes ``path`` (and files beside it); an
    ``OSError`` on the way (a parent that is a file, a directory where a file should be, a full or read-only
    disk) becomes ``OutputError("cannot write PATH: reason")``."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        yield out
    except OSError as exc:
        raise OutputError.of(exc, exc.filename if exc.filename is not None else out) from None


def make_parents(path: str | Path) -> Path:
    """``path`` with its parent folders created, or ``OutputError("cannot write PATH: reason")``."""
    with writing(path) as out:
        return out


def _fsync(path: Path) -> None:
    """Flush ``path``'s content to disk (written by someone else's writer, e.g. pandas)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the system allows it (not on Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output(path: str | Path, *, overwrite: bool = True, directory: bool = False) -> Path:
    """``path`` if it can be written, else ``OutputError`` (exit 2), before any work is done.

    A file output (``directory=False``) must not be a directory, nor an existing file unless ``overwrite``
    (``--force``), nor a file that cannot be opened for writing; a directory output must not be a file. The
    folder that is to hold the output must exist or be creatable, and take a new file: it is probed with a
    temporary file, and folders created for the probe are removed again (the writer creates them for real).
    """
    out = Path(path)
    if directory:
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out} is a file; -o takes a directory (it is created if missing)")
        folder = out
    else:
        if out.is_dir():
            raise OutputError(f"{out} is a directory; give a file name")
        if out.exists() and not overwrite:
            raise OutputError(f"{out} already exists; pass --force to overwrite it")
        if out.exists() and not os.access(out, os.W_OK):
            raise OutputError(f"cannot write {out}: Permission denied")
        folder = out.parent
    _probe(folder)
    return out


def _probe(folder: Path) -> None:
    """Raise ``OutputError`` unless a file can be created in ``folder`` (created for the probe if missing)."""
    if folder.exists() and not folder.is_dir():  # mkdir would say "File exists"
        raise OutputError(f"cannot write {folder}: Not a directory")
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # read-only, not ours, or no space for an inode: fail now
            pass
    except OSError as exc:
        raise OutputError.of(exc, folder) from None  # the folder, not the probe's temporary name
    finally:
        for made in created:  # a rejected input, or one checked before the work, leaves no folder behind
            with contextlib.suppress(OSError):
                made.rmdir()


def move_aside(source: Path, target: Path) -> None:
    """Move ``source`` (a damaged file, kept for inspection) to ``target``, replacing an older one; an
    ``OSError`` becomes ``OutputError`` naming ``target``."""
    try:
        os.replace(source, target)
    except OSError as exc:
        raise OutputError.of(exc, target) from None
