"""``prelabel run`` over video items against the loopback fake server: which frames arrive, in which order,
with which times; transcripts; bad and refused media as error records while the run goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import run_cli
from media_files import (
    COLOURS,
    colour_of,
    file_server,
    jpeg_size,
    nearest,
    write_audio_only,
    write_unknown_codec,
    write_video,
)
from prelabel.testing.fake import FakeServer

Capture = pytest.CaptureFixture[str]
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-video-test-0000000000")


def write_items(folder: Path, rows: list[dict[str, Any]]) -> Path:
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def user_parts(server: FakeServer, text: str) -> list[dict[str, Any]]:
    """The user message's parts of the request whose item text is ``text``."""
    for record in server.requests:
        user = next(m for m in record.body["messages"] if m["role"] == "user")
        if isinstance(user["content"], list) and f"\n{text}\n" in user["content"][0]["text"]:
            return list(user["content"])
    raise AssertionError(f"no request for {text!r}")


def frames_sent(parts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(the text part before it, the image URL) of every image part."""
    return [
        (parts[i - 1]["text"], part["image_url"]["url"])
        for i, part in enumerate(parts)
        if part["type"] == "image_url"
    ]


def test_run_sends_keyframes_in_order_with_times_and_the_transcript(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    write_video(tmp_path / "clip.mkv", 8, size=(1280, 720))
    items = write_items(
        tmp_path,
        [
            {
                "id": "v1",
                "text": "seller livestream",
                "video": "clip.mkv",
                "transcript": "buy now, only today",
                "ocr_text": "50% OFF",
            },
            {"id": "t1", "text": "a plain text item"},
        ],
    )
    out = tmp_path / "run"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--max-frames", "4",
        "--frame-size", "320",
    )  # fmt: skip
    assert code == 0, stderr
    assert [line["status"] for line in lines(out)] == ["ok", "ok"]
    parts = user_parts(server, "seller livestream")
    sent = frames_sent(parts)
    # 4 frames spread over 8 s: the middles of 0-2, 2-4, 4-6 and 6-8 s, in order, each after its time
    assert [label for label, _ in sent] == [f"Frame at {t:.2f} s:" for t in (1.0, 3.0, 5.0, 7.0)]
    assert [nearest(colour_of(url)) for _, url in sent] == [1, 3, 5, 7]
    assert all(colour_of(url) != COLOURS[0] for _, url in sent)
    assert {jpeg_size(url) for _, url in sent} == {(320, 180)}  # scaled to fit 320 px, aspect kept
    texts = [p["text"] for p in parts if p["type"] == "text"]
    assert "The item's video lasts 8.0 s; 4 frames follow in time order, each after its time." in texts
    transcript = next(t for t in texts if t.startswith("Transcript of the video"))
    assert "buy now, only today" in transcript
    assert any("50% OFF" in t for t in texts if t.startswith("Text shown in the video"))
    assert parts[-1]["text"].startswith("Text shown in the video")  # the texts follow the frames


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (
            lambda p: p.write_bytes(b"\x1a\x45\xdf\xa3 definitely not a video" * 50),
            "corrupt, truncated or not",
        ),
        (lambda p: write_audio_only(p), "has no video stream (audio only)"),
        (lambda p: write_unknown_codec(p), "uses a codec this PyAV build cannot decode"),
        (
            lambda p: p.write_bytes(write_video(p.with_suffix(".full.mkv"), 8).read_bytes()[:2500]),
            "truncated",
        ),
        (lambda p: None, "cannot read video"),  # no such file
    ],
    ids=["zero-length", "corrupt", "audio-only", "unknown-codec", "truncated", "missing"],
)
def test_bad_media_is_an_error_record_and_the_run_goes_on(
    capsys: Capture, tmp_path: Path, server: FakeServer, make: Any, reason: str
) -> None:
    make(tmp_path / "bad.mkv")
    write_video(tmp_path / "good.mkv", 2)
    items = write_items(
        tmp_path,
        [
            {"id": "bad", "video": "bad.mkv"},
            {"id": "good", "text": "fine clip", "video": "good.mkv"},
        ],
    )
    out = tmp_path / "run"
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)
    assert "Traceback" not in stderr
    assert code == 0, stderr
    bad, good = lines(out)
    assert bad["status"] == "error" and bad["error"]["type"] == "invalid_item"
    assert reason in bad["error"]["message"]
    assert good["status"] == "ok"
    assert len(server.requests) == 1  # nothing sent for the bad one


def test_media_outside_the_items_folder_is_refused_and_media_root_allows_it(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    (tmp_path / "items").mkdir()
    (tmp_path / "media").mkdir()
    write_video(tmp_path / "media" / "clip.mkv", 2)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    (tmp_path / "items" / "link.png").symlink_to(secret)
    items = write_items(
        tmp_path / "items",
        [
            {"id": "abs", "text": "x", "images": [str(secret)]},
            {"id": "dots", "text": "x", "video": "../media/clip.mkv"},
            {"id": "link", "text": "x", "images": ["link.png"]},
            {"id": "file", "text": "x", "video": (tmp_path / "media" / "clip.mkv").as_uri()},
            {"id": "ok", "text": "a text"},
        ],
    )
    out = tmp_path / "run"
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)
    assert code == 0, stderr
    got = {line["item_id"]: line for line in lines(out)}
    messages = {k: (v["error"] or {}).get("message", "") for k, v in got.items()}
    assert "is outside the media root" in messages["abs"]
    assert "escapes the media root" in messages["dots"]
    assert "is a link to a file outside the media root" in messages["link"]
    assert "is a file:// URL" in messages["file"]
    assert got["ok"]["status"] == "ok"
    assert len(server.requests) == 1  # nothing of the refused items left the machine

    # the folder holding both, named with --media-root, lets the '..' path through
    out2 = tmp_path / "run2"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out2), "--base-url", server.url,
        "--media-root", str(tmp_path),
    )  # fmt: skip
    assert code == 0, stderr
    statuses = {line["item_id"]: line["status"] for line in lines(out2)}
    assert statuses["dots"] == "ok" and statuses["abs"] == "ok" and statuses["file"] == "error"


def test_video_urls_on_the_local_network_need_allow_remote_media(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    write_video(tmp_path / "clip.mkv", 4)
    with file_server(tmp_path) as base:
        items = write_items(
            tmp_path,
            [
                {"id": "remote", "text": "served clip", "video": f"{base}/clip.mkv"},
                {"id": "gone", "text": "missing clip", "video": f"{base}/missing.mkv"},
                {"id": "closed", "text": "closed port", "video": "http://127.0.0.1:9/clip.mkv"},
            ],
        )
        out = tmp_path / "run"
        code, _, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url
        )
        assert code == 2, stderr  # every item unusable
        refused = lines(out)
        assert all("points to a local-network address (127.0.0.1)" in x["error"]["message"] for x in refused)
        assert "--allow-remote-media" in refused[0]["error"]["message"]

        out2 = tmp_path / "run2"
        code, _, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items), "-o", str(out2), "--base-url", server.url,
            "--allow-remote-media", "--max-frames", "2",
        )  # fmt: skip
    assert code == 0, stderr
    remote, gone, closed = lines(out2)
    assert remote["status"] == "ok"
    assert "cannot reach video" in gone["error"]["message"] and "404" in gone["error"]["message"]
    assert "cannot reach video" in closed["error"]["message"]
    sent = frames_sent(user_parts(server, "served clip"))
    assert [label for label, _ in sent] == ["Frame at 1.00 s:", "Frame at 3.00 s:"]
    assert [nearest(colour_of(url)) for _, url in sent] == [1, 3]
