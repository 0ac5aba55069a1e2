"""Small media files for tests, generated with PyAV (importable like ``helpers``): videos whose frames have
known solid colours (one colour per second), audio-only files, damaged files, a loopback file server."""

from __future__ import annotations

import base64
import functools
import http.server
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np
from PIL import Image

#: One colour per second of a generated video: red, green, blue, yellow, magenta, cyan, white, grey, ...
COLOURS = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
    (128, 128, 128),
    (128, 0, 0),
    (0, 128, 0),
]


def write_video(
    path: Path,
    seconds: int = 8,
    *,
    fps: int = 5,
    size: tuple[int, int] = (160, 96),
    codec: str = "mpeg4",
    gop: int | None = None,
) -> Path:
    """A video showing ``COLOURS[s % len(COLOURS)]`` during second ``s``; ``size`` is (width, height)."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        for index in range(seconds * fps):
            pixels = np.zeros((height, width, 3), np.uint8)
            pixels[:] = COLOURS[(index // fps) % len(COLOURS)]
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A WAV-in-Matroska file with a tone and no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(int(8000 * seconds)) / 5) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_unknown_codec(path: Path) -> Path:
    """A Matroska video whose codec id names no codec (``V_UNCOMPRESSED`` renamed in place)."""
    write_video(path, 2, codec="rawvideo")
    data = path.read_bytes()
    assert b"V_UNCOMPRESSED" in data
    path.write_bytes(data.replace(b"V_UNCOMPRESSED", b"V_PRELABELXYZ0"))
    return path


def colour_of(jpeg_or_url: bytes | str) -> tuple[int, int, int]:
    """The colour at the centre of a JPEG (bytes or a ``data:image/jpeg;base64,`` URL)."""
    data = jpeg_or_url
    if isinstance(data, str):
        data = base64.b64decode(data.split(",", 1)[1])
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))  # type: ignore[return-value]


def jpeg_size(url: str) -> tuple[int, int]:
    """Width and height of a ``data:image/jpeg;base64,`` URL's image."""
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size


def near(colour: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    """True when ``colour`` is ``expected`` give or take JPEG and YUV rounding."""
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def nearest(colour: tuple[int, int, int]) -> int:
    """The index in ``COLOURS`` of the colour nearest ``colour``."""
    return min(
        range(len(COLOURS)),
        key=lambda i: sum((a - b) ** 2 for a, b in zip(colour, COLOURS[i], strict=True)),
    )


@contextmanager
def file_server(root: Path) -> Iterator[str]:
    """Serve ``root`` over http on 127.0.0.1; yields the base URL (``http://127.0.0.1:PORT``)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
