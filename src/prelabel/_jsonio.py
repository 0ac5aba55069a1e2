"""Writing the files prelabel produces (metrics.json, run.json, reports): UTF-8, indented, readable; an
output location that cannot be written is one ``InputError`` line, never a traceback."""

from __future__ import annotations

import json
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


def _cannot_write(exc: OSError, path: Path) -> InputError:
    where = exc.filename if exc.filename is not None else path
    return InputError(f"cannot write {where}: {exc.strerror or exc}")
