"""The native Anthropic and Gemini backends, end to end through their real SDKs: ``prelabel run`` labels the
bundled SOP against loopback servers speaking each provider's wire format (``tests/native_server.py``, whose
bodies follow the providers' API references), and the request bodies, usage, retries, re-asks and failures
are checked where they cross the wire.
"""

from __future__ import annotations

import base64
import itertools
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import run_cli, use_fast_default_retry, write_jsonl
from native_server import (
    ANSWER,
    Response,
    WireServer,
    anthropic_cached,
    anthropic_error,
    anthropic_message,
    gemini_answer,
    gemini_cached,
    gemini_error,
    scripted,
)
from prelabel.llm import registry
from prelabel.llm.backends.anthropic import AnthropicWire
from prelabel.llm.backends.gemini import GeminiWire
from prelabel.llm.endpoints import resolve_endpoint
from prelabel.llm.instructed import Mode, PreparedAnswer
from prelabel.llm.wire import Wire
from prelabel.prompt.rendering import render_prompt
from prelabel.prompt.schema import response_model

Capture = pytest.CaptureFixture[str]
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))
CLAUDE = "anthropic:claude-haiku-4-5"
GEMINI = "gemini:gemini-2.5-flash"
KEY = "NATIVE-KEY-123"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)  # the magic bytes are all the renderer checks
PHOTO_URL = "https://cdn.example.com/parcel.jpg"
TOOL = "Answer_customer_feedback_intent"


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    use_fast_default_retry(monkeypatch, 4)


def items(tmp_path: Path, n: int = 3, *, image: bool = False) -> Path:
    rows: list[dict[str, Any]] = [{"id": f"i{k}", "text": f"parcel {k} has not arrived"} for k in range(n)]
    if image:
        (tmp_path / "photo.png").write_bytes(PNG)
        rows.append(
            {"id": "img", "text": "look at the box", "images": [str(tmp_path / "photo.png"), PHOTO_URL]}
        )
    return write_jsonl(tmp_path / "items.jsonl", rows)


def run(capsys: Capture, tmp_path: Path, server: WireServer, model: str, *extra: str) -> tuple[int, str, str]:
    return run_cli(
        capsys,
        "run",
        SOP_PATH,
        str(tmp_path / "items.jsonl"),
        "-o",
        str(tmp_path / "run"),
        "--model",
        model,
        "--base-url",
        server.url,
        *extra,
    )


