"""Frames between the caller and the model worker: a 4-byte big-endian length, then one JSON object."""

from __future__ import annotations

import json
import struct
from typing import IO, Any

_HEADER = struct.Struct(">I")


def write_frame(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one message and flush."""
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """Read one message; ``None`` at end of stream (the other side is gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    message = json.loads(data)
    return message if isinstance(message, dict) else None
