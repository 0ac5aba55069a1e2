"""Writing the files prelabel produces (metrics.json, run.json, reports): UTF-8, indented, readable; an
output location that cannot be written is one ``InputError`` line, never a traceback.

``check_output`` is the one check of an output location, made before any work (a model call, a render):

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "new" / "guide.html"
    >>> check_output(out) == out, out.parent.exists()  # probed, then removed again: nothing left behind
    (True, False)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prelabel.errors import InputError


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON (non-ASCII kept, whatever the locale), newline-terminated."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """Create ``path``'s parent folders, then run the block that writes ``path`` (and files beside it); an
    ``OSError`` on the way (a parent that is a file, a directory where a file should be, a full or read-only
    disk) becomes ``InputError("cannot write PATH: reason")``."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        yield out
    except OSError as exc:
        raise _cannot_write(exc, out) from None


def make_parents(path: str | Path) -> Path:
    """``path`` with its parent folders created, or ``InputError("cannot write PATH: reason")``."""
    with writing(path) as out:
        return out


def check_output(path: str | Path, *, overwrite: bool = True, directory: bool = False) -> Path:
    """``path`` if it can be written, else ``InputError`` (exit 2), before any work is done.

    A file output (``directory=False``) must not be a directory, nor an existing file unless ``overwrite``
    (``--force``), nor a file that cannot be opened for writing; a directory output must not be a file. The
    folder that is to hold the output must exist or be creatable, and take a new file: it is probed with a
    temporary file, and folders created for the probe are removed again (the writer creates them for real).
    """
    out = Path(path)
    if directory:
        if out.exists() and not out.is_dir():
            raise InputError(f"{out} is a file; -o takes a directory (it is created if missing)")
        folder = out
    else:
        if out.is_dir():
            raise InputError(f"{out} is a directory; give a file name")
        if out.exists() and not overwrite:
            raise InputError(f"{out} already exists; pass --force to overwrite it")
        if out.exists() and not os.access(out, os.W_OK):
            raise InputError(f"cannot write {out}: Permission denied")
        folder = out.parent
    _probe(folder)
    return out


def _probe(folder: Path) -> None:
    """Raise ``InputError`` unless a file can be created in ``folder`` (created for the probe if missing)."""
    if folder.exists() and not folder.is_dir():  # mkdir would say "File exists"
        raise InputError(f"cannot write {folder}: Not a directory")
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # read-only, not ours, or no space for an inode: fail now
            pass
    except OSError as exc:
        raise _cannot_write(exc, folder) from None
    finally:
        for made in created:  # a rejected input, or one checked before the work, leaves no folder behind
            with contextlib.suppress(OSError):
                made.rmdir()


def _cannot_write(exc: OSError, path: Path) -> InputError:
    where = exc.filename if exc.filename is not None else path
    return InputError(f"cannot write {where}: {exc.strerror or exc}")