def labels(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "run" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def run_json(tmp_path: Path) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    return recorded


def test_anthropic_labels_the_sop_with_its_prefix_marked_for_caching_and_the_cache_counted(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, image=True)
    with WireServer(anthropic_cached) as server:
        code, out, err = run(capsys, tmp_path, server, CLAUDE)
    assert code == 0, err
    assert "(4500 cached, 1500 written to the cache)" in out
    assert [line["status"] for line in labels(tmp_path)] == ["ok"] * 4
    assert {line["label"] for line in labels(tmp_path)} == {ANSWER["label"]}
    sent = server.requests
    assert {request.path for request in sent} == {"/v1/messages"}
    # the key as the SDK sends it (x-api-key, or a bearer token in SDK 2.x)
    assert all(KEY in (r.headers.get("x-api-key") or r.headers.get("authorization", "")) for r in sent)
    systems = [request.body["system"] for request in sent]
    # the SOP prefix: one system block, byte-identical for every item, marked for Anthropic's prompt cache
    assert all(system == systems[0] for system in systems)
    (block,) = systems[0]
    assert block["cache_control"] == {"type": "ephemeral"} and "customer_feedback_intent" in block["text"]
    body = sent[0].body
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == 1024 and "temperature" not in body
    assert [tool["name"] for tool in body["tools"]] == [TOOL]
    assert "logistics.late_delivery" in body["tools"][0]["input_schema"]["properties"]["label"]["enum"]
    assert body["tool_choice"]["type"] == "tool" and body["tool_choice"]["name"] == TOOL
    assert all(message["role"] != "system" for request in sent for message in request.body["messages"])
    (with_image,) = [r.body for r in sent if "look at the box" in json.dumps(r.body["messages"])]
    parts = with_image["messages"][0]["content"]
    encoded = base64.b64encode(PNG).decode("ascii")
    assert {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": encoded},
    } in parts
    assert {"type": "image", "source": {"type": "url", "url": PHOTO_URL}} in parts
    # the first request wrote the prefix to the cache, the other three read it: both counted into run.json
    assert run_json(tmp_path)["usage"] == {
        "prompt_tokens": 4 * 1525,
        "completion_tokens": 4 * 40,
        "cached_tokens": 3 * 1500,
        "cache_write_tokens": 1500,
    }
    assert sum(line["usage"].get("cache_write_tokens", 0) for line in labels(tmp_path)) == 1500
    # priced per token kind (claude-haiku-4-5: input 1, cache read 0.1, cache write 1.25, output 5 USD per 1M)
    fresh = 4 * 1525 - 3 * 1500 - 1500
    expected = (fresh * 1.0 + 3 * 1500 * 0.1 + 1500 * 1.25 + 4 * 40 * 5.0) / 1e6
    assert run_json(tmp_path)["cost_usd"] == pytest.approx(expected)
    assert run_json(tmp_path)["endpoint"]["backend"] == "anthropic"


def test_gemini_labels_the_sop_with_its_prefix_as_the_system_instruction_and_implicit_cache_counted(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, image=True)
    with WireServer(gemini_cached) as server:
        code, _, err = run(capsys, tmp_path, server, GEMINI)
    assert code == 0, err
    assert [line["status"] for line in labels(tmp_path)] == ["ok"] * 4
    sent = server.requests
    assert {request.path.rsplit("/", 1)[-1] for request in sent} == {"gemini-2.5-flash:generateContent"}
    assert {request.headers["x-goog-api-key"] for request in sent} == {KEY}
    instructions = [request.body["systemInstruction"] for request in sent]
    assert all(instruction == instructions[0] for instruction in instructions)  # byte-stable: implicit cache
    assert "customer_feedback_intent" in instructions[0]["parts"][0]["text"]
    body = sent[0].body
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == TOOL
    assert body["toolConfig"]["functionCallingConfig"] == {"mode": "ANY", "allowedFunctionNames": [TOOL]}
    assert body["generationConfig"]["temperature"] == 0.0
    (with_image,) = [r.body for r in sent if "look at the box" in json.dumps(r.body["contents"])]
    parts = with_image["contents"][0]["parts"]
    encoded = base64.b64encode(PNG).decode("ascii")
    # as google-genai 3.x writes them (the API's JSON takes snake_case and camelCase field names alike)
    assert {"inlineData": {"data": encoded, "mime_type": "image/png"}} in parts
    assert {"fileData": {"file_uri": PHOTO_URL, "mime_type": "image/jpeg"}} in parts
    assert run_json(tmp_path)["usage"] == {
        "prompt_tokens": 4 * 1525,
        "completion_tokens": 4 * 40,
        "cached_tokens": 3 * 1024,
    }


def test_anthropic_429_and_529_overloaded_are_retried_after_the_wait_they_ask_for(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, 1)
    script = scripted(
        anthropic_error(429, "rate_limit_error", "Number of requests exceeded", {"retry-after": "0.4"}),
        anthropic_error(529, "overloaded_error", "Overloaded", {"retry-after": "0.4"}),
        default=lambda index, body: (200, {}, anthropic_message(body)),
    )
    with WireServer(script) as server:
        code, _, err = run(capsys, tmp_path, server, CLAUDE)
    assert code == 0, err
    assert [line["status"] for line in labels(tmp_path)] == ["ok"]
    arrivals = [request.at for request in server.requests]
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.35 for earlier, later in itertools.pairwise(arrivals))


def test_gemini_429_is_retried_after_its_retry_info_delay(capsys: Capture, tmp_path: Path) -> None:
    items(tmp_path, 1)
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.4s"}
    script = scripted(
        gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", [retry_info]),
        gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        default=lambda index, body: (200, {}, gemini_answer(body)),
    )
    with WireServer(script) as server:
        code, _, err = run(capsys, tmp_path, server, GEMINI)
    assert code == 0, err
    arrivals = [request.at for request in server.requests]
    assert len(arrivals) == 3 and arrivals[1] - arrivals[0] >= 0.35


def test_anthropic_rate_limit_headers_pause_the_next_request_until_their_reset(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, 2)

    def respond(index: int, body: dict[str, Any]) -> Response:
        reset = (datetime.now(UTC) + timedelta(seconds=0.6)).isoformat().replace("+00:00", "Z")
        headers = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset}
        return 200, headers if index == 0 else {}, anthropic_message(body)

    with WireServer(respond) as server:
        code, _, err = run(capsys, tmp_path, server, CLAUDE, "--concurrency", "1")
    assert code == 0, err
    first, second = (request.at for request in server.requests)
    assert second - first >= 0.45


def _off_schema(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "label": "not.a.label"}


