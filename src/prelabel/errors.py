"""Exceptions raised by prelabel.

    PrelabelError                 base class; every error prelabel raises on purpose
    ├── SOPError                  an SOP file is invalid; ``.problems`` lists every problem found
    ├── ItemError                 one input item is unusable (missing id/text, unreadable image, ...)
    ├── TemplateError             a prompt template is missing or fails to render
    ├── EndpointError             the model endpoint cannot be used (auth, quota, unknown model, unreachable)
    ├── LabelingError             one item could not be labeled after all retries
    ├── BudgetError               the next request would cross the spending limit (``max_cost``)
    └── InputError                other bad input (items file, human labels, options)
        └── OutputError           an output file cannot be written (full disk, quota, read-only, not ours)

Batch runs never raise ``ItemError`` or ``LabelingError`` mid-run: they become error records.

Secrets never reach a message: ``add_secret`` registers the configured API key (and a password in a base
URL) when an endpoint is resolved, and every ``PrelabelError`` message, error record, log line of the HTTP
stack and file a run writes passes through ``redact``.

    >>> add_secret("PROXYKEY-SECRET-123")
    >>> str(EndpointError("401: key PROXYKEY-SECRET-123 is not valid"))
    '401: key *** is not valid'
"""

from __future__ import annotations

import errno as errnos
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "BudgetError",
    "EndpointError",
    "InputError",
    "ItemError",
    "LabelingError",
    "OutputError",
    "PrelabelError",
    "Problem",
    "SOPError",
    "TemplateError",
    "add_secret",
    "redact",
]

#: Registered secrets shorter than this are placeholders (``EMPTY``, ``ollama``), not keys: not redacted.
MIN_SECRET_LENGTH = 8
_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{2,}|Bearer\s+\S+)")
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):[^/\s@]+@")  # http://user:PASSWORD@host
_SECRETS: list[str] = []  # longest first, so a key containing another is replaced whole
_LOCK = threading.Lock()
_HTTP_LOGGERS = frozenset({"openai", "httpx", "httpx2", "httpcore", "httpcore2", "instructor"})


def add_secret(secret: str | None) -> None:
    """Register a secret (an API key, a password) that ``redact`` replaces in every message from now on."""
    if not secret or len(secret) < MIN_SECRET_LENGTH or secret in _SECRETS:
        return
    with _LOCK:
        if secret not in _SECRETS:
            if not _SECRETS:
                _install_log_redaction()
            _SECRETS.append(secret)
            _SECRETS.sort(key=len, reverse=True)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with registered secrets, the given ``secrets`` and anything that looks like an API key
    (``sk-...``, ``Bearer ...``, a password in a URL) replaced by ``***``."""
    for secret in (*secrets, *_SECRETS):
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1:***@", _PATTERN.sub("***", text))


def _install_log_redaction() -> None:
    """Redact the log records of the HTTP stack (a request URL may carry a password, a body the key): a record
    factory, because those libraries log through child loggers (``openai._base_client``) that filters miss."""
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if record.name.split(".", 1)[0] in _HTTP_LOGGERS:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and not record.exc_text:  # the traceback a handler would print
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


class PrelabelError(Exception):
    """Base class of every error prelabel raises on purpose; its message never shows a registered secret."""

    def __init__(self, *args: Any):
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


@dataclass(frozen=True)
class Problem:
    """One problem in an SOP file, located at a YAML node (1-based line and column)."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        path = self.path or "<root>"
        return f"{self.file}:{self.line}:{self.col}: {path}: {self.message}"


class SOPError(PrelabelError):
    """An SOP could not be loaded; ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


class ItemError(PrelabelError):
    """An input item is unusable; carries the item id (when known) and the input position."""

    def __init__(self, message: str, *, item_id: str | None = None, index: int | None = None):
        self.item_id = item_id
        self.index = index
        super().__init__(message)


class TemplateError(PrelabelError):
    """A prompt template is missing or failed to render."""


class InputError(PrelabelError):
    """Bad input other than an SOP: an items file, a human-labels file, an option."""


#: The ``errno`` values of a write that failed for want of room: the advice is to free space and rerun.
_NO_ROOM = {errnos.ENOSPC: "no space left on device"}
if hasattr(errnos, "EDQUOT"):  # pragma: no branch - every POSIX system
    _NO_ROOM[errnos.EDQUOT] = "disk quota exceeded"
#: The ``errno`` values that mean "this output cannot be written here" (mapped to one line, exit 2).
WRITE_ERRNOS = frozenset(
    {*_NO_ROOM, errnos.EFBIG, errnos.EROFS, errnos.EACCES, errnos.EPERM, errnos.ENOTDIR, errnos.EISDIR}
)


class OutputError(InputError):
    """An output file cannot be written: a full disk or quota, a read-only or foreign folder, a file where a
    folder should be. ``path`` is the file (or folder) and ``errno`` the reason; the writer left nothing
    half-written behind (``prelabel._jsonio``). Build it with ``OutputError.of(os_error, path)``.

        >>> import errno
        >>> str(OutputError.of(OSError(errno.ENOSPC, "No space left on device"), "out/x.csv"))
        'no space left on device writing out/x.csv; free space and rerun the same command'
    """

    ERRNOS: ClassVar[frozenset[int]] = WRITE_ERRNOS
    """The ``errno`` values of an ``OSError`` that means an output cannot be written here."""

    def __init__(self, message: str, *, path: str | None = None, errno: int | None = None):
        self.path = path
        self.errno = errno
        super().__init__(message)

    @classmethod
    def of(cls, exc: OSError, path: str | os.PathLike[str] | None = None) -> OutputError:
        """The one-line error for ``exc``, raised while writing ``path`` (default: the file ``exc`` names)."""
        where = os.fspath(path) if path is not None else exc.filename
        where = "an output file" if where is None else os.fsdecode(where)
        room = _NO_ROOM.get(exc.errno or 0)
        if room is not None:
            message = f"{room} writing {where}; free space and rerun the same command"
        else:
            message = f"cannot write {where}: {exc.strerror or exc}"
        return cls(message, path=where, errno=exc.errno)

    def kept(self, what: str) -> OutputError:
        """This error with what was kept despite it appended (``12 finished items are kept``)."""
        return OutputError(f"{self}: {what}", path=self.path, errno=self.errno)


class EndpointError(PrelabelError):
    """The model endpoint is unusable (auth, quota, unknown model, unreachable after retries)."""

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None):
        self.status_code = status_code
        self.code = code
        super().__init__(message)


class BudgetError(PrelabelError):
    """The spending limit (``max_cost``, USD) stops the work: the next request could cross it. ``spent`` is
    what was spent when it stopped; requests already in flight still finish (and are paid)."""

    def __init__(self, message: str, *, spent: float, limit: float):
        self.spent = spent
        self.limit = limit
        super().__init__(message)


class LabelingError(PrelabelError):
    """An item could not be labeled: retries and re-asks are exhausted."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str,
        attempts: int,
        item_id: str | None = None,
        last_output: Any = None,
    ):
        self.error_type = error_type
        self.attempts = attempts
        self.item_id = item_id
        self.last_output = last_output
        super().__init__(message)
