"""An image's size from its first bytes (PNG, GIF, JPEG, WEBP), without decoding it or needing Pillow.

Dry runs and ``--max-item-tokens`` count an image's tokens from its size (``prelabel.llm.image_tokens``).

    >>> size = (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    >>> image_size(b"\\x89PNG\\r\\n\\x1a\\n" + b"\\x00\\x00\\x00\\rIHDR" + size)
    (640, 480)
    >>> image_size(b"not an image") is None
    True
"""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["HEAD_BYTES", "image_file_size", "image_size"]

#: Bytes read from the start of a file to find its size (a JPEG's size follows its EXIF block).
HEAD_BYTES = 256 * 1024
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of the image whose first bytes are ``data``, or ``None`` when not found."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    return None


def image_file_size(path: Path) -> tuple[int, int] | None:
    """``image_size`` of a file's first bytes (``None`` when unreadable or unknown)."""
    try:
        with path.open("rb") as handle:
            return image_size(handle.read(HEAD_BYTES))
    except OSError:
        return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None
