"""Keyframes of a video item, by seeking: what the model sees of a short video or a livestream recording.

``sample_frames`` opens the file (or URL) with PyAV (extra ``prelabel[video]``), plans ``max_frames``
timestamps spread uniformly over the duration (the middle of each of ``max_frames`` equal spans), and for
each one seeks to the keyframe before it and decodes forward to the first frame at or after it. Only a few
group-of-pictures per frame are decoded, never the whole file, so a two-hour recording costs about what a
ten-second clip costs (``benchmarks/video_sampling.py``). Each frame is scaled to fit ``max_side`` pixels
(never enlarged) and encoded as JPEG.

Uniform, not scene-change sampling: finding scene changes means decoding every frame (or every keyframe) of
the file, which is the cost a two-hour recording cannot pay, and for the short clips where it could, eight
frames spread over the clip already land in most shots. Unreadable media raise ``MediaError`` with the
reason (empty, not a video, audio only, an unsupported codec, truncated, unreachable).

    >>> scaled_size(1920, 1080, 768)
    (768, 432)
    >>> plan_timestamps(10.0, 4)
    [1.25, 3.75, 6.25, 8.75]
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from prelabel.inputs.media import MediaError, MediaPolicy, check_resolved_host, local_path

__all__ = [
    "DEFAULT_FRAME_SIZE",
    "DEFAULT_MAX_FRAMES",
    "VIDEO_EXTRA",
    "Frame",
    "VideoInfo",
    "VideoSampling",
    "data_uri",
    "plan_timestamps",
    "probe_video",
    "sample_frames",
    "scaled_size",
    "thumbnails",
]

DEFAULT_MAX_FRAMES = 8
#: The longest side of a frame sent, in pixels (OpenAI scales high-detail images to 768 px on the short side).
DEFAULT_FRAME_SIZE = 768
VIDEO_EXTRA = "video items need PyAV: pip install 'prelabel[video]'"
_OPEN_TIMEOUT_S = 10.0  # a video URL must answer within this; every read too
_MAX_DECODED = 600  # frames decoded forward from a seek point at most (a 20-s group of pictures at 30 fps)


@dataclass(frozen=True)
class VideoSampling:
    """How a video item is sampled: at most ``max_frames`` frames, each at most ``max_side`` px."""

    max_frames: int = DEFAULT_MAX_FRAMES
    max_side: int = DEFAULT_FRAME_SIZE
    media: MediaPolicy = field(default_factory=MediaPolicy)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says: duration (seconds) and the size of its frames."""

    duration: float
    width: int
    height: int


@dataclass(frozen=True)
class Frame:
    """One sampled frame: its time in the video (seconds), its size once scaled, and its JPEG bytes."""

    timestamp: float
    width: int
    height: int
    jpeg: bytes


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled to fit ``max_side`` (never enlarged), both sides even (JPEG 4:2:0)."""
    scale = min(1.0, max_side / max(width, height, 1))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def plan_timestamps(duration: float, count: int) -> list[float]:
    """``count`` times spread uniformly over ``duration``: the middle of each of ``count`` equal spans."""
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise MediaError(VIDEO_EXTRA) from None
    return av


def _open(ref: str, policy: MediaPolicy) -> Any:
    """The opened container of ``ref`` (a path or URL), or ``MediaError`` saying why it cannot be read."""
    av = _av()
    path = local_path(ref)
    if path is None:  # a URL: prelabel fetches it, so its host's addresses are checked first
        check_resolved_host(ref, policy)
        target: str = ref
        options = {"timeout": str(int(_OPEN_TIMEOUT_S * 1_000_000))}
        if not policy.allow_remote:  # a redirect could lead anywhere, the local network included
            options["max_redirects"] = "0"
    else:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise MediaError(f"cannot read video '{ref}': {exc.strerror or exc}") from None
        if size == 0:
            raise MediaError(f"video '{ref}' is empty (0 bytes)")
        target, options = str(path), {}
    try:
        return av.open(target, options=options, timeout=_OPEN_TIMEOUT_S)
    except av.error.ExitError as exc:  # ffmpeg's "immediate exit requested": the read timed out
        raise MediaError(f"cannot reach video '{ref}': {exc.strerror or exc}") from None
    except (av.error.HTTPError, av.error.ConnectionRefusedError, av.error.TimeoutError) as exc:
        raise MediaError(f"cannot reach video '{ref}': {exc.strerror or exc}") from None
    except av.error.FFmpegError as exc:
        if path is None and _network_error(exc):
            raise MediaError(f"cannot reach video '{ref}': {exc.strerror or exc}") from None
        raise MediaError(
            f"video '{ref}' is corrupt, truncated or not a video ({exc.strerror or exc})"
        ) from None
    except OSError as exc:
        raise MediaError(f"cannot read video '{ref}': {exc.strerror or exc}") from None


def _network_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("connection", "network", "timed out", "host", "i/o error", "http"))


def _video_stream(container: Any, ref: str) -> Any:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        have = f" ({', '.join(kinds)} only)" if kinds else ""
        raise MediaError(f"video '{ref}' has no video stream{have}")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        raise MediaError(f"video '{ref}' uses a codec this PyAV build cannot decode")
    return stream


def _info(container: Any, stream: Any, ref: str) -> VideoInfo:
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = 0.0
    if not duration > 0 or not math.isfinite(duration):
        raise MediaError(f"video '{ref}' has no known duration (a zero-length or damaged video)")
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise MediaError(f"video '{ref}' has no frame size (a damaged header or an unsupported codec)")
    return VideoInfo(duration=duration, width=int(width), height=int(height))


def probe_video(ref: str, policy: MediaPolicy | None = None) -> VideoInfo:
    """Duration and frame size from ``ref``'s header (nothing decoded); ``MediaError`` when unreadable."""
    container = _open(ref, policy or MediaPolicy())
    try:
        return _info(container, _video_stream(container, ref), ref)
    finally:
        container.close()