def test_anthropic_malformed_tool_call_is_reasked_with_a_tool_result_then_an_error_record(
    capsys: Capture, tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "items.jsonl", [{"id": "good", "text": "fine"}, {"id": "bad", "text": "BAD item"}])

    def respond(index: int, body: dict[str, Any]) -> Response:
        bad = "BAD item" in json.dumps(body["messages"][0])
        return 200, {}, anthropic_message(body, _off_schema(ANSWER) if bad else None)

    with WireServer(respond) as server:
        code, _, err = run(capsys, tmp_path, server, CLAUDE, "--max-reasks", "1", "--concurrency", "1")
    assert code == 0, err
    good, bad = labels(tmp_path)
    assert good["status"] == "ok"
    assert bad["status"] == "error" and bad["error"]["type"] == "invalid_output"
    assert "not.a.label" in bad["error"]["last_output"]
    asked = [r.body for r in server.requests if "BAD item" in json.dumps(r.body["messages"][0])]
    assert len(asked) == 2  # the answer and one re-ask
    assistant, result = asked[1]["messages"][1:]
    assert assistant["role"] == "assistant" and assistant["content"][0]["type"] == "tool_use"
    (tool_result,) = result["content"]
    assert tool_result["type"] == "tool_result" and tool_result["is_error"] is True
    assert "label" in tool_result["content"]
    assert asked[1]["system"] == asked[0]["system"]  # the re-ask reads the cached prefix too


def test_an_anthropic_answer_cut_off_at_max_tokens_is_an_incomplete_output_record(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, 1)

    def respond(index: int, body: dict[str, Any]) -> Response:
        return 200, {}, {**anthropic_message(body, {"rationale": "The parcel"}), "stop_reason": "max_tokens"}

    with WireServer(respond) as server:
        _, _, err = run(capsys, tmp_path, server, CLAUDE, "--max-tokens", "5")
    (line,) = labels(tmp_path)
    assert line["status"] == "error" and line["error"]["type"] == "incomplete_output", err
    assert [request.body["max_tokens"] for request in server.requests] == [5]


def test_gemini_malformed_function_call_is_reasked_then_an_error_record(
    capsys: Capture, tmp_path: Path
) -> None:
    write_jsonl(tmp_path / "items.jsonl", [{"id": "good", "text": "fine"}, {"id": "bad", "text": "BAD item"}])

    def respond(index: int, body: dict[str, Any]) -> Response:
        bad = "BAD item" in json.dumps(body["contents"][0])
        return 200, {}, gemini_answer(body, _off_schema(ANSWER) if bad else None)

    with WireServer(respond) as server:
        code, _, err = run(capsys, tmp_path, server, GEMINI, "--max-reasks", "1", "--concurrency", "1")
    assert code == 0, err
    good, bad = labels(tmp_path)
    assert good["status"] == "ok"
    assert bad["status"] == "error" and bad["error"]["type"] == "invalid_output"
    asked = [r.body for r in server.requests if "BAD item" in json.dumps(r.body["contents"][0])]
    assert len(asked) == 2
    reply = asked[1]["contents"][-1]["parts"][0]
    assert reply["functionResponse"]["name"] == TOOL and "error" in reply["functionResponse"]["response"]


def test_a_gemini_answer_without_content_is_sent_again_and_its_tokens_counted(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, 1)
    usage = {"promptTokenCount": 1525, "candidatesTokenCount": 0, "totalTokenCount": 1525}
    malformed = {
        "candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "index": 0}],
        "usageMetadata": usage,
    }
    script = scripted((200, {}, malformed), default=lambda index, body: (200, {}, gemini_answer(body)))
    with WireServer(script) as server:
        code, _, err = run(capsys, tmp_path, server, GEMINI)
    assert code == 0, err
    assert len(server.requests) == 2 and labels(tmp_path)[0]["status"] == "ok"
    assert run_json(tmp_path)["usage"]["prompt_tokens"] == 2 * 1525  # the rejected answer was paid for


@pytest.mark.parametrize(
    ("model", "reply"),
    [
        (CLAUDE, anthropic_error(401, "authentication_error", "invalid x-api-key")),
        (
            GEMINI,
            gemini_error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            ),
        ),
    ],
)
def test_an_authentication_error_stops_the_run_with_exit_3_and_one_line(
    capsys: Capture, tmp_path: Path, model: str, reply: Response
) -> None:
    items(tmp_path, 3)
    with WireServer(lambda index, body: reply) as server:
        code, _, err = run(capsys, tmp_path, server, model, "--concurrency", "1")
    assert code == 3
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "auth (401)" in errors[0], err
    assert ("ANTHROPIC_API_KEY" if model == CLAUDE else "GEMINI_API_KEY or GOOGLE_API_KEY") in errors[0]
    assert len(server.requests) == 1  # no retries burnt, no other item sent


