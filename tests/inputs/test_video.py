"""Keyframes by seeking (``prelabel.inputs.video``), the item digest of video items, and ``prelabel render``
listing frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli
from media_files import colour_of, nearest, write_video
from prelabel.inputs.digest import item_digest, video_digest
from prelabel.inputs.items import Item
from prelabel.inputs.media import MediaError
from prelabel.inputs.video import VideoSampling, plan_timestamps, probe_video, sample_frames

SOP = prelabel.bundled_sop("customer_feedback_intent")


def test_frames_in_order_at_their_times_within_the_size_bound(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mkv", 10, fps=10, size=(1000, 400), gop=50)
    info, frames = sample_frames(str(clip), VideoSampling(max_frames=5, max_side=250))
    assert (info.duration, info.width, info.height) == (10.0, 1000, 400)
    assert [f.timestamp for f in frames] == [1.0, 3.0, 5.0, 7.0, 9.0]  # the middles of five 2-s spans
    assert [nearest(colour_of(f.jpeg)) for f in frames] == [1, 3, 5, 7, 9]
    assert {(f.width, f.height) for f in frames} == {(250, 100)}
    assert all(f.jpeg.startswith(b"\xff\xd8") for f in frames)


def test_a_small_video_is_never_enlarged_and_one_frame_is_the_middle(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mkv", 4, size=(160, 96))
    _, (frame,) = sample_frames(str(clip), VideoSampling(max_frames=1))
    assert (frame.width, frame.height, frame.timestamp) == (160, 96, 2.0)
    assert nearest(colour_of(frame.jpeg)) == 2


def test_probe_reads_the_header_only(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mkv", 3)
    info = probe_video(str(clip))
    assert (info.duration, info.width, info.height) == (3.0, 160, 96)
    assert plan_timestamps(3.0, 3) == [0.5, 1.5, 2.5]


def test_a_missing_pyav_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    clip = write_video(tmp_path / "clip.mkv", 1)
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with pytest.raises(MediaError, match=r"pip install 'prelabel\[video\]'"):
        sample_frames(str(clip))


def test_the_digest_covers_the_video_bytes_and_its_texts(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mkv", 2)
    item = Item(id="v", text="t", video=str(clip))
    first = item_digest(item)
    assert item_digest(Item(id="other", text="t", video=str(clip))) == first
    write_video(clip, 3)  # a replaced file at the same path is new content
    assert item_digest(item) != first
    assert item_digest(Item(id="v", text="t", video=str(clip), transcript="hi")) != item_digest(item)
    assert item_digest(Item(id="v", text="t", video=str(clip), ocr_text="50%")) != item_digest(item)
    # a text item's digest is the one earlier versions computed (no video keys)
    assert item_digest(Item(id="a", text="late parcel")) == item_digest(Item(id="b", text="late parcel"))


def test_a_large_video_is_digested_from_spread_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prelabel.inputs.digest as digest

    monkeypatch.setattr(digest, "_WHOLE_VIDEO", 1024)
    monkeypatch.setattr(digest, "_CHUNK", 16)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 64)
    first = video_digest(big)
    assert first is not None and first.startswith("sampled:")
    data = bytearray(big.read_bytes())
    data[-1] ^= 0xFF  # the last chunk is always read
    big.write_bytes(bytes(data))
    assert video_digest(big) != first
    assert video_digest(tmp_path / "missing.bin") is None


def test_render_lists_frames_instead_of_base64(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mkv", 4)
    item = json.dumps({"id": "1", "text": "clip", "video": str(clip), "transcript": "hello there"})
    code, out, err = run_cli(
        capsys, "render", str(prelabel.bundled_sop_path("customer_feedback_intent")), "--item", item,
        "--max-frames", "2",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert "base64" not in out
    assert [(m["kind"], m["timestamp"], m["width"], m["height"]) for m in shown["media"]] == [
        ("frame", 1.0, 160, 96),
        ("frame", 3.0, 160, 96),
    ]
    urls = [p["image_url"]["url"] for p in shown["messages"][1]["content"] if p["type"] == "image_url"]
    assert urls[0].startswith(f"frame at 1.00 s of {clip} (160x96 JPEG, ")


def test_estimates_plan_frames_without_decoding(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mkv", 4)
    prompt = prelabel.render_prompt(
        SOP, Item(id="v", video=str(clip)), embed_images=False, video=VideoSampling(max_frames=2)
    )
    assert [(m.timestamp, m.size_bytes) for m in prompt.media] == [(1.0, 0), (3.0, 0)]


def test_a_video_url_redirecting_elsewhere_is_not_followed_unless_remote_media_is_allowed(
    tmp_path: Path,
) -> None:
    """A public URL could redirect to the local network: redirects are refused (the checked host is the
    only one fetched); with ``allow_remote`` they are followed."""
    import http.server
    import threading

    from media_files import file_server
    from prelabel.inputs.media import MediaPolicy

    write_video(tmp_path / "clip.mkv", 2)
    with file_server(tmp_path) as base:

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", f"{base}/clip.mkv")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/clip.mkv"
            unchecked_hosts = MediaPolicy(confine=False)  # the loopback host itself let through
            with pytest.raises(MediaError, match="cannot reach video"):
                sample_frames(url, VideoSampling(max_frames=1, media=unchecked_hosts))
            _, frames = sample_frames(url, VideoSampling(max_frames=1, media=MediaPolicy(allow_remote=True)))
            assert len(frames) == 1
        finally:
            server.shutdown()
            server.server_close()
