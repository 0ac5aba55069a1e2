"""Exceptions raised by prelabel.

    PrelabelError                 base class; every error prelabel raises on purpose
    ├── SOPError                  an SOP file is invalid; ``.problems`` lists every problem found
    ├── ItemError                 one input item is unusable (missing id/text, unreadable image, ...)
    ├── TemplateError             a prompt template is missing or fails to render
    ├── EndpointError             the model endpoint cannot be used (auth, quota, unknown model, unreachable)
    ├── LabelingError             one item could not be labeled after all retries
    └── InputError                other bad input (items file, human labels, options)

Batch runs never raise ``ItemError`` or ``LabelingError`` mid-run: they become error records.

Secrets never reach a message: ``add_secret`` registers the configured API key (and a password in a base
URL) when an endpoint is resolved, and every ``PrelabelError`` message, error record, log line of the HTTP
stack and file a run writes passes through ``redact``.

    >>> add_secret("PROXYKEY-SECRET-123")
    >>> str(EndpointError("401: key PROXYKEY-SECRET-123 is not valid"))
    '401: key *** is not valid'
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EndpointError",
    "InputError",
    "ItemError",
    "LabelingError",
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


class EndpointError(PrelabelError):
    """The model endpoint is unusable (auth, quota, unknown model, unreachable after retries)."""

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None):
        self.status_code = status_code
        self.code = code
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
