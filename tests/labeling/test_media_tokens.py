"""Images and video frames in dry runs (the provider's image-token formula) and under --max-item-tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import prelabel
from helpers import run_cli
from media_files import write_video
from prelabel.labeling.item_size import FRAME_TEXT_TOKENS
from prelabel.llm.image_tokens import IMAGE_TOKENS, image_tokens, openai_tokens
from prelabel.testing.fake import FakeModel, FakeServer

SOP = prelabel.bundled_sop_path("customer_feedback_intent")
Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-media-tokens-000000000")
    monkeypatch.delenv("PRELABEL_MODEL", raising=False)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(FakeModel()) as running:
        yield running


@pytest.mark.parametrize(
    ("size", "detail", "tokens"),
    [
        ((1024, 1024), "high", 765),  # OpenAI's worked example: 768 x 768, 4 tiles
        ((2048, 4096), "high", 1105),  # 1024 x 2048 -> 768 x 1536: 6 tiles
        ((4096, 8192), "low", 85),
        ((512, 512), "auto", 255),  # auto counts as high: one tile
        ((None, None), "high", 1445),  # unknown: the largest (2048 x 768, 8 tiles)
    ],
)
def test_openai_tile_formula(size: tuple[int | None, int | None], detail: str, tokens: int) -> None:
    assert openai_tokens("gpt-4o", *size, detail) == tokens


def test_image_tokens_by_backend_and_an_unknown_backend_counts_as_openai() -> None:
    assert image_tokens("vllm", "qwen2-vl", 1024, 1024) == 765
    assert image_tokens("anthropic", "claude", 1000, 1000) == 1334
    assert image_tokens("gemini", "gemini-2.5-flash", 300, 300) == 258
    assert image_tokens("gemini", "gemini-2.5-flash", 1600, 900) == 258 * 6
    assert set(IMAGE_TOKENS) >= {"openai", "anthropic", "gemini"}


def test_dry_run_counts_images_and_frames_by_size(tmp_path: Path) -> None:
    Image.new("RGB", (1024, 1024), "red").save(tmp_path / "photo.png")
    write_video(tmp_path / "clip.mkv", 4, size=(1280, 720))  # frames sent at 768 x 432: 2 tiles = 425
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": "p", "text": "see photo", "images": ["photo.png"]},
        {"id": "v", "text": "see clip", "video": "clip.mkv"},
        {"id": "t", "text": "text only"},
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    text_only = prelabel.estimate(SOP, [{"id": "t", "text": "text only"}], model="gpt-4o")
    guess = prelabel.estimate(SOP, items, model="gpt-4o", max_frames=3)
    assert guess.items == 3 and guess.bad_items == 0
    assert guess.image_tokens == 765 + 3 * 425
    assert guess.prompt_tokens > 3 * text_only.prompt_tokens + guess.image_tokens - 200


def test_dry_run_prints_the_image_tokens(capsys: Capture, tmp_path: Path) -> None:
    write_video(tmp_path / "clip.mkv", 2)
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "v", "video": "clip.mkv"}) + "\n", encoding="utf-8")
    code, out, _ = run_cli(
        capsys, "run", str(SOP), str(items), "-o", str(tmp_path / "r"), "--dry-run", "--model", "gpt-4o",
        "--max-frames", "2",
    )  # fmt: skip
    assert code == 0
    assert "note: ~510 of the prompt tokens are images and video frames" in out  # 2 x (85 + 1 tile of 160x96)


def test_max_item_tokens_sends_fewer_frames_then_refuses(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    write_video(tmp_path / "clip.mkv", 8, size=(480, 270))  # 1 tile per frame: 255 tokens (+ its time)
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "v", "text": "short", "video": "clip.mkv"}) + "\n", encoding="utf-8")
    per_frame = 255 + FRAME_TEXT_TOKENS
    args = ["run", str(SOP), str(items), "--base-url", server.url, "--model", "gpt-4o"]
    code, _, err = run_cli(capsys, *args, "-o", str(tmp_path / "r1"), "--max-item-tokens", str(3 * per_frame))
    assert code == 0, err
    (request,) = server.requests
    content = next(m for m in request.body["messages"] if m["role"] == "user")["content"]
    times = [p["text"] for p in content if p["type"] == "text" and p["text"].startswith("Frame at")]
    assert len(times) == 2  # the text takes a few tokens: 2 frames fit, spread over the whole video
    assert times == ["Frame at 2.00 s:", "Frame at 6.00 s:"]

    code, _, err = run_cli(capsys, *args, "-o", str(tmp_path / "r2"), "--max-item-tokens", "100")
    assert code == 2
    line = json.loads((tmp_path / "r2" / "labels.jsonl").read_text(encoding="utf-8"))
    assert line["error"]["type"] == "invalid_item"
    assert line["error"]["message"].startswith(
        "text too large: its text and images leave no room for a video"
    )
    assert len(server.requests) == 1