@pytest.mark.parametrize(
    ("model", "names"), [(CLAUDE, "ANTHROPIC_API_KEY"), (GEMINI, "GEMINI_API_KEY or GOOGLE_API_KEY")]
)
def test_a_missing_key_is_one_line_naming_the_variable_and_exit_3(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, names: str
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", "an-openai-key-is-not-theirs")
    items(tmp_path, 1)
    code, _, err = run_cli(
        capsys, "run", SOP_PATH, str(tmp_path / "items.jsonl"), "-o", str(tmp_path / "run"), "--model", model
    )
    assert code == 3
    title = registry.backend(model.split(":")[0]).title
    assert err.strip().splitlines() == [f"error: no API key for {title}: set {names}"]


def test_each_native_backend_reads_its_own_key_and_base_url_variables() -> None:
    endpoint = resolve_endpoint(model=GEMINI, env={"GOOGLE_API_KEY": "g-key"})
    assert endpoint.api_key == "g-key" and endpoint.backend == "gemini"
    described = endpoint.describe()
    assert described["base_url"] == "https://generativelanguage.googleapis.com"
    anthropic = resolve_endpoint(
        model=CLAUDE, env={"ANTHROPIC_BASE_URL": "http://proxy:9/", "OPENAI_BASE_URL": "http://other:1/v1"}
    )
    assert anthropic.base_url == "http://proxy:9" and anthropic.backend == "anthropic"


@pytest.mark.parametrize(("model", "extra"), [(CLAUDE, "anthropic"), (GEMINI, "gemini")])
def test_a_missing_sdk_is_one_line_naming_the_extra(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, "anthropic" if extra == "anthropic" else "google.genai", None)
    items(tmp_path, 1)
    with WireServer(lambda index, body: (500, {}, {})) as server:
        code, _, err = run(capsys, tmp_path, server, model)
    assert code == 3
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"pip install 'prelabel[{extra}]'" in errors[0], err
    assert server.requests == []


@pytest.mark.parametrize(("model", "what"), [(CLAUDE, "Anthropic"), (GEMINI, "Gemini")])
def test_batch_api_is_refused_in_one_line_before_anything_is_sent(
    capsys: Capture, tmp_path: Path, model: str, what: str
) -> None:
    items(tmp_path, 1)
    with WireServer(lambda index, body: (500, {}, {})) as server:
        code, _, err = run(capsys, tmp_path, server, model, "--batch-api")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --batch-api does not serve {what} yet"), err
    assert server.requests == []


def test_rate_limit_headers_become_openai_names_with_seconds_to_reset() -> None:
    from prelabel.llm.backends.anthropic import openai_style

    reset = datetime.fromtimestamp(time.time() + 30, UTC).isoformat()
    mapped = openai_style(
        {"Anthropic-RateLimit-Tokens-Remaining": "512", "anthropic-ratelimit-tokens-reset": reset}
    )
    assert mapped["x-ratelimit-remaining-tokens"] == "512"
    assert 28 <= float(mapped["x-ratelimit-reset-tokens"]) <= 30


def test_cache_writes_stay_counted_when_a_rerun_sets_answers_aside_in_a_ledger_of_three_token_sums(
    capsys: Capture, tmp_path: Path
) -> None:
    items(tmp_path, 2)
    with WireServer(anthropic_cached) as server:
        assert run(capsys, tmp_path, server, CLAUDE, "--concurrency", "1")[0] == 0
        db = sqlite3.connect(tmp_path / "run" / "run.db")
        with db:  # what a ledger written before cache writes were counted holds
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('superseded_usage', '[0, 0, 0]')")
        db.close()
        items(tmp_path, 1)  # i1 left the input: its answer is set aside, its tokens still paid for
        code, _, err = run(capsys, tmp_path, server, CLAUDE)
    assert code == 0, err
    assert len(server.requests) == 2  # nothing sent again
    assert run_json(tmp_path)["usage"]["cache_write_tokens"] == 1500


@pytest.mark.parametrize("wire", [AnthropicWire(), GeminiWire()], ids=["anthropic", "gemini"])
def test_a_native_request_is_prepared_by_instructor_once_per_kind_and_reused_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wire: Wire
) -> None:
    sop = prelabel.load_sop(SOP_PATH)
    prepared = PreparedAnswer(response_model(sop), Mode.TOOLS, wire.provider)
    base = {"model": "m", "max_tokens": 1024}
    (tmp_path / "photo.png").write_bytes(PNG)
    texts = ["first", "second", "third"]
    requests = [wire.prepare(render_prompt(sop, {"id": "x", "text": text}).messages, base) for text in texts]
    with_image = {"id": "y", "text": "box", "images": [str(tmp_path / "photo.png")]}
    requests.append(wire.prepare(render_prompt(sop, with_image).messages, base))
    by_instructor = [prepared._prepare(list(sent), kwargs) for sent, kwargs in requests]
    calls = []
    real = prepared._prepare
    monkeypatch.setattr(prepared, "_prepare", lambda *args: calls.append(1) or real(*args))
    built = [prepared.request(sent, kwargs) for sent, kwargs in requests]
    assert built == by_instructor and [list(b) for b in built] == [list(b) for b in by_instructor]
    assert len(calls) == 2  # the first text item, the first item with an image
