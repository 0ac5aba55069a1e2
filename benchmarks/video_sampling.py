"""Benchmark keyframe sampling (``prelabel.inputs.video.sample_frames``): a two-hour synthetic livestream
recording against a ten-second clip, each sampled in a fresh process, side by side.

Both videos are generated here with PyAV (MPEG-4 part 2 in Matroska, 320 x 180 at 5 fps, a keyframe every
2 s as livestream encoders emit them, one solid colour per second). Prints, per video, the file size, the
wall time and peak RSS of the process that samples it (``os.wait4``), the frames it got, the ratio
two-hour / ten-second, and for contrast the time to decode every frame of the two-hour file (what sampling
without seeking would cost) and to digest it (``prelabel.inputs.digest.video_digest``).

    python benchmarks/video_sampling.py                    # 8 frames, two hours
    python benchmarks/video_sampling.py --frames 16 --hours 1 --keep /tmp/videos
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
FPS, SIZE, GOP = 5, (320, 180), 10

SAMPLE = """
import sys, time
from prelabel.inputs.video import VideoSampling, sample_frames
started = time.perf_counter()
info, frames = sample_frames(sys.argv[1], VideoSampling(max_frames=int(sys.argv[2])))
print(f"{time.perf_counter() - started:.3f} {len(frames)} {info.duration:.0f}")
"""

DECODE_ALL = """
import sys, time, av
started = time.perf_counter()
with av.open(sys.argv[1]) as container:
    count = sum(1 for _ in container.decode(video=0))
print(f"{time.perf_counter() - started:.3f} {count}")
"""

DIGEST = """
import sys, time
from pathlib import Path
from prelabel.inputs.digest import video_digest
started = time.perf_counter()
video_digest(Path(sys.argv[1]))
print(f"{time.perf_counter() - started:.3f}")
"""


def write_video(path: Path, seconds: int) -> Path:
    """A synthetic recording: one solid colour per second, a keyframe every ``GOP`` frames."""
    import av
    import numpy as np

    width, height = SIZE
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = GOP
        pixels = np.zeros((height, width, 3), np.uint8)
        for second in range(seconds):
            pixels[:] = ((second * 37) % 256, (second * 91) % 256, (second * 53) % 256)
            pixels[: height // 4, : (second % width) + 1] = 255  # a moving bar: frames differ
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for _ in range(FPS):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def measured(code: str, *args: str) -> tuple[list[str], float, float]:
    """Run ``code`` in a fresh interpreter: its printed fields, wall seconds and peak RSS in MiB."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, env=env, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else ""
    if status != 0:
        raise SystemExit(f"failed: {code[:40]}... {args}")
    return out.split(), wall, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--keep", type=Path, help="Folder to write the videos into (kept).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        short = write_video(folder / "clip-10s.mkv", 10)
        long = write_video(folder / f"recording-{args.hours:g}h.mkv", int(args.hours * 3600))
        print(f"generated both videos in {time.perf_counter() - started:.1f} s")
        rows: dict[str, Any] = {}
        for name, path in (("10-s clip", short), (f"{args.hours:g}-h recording", long)):
            (inner, frames, duration), wall, rss = measured(SAMPLE, str(path), str(args.frames))
            rows[name] = (float(inner), wall, rss)
            print(
                f"{name:>16}: {path.stat().st_size / 2**20:8.1f} MiB, {duration:>6} s long; sampled "
                f"{frames} frames in {float(inner):.3f} s (process {wall:.2f} s), peak RSS {rss:.0f} MiB"
            )
        (short_s, short_wall, short_rss), (long_s, long_wall, long_rss) = rows.values()
        print(
            f"ratio recording / clip: sampling time {long_s / short_s:.2f}x, process time "
            f"{long_wall / short_wall:.2f}x, peak RSS {long_rss / short_rss:.2f}x"
        )
        (decode_s, decoded), _, decode_rss = measured(DECODE_ALL, str(long))
        print(
            f"for contrast, decoding all {decoded} frames of the recording: {float(decode_s):.2f} s "
            f"({float(decode_s) / long_s:.0f}x sampling), peak RSS {decode_rss:.0f} MiB"
        )
        (digest_s,), _, _ = measured(DIGEST, str(long))
        print(f"item digest of the recording (prelabel.inputs.digest.video_digest): {float(digest_s):.3f} s")


if __name__ == "__main__":
    main()
