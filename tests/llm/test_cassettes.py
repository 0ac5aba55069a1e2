"""Recorded exchanges with a real OpenAI-compatible server, replayed offline (vcrpy through pytest-recording).

The cassettes in ``tests/cassettes/test_cassettes/`` were recorded from ``python -m llama_cpp.server`` serving
the bundled Gemma 3 270M (``scripts/record_cassettes.sh``). Replay runs in record mode ``none`` (the default):
nothing goes to the network, and a request that matches no recording fails the test. Requests are matched on
method, path, query and JSON body, so any change to the SOP, the prompt template, the answer schema or the
request options breaks replay on purpose: re-record with ``scripts/record_cassettes.sh``.

Credentials never reach the cassettes: auth headers are filtered, the server address and the model name are
replaced by placeholders before a request is stored (and before an incoming request is matched).

The 270M model answers many items off-schema through a plain llama.cpp server (it cannot bound numbers, so
confidences drift out of [0, 1]); the items below are ones it answers validly. These tests check plumbing
(request shape, parsing, results, files), not label quality.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

import prelabel
from prelabel.cli.app import app
from prelabel.demo.walkthrough import demo_items

CASSETTES = Path(__file__).parent / "cassettes" / "test_cassettes"
# scripts/record_cassettes.sh sets the endpoint while recording and notes model and mode in recording.json, so
# replay sends the same bodies. On replay the URL's host is never contacted: only path and body are matched.
_NOTE = CASSETTES / "recording.json"
_RECORDING = json.loads(_NOTE.read_text()) if _NOTE.is_file() else {}
BASE_URL = os.environ.get("PRELABEL_CASSETTE_BASE_URL") or "http://127.0.0.1:8765/v1"
MODEL = os.environ.get("PRELABEL_CASSETTE_MODEL") or _RECORDING.get("model", "gemma-3-270m")
MODE = os.environ.get("PRELABEL_CASSETTE_MODE") or _RECORDING.get("mode", "tools")
ITEM_IDS = ["d05", "d09", "d18", "d25"]  # en, id, th, vi
RECORDED_HOST = "http://llm.invalid"
RECORDED_MODEL = "recorded-model"

SOP = prelabel.bundled_sop("customer_feedback_intent")
ITEMS = [it for it in demo_items() if it["id"] in ITEM_IDS]


def _scrub_request(request: Any) -> Any:
    """Store (and match) requests without the server address or the model name."""
    parts = urlsplit(request.uri)
    request.uri = urlunsplit(urlsplit(RECORDED_HOST)[:2] + parts[2:])
    if request.body:
        body = json.loads(request.body)
        if isinstance(body, dict) and "model" in body:
            body["model"] = RECORDED_MODEL
            request.body = json.dumps(body).encode()
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "openai-organization", "openai-project", "x-request-id"):
            del headers[name]
    return response


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """No ``record_mode`` here: pytest-recording's ``--record-mode`` (default ``none``) decides."""
    return {
        "filter_headers": [
            "authorization",
            "api-key",
            "x-api-key",
            "openai-organization",
            "openai-project",
            "host",
        ],
        "match_on": ["method", "path", "query", "body"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }


def _assert_valid(result: dict[str, Any]) -> None:
    assert result["status"] in ("ok", "abstained"), result["error"]
    assert result["label"] in SOP.answer_ids
    assert set(result["cited_rules"]) <= set(SOP.citable_ids)
    assert 0.0 <= result["confidence"] <= 1.0
    assert isinstance(result["rationale"], str)
    assert result["model"] == MODEL and result["attempts"] >= 1
    assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["completion_tokens"] > 0


@pytest.mark.vcr
def test_labeler_replays_one_valid_result_per_item(vcr: Any) -> None:
    labeler = prelabel.Labeler(SOP, model=MODEL, base_url=BASE_URL, mode=MODE)
    results = labeler.label_many(ITEMS, concurrency=1)
    assert [r.item_id for r in results] == ITEM_IDS
    for result in results:
        _assert_valid(result.model_dump(mode="json"))
    assert vcr.play_count == sum(r.attempts for r in results) or vcr.record_mode != "none"
    assert vcr.all_played or vcr.record_mode != "none"


@pytest.mark.vcr
def test_cli_run_replays_one_line_per_item(vcr: Any, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in ITEMS), encoding="utf-8")
    out = tmp_path / "run"
    args = ["run", str(prelabel.bundled_sop_path(SOP.id)), str(items), "-o", str(out)]
    args += ["--model", MODEL, "--base-url", BASE_URL, "--mode", MODE, "--concurrency", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"labeled {len(ITEMS)} items with {MODEL}" in result.output
    lines = [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["item_id"] for r in lines] == ITEM_IDS
    for line in lines:
        _assert_valid(line)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["counts"]["total"] == len(ITEMS) and run["counts"]["error"] == 0
    assert vcr.all_played or vcr.record_mode != "none"


def test_cassettes_exist_and_hold_no_credentials() -> None:
    assert set(_RECORDING) >= {"model", "mode", "server"}
    files = sorted(CASSETTES.glob("*.yaml"))
    assert [f.stem for f in files] == [
        "test_cli_run_replays_one_line_per_item",
        "test_labeler_replays_one_valid_result_per_item",
    ]
    for path in files:
        text = path.read_text(encoding="utf-8")
        lowered = text.lower()
        for needle in ("authorization", "api-key", "bearer", "openai-organization", "set-cookie"):
            assert needle not in lowered, f"{path.name} contains {needle!r}"
        assert not re.search(r"\bsk-[A-Za-z0-9_-]{8,}", text), f"{path.name} contains an API key"
        assert RECORDED_HOST in text and "127.0.0.1" not in text and "localhost" not in text
