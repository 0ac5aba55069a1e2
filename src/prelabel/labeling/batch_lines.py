"""The lines of a Batch API run: request files going up, output and error lines coming back as results.

>>> requests = RequestFile()
>>> requests.add(0, "a1", "hash", b'{"custom_id": "0"}')
>>> requests.fits(b"x" * 10, max_requests=1, max_bytes=1000), requests.positions
(False, [0])
>>> read_lines(b'{"custom_id": "0"}\\nnot json\\n')
[{'custom_id': '0'}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prelabel._jsonio import write_bytes
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.result import LabelResult

__all__ = ["BATCH_FAILURES", "RequestFile", "read_lines", "result_of_line"]

#: Error types of batch lines without an answer; ``collect_batch(fallback=True)`` sends their items online.
BATCH_FAILURES = ("batch_expired", "batch_failed", "batch_missing")


class RequestFile:
    """One batch's request JSONL being built: its lines, and the position, item id and item digest of each."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.entries: list[tuple[Any, ...]] = []
        self._lines: list[bytes] = []
        self._bytes = 0

    def fits(self, line: bytes, max_requests: int, max_bytes: int) -> bool:
        """True when ``line`` can join this file within the per-batch limits."""
        return len(self._lines) < max_requests and self._bytes + len(line) + 1 <= max_bytes

    def add(
        self,
        position: int,
        item_id: str | None,
        digest: str,
        line: bytes,
        masked: dict[str, int] | None = None,
    ) -> None:
        """Append the request line of the item at ``position`` (``masked``: what was masked in it, recorded
        on its result when the batch is collected)."""
        self.positions.append(position)
        self.entries.append((item_id, digest, masked) if masked else (item_id, digest))
        self._lines.append(line)
        self._bytes += len(line) + 1

    def content(self) -> bytes:
        """The JSONL bytes to upload."""
        return b"".join(line + b"\n" for line in self._lines)

    def save(self, path: Path) -> Path:
        """Write the file (atomically) and return its path."""
        write_bytes(path, self.content())
        return path


def read_lines(content: bytes) -> list[dict[str, Any]]:
    """The JSON objects of an output or error file (lines that are not JSON objects are skipped)."""
    lines = []
    for raw in content.decode("utf-8", errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


def result_of_line(labeler: Labeler, item_id: str, line: dict[str, Any]) -> LabelResult:
    """The result of one output or error line: the validated answer, or a ``batch_*`` error record."""
    from openai.types.chat import ChatCompletion

    response = line.get("response") or {}
    body = response.get("body")
    status = response.get("status_code")
    if status == 200 and isinstance(body, dict) and not line.get("error"):
        try:
            completion = ChatCompletion.model_validate(body)
        except ValidationError:
            return labeler.error_result(item_id, "batch_failed", "the batch answered with no chat completion")
        return labeler.result_of(item_id, completion)
    error = line.get("error") or (body.get("error") if isinstance(body, dict) else None) or {}
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else str(error)
    kind = "batch_expired" if code == "batch_expired" else "batch_failed"
    http = f" (HTTP {status})" if status else ""
    why = message or code or "error"
    return labeler.error_result(item_id, kind, f"Batch API request failed{http}: {why}")