def sample_frames(ref: str, sampling: VideoSampling | None = None) -> tuple[VideoInfo, list[Frame]]:
    """The video's header and up to ``max_frames`` frames, in time order, found by seeking (see above)."""
    sampling = sampling or VideoSampling()
    av = _av()
    container = _open(ref, sampling.media)
    try:
        stream = _video_stream(container, ref)
        info = _info(container, stream, ref)
        stream.thread_type = "AUTO"
        size = scaled_size(info.width, info.height, sampling.max_side)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        frames = []
        slack = info.duration / sampling.max_frames / 2  # a frame anywhere in its span will do at the end
        for at in plan_timestamps(info.duration, sampling.max_frames):
            found = _frame_at(container, stream, start + at, slack, ref, av)
            if found is None:
                raise MediaError(
                    f"video '{ref}' is truncated: no frame at {at:.1f} s of its {info.duration:.1f} s"
                )
            frames.append(_frame(found, max(0.0, (found.time or 0.0) - start), size, av))
        return info, frames
    finally:
        container.close()


def _frame_at(container: Any, stream: Any, at: float, slack: float, ref: str, av: Any) -> Any:
    """The first frame at or after ``at`` seconds (seek to the keyframe before it, decode forward); when the
    video ends first, its last frame if it is at most ``slack`` s before ``at``, else ``None``."""
    last = None
    try:
        container.seek(int(at / stream.time_base), stream=stream, backward=True, any_frame=False)
        for decoded, frame in enumerate(container.decode(stream)):
            if frame.time is not None and frame.time >= at - 1e-3:
                return frame
            if decoded >= _MAX_DECODED:
                return frame  # a very long group of pictures: the nearest frame decoded so far
            last = frame
    except av.error.FFmpegError as exc:
        raise MediaError(f"video '{ref}' cannot be decoded: {exc.strerror or exc}") from None
    if last is not None and last.time is not None and last.time >= at - slack:
        return last
    return None


def _frame(frame: Any, timestamp: float, size: tuple[int, int], av: Any) -> Frame:
    width, height = size
    scaled = frame.reformat(width=width, height=height, format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    jpeg = b"".join(bytes(packet) for packet in [*encoder.encode(scaled), *encoder.encode(None)])
    return Frame(timestamp=round(timestamp, 3), width=width, height=height, jpeg=jpeg)


def thumbnails(ref: str, count: int = 4, side: int = 160, policy: MediaPolicy | None = None) -> list[Frame]:
    """``count`` small frames of a video for documents (the compare report, guidelines): sampled as a run
    samples them, ``side`` px on the long side (``MediaError`` when unreadable)."""
    sampling = VideoSampling(max_frames=count, max_side=side, media=policy or MediaPolicy(confine=False))
    return sample_frames(ref, sampling)[1]


def data_uri(frame: Frame) -> str:
    """A frame as a ``data:image/jpeg;base64,`` URI (for self-contained HTML)."""
    return "data:image/jpeg;base64," + base64.b64encode(frame.jpeg).decode("ascii")
