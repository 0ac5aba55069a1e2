"""Exceptions raised by prelabel.

    PrelabelError                 base class; every error prelabel raises on purpose
    ├── SOPError                  an SOP file is invalid; ``.problems`` lists every problem found
    ├── ItemError                 one input item is unusable (missing id/text, unreadable image, ...)
    ├── TemplateError             a prompt template is missing or fails to render
    ├── EndpointError             the model endpoint cannot be used (auth, quota, unknown model, unreachable)
    ├── LabelingError             one item could not be labeled after all retries
    └── InputError                other bad input (items file, human labels, options)

Batch runs never raise ``ItemError`` or ``LabelingError`` mid-run: they become error records.
"""

from __future__ import annotations

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
]


class PrelabelError(Exception):
    """Base class of every error prelabel raises on purpose."""


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
