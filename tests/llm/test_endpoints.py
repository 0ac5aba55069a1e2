"""Endpoints: resolution from arguments and environment, instructor mode per backend, clients, keys."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import prelabel
from prelabel.llm.clients import make_client
from prelabel.llm.endpoints import Endpoint, local_model_path, resolve_endpoint
from prelabel.llm.instructed import Mode, parse_mode
from prelabel.llm.registry import detect
from prelabel.testing.fake import FakeModel, Reply


def test_defaults_are_openai_and_gpt_4o_mini() -> None:
    endpoint = resolve_endpoint(env={})
    assert (endpoint.model, endpoint.backend, endpoint.mode, endpoint.base_url) == (
        "gpt-4o-mini",
        "openai",
        Mode.TOOLS,
        None,
    )
    assert endpoint.describe()["base_url"] == "https://api.openai.com/v1"


def test_environment_then_arguments() -> None:
    env = {
        "PRELABEL_MODEL": "qwen2.5",
        "OPENAI_BASE_URL": "http://localhost:11434/v1/",
        "OPENAI_API_KEY": "sk-env",
    }
    from_env = resolve_endpoint(env=env)
    assert (from_env.model, from_env.base_url, from_env.backend, from_env.mode) == (
        "qwen2.5",
        "http://localhost:11434/v1",
        "ollama",
        Mode.JSON_SCHEMA,
    )
    assert from_env.api_key == "sk-env"
    explicit = resolve_endpoint("gpt-4.1", "https://api.openai.com/v1", "sk-arg", "json_schema", env=env)
    assert (explicit.model, explicit.backend, explicit.mode, explicit.api_key) == (
        "gpt-4.1",
        "openai",
        Mode.JSON_SCHEMA,
        "sk-arg",
    )
    assert resolve_endpoint(env={**env, "PRELABEL_MODE": "md_json"}).mode == Mode.MD_JSON


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        (None, "openai"),
        ("https://api.openai.com/v1", "openai"),
        ("https://myco.openai.azure.com/openai/v1", "azure"),
        ("http://localhost:11434/v1", "ollama"),
        ("http://ollama.internal/v1", "ollama"),
        ("http://vllm-gpu:8000/v1", "vllm"),
        ("http://127.0.0.1:8080/v1", "llamacpp"),
        ("http://localhost:4000", "unknown"),
        ("http://127.0.0.1:8000/v1", "unknown"),
    ],
)
def test_detect_backend(url: str | None, backend: str) -> None:
    assert detect(url, "some-model").name == backend


@pytest.mark.parametrize(
    ("url", "mode", "schema_flag"),
    [
        ("https://api.openai.com/v1", Mode.TOOLS, False),
        ("http://vllm:8000/v1", Mode.JSON_SCHEMA, False),
        ("http://localhost:11434/v1", Mode.JSON_SCHEMA, False),
        ("http://localhost:8080/v1", Mode.JSON, True),
        ("http://localhost:4000/v1", Mode.TOOLS, False),
    ],
)
def test_mode_per_backend(url: str, mode: Mode, schema_flag: bool) -> None:
    endpoint = resolve_endpoint(base_url=url, env={})
    assert (endpoint.mode, endpoint.schema_in_json_object) == (mode, schema_flag)


def test_mode_override_wins_over_backend_default() -> None:
    endpoint = resolve_endpoint(base_url="http://localhost:8080/v1", mode="tools", env={})
    assert (endpoint.mode, endpoint.schema_in_json_object) == (Mode.TOOLS, False)


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("tools", Mode.TOOLS),
        ("TOOLS", Mode.TOOLS),
        ("json-schema", Mode.JSON_SCHEMA),
        ("json", Mode.JSON),
        ("json_object_schema", Mode.JSON),
        ("tool_call", Mode.TOOLS),
        ("md_json", Mode.MD_JSON),
        (Mode.JSON_SCHEMA, Mode.JSON_SCHEMA),
    ],
)
def test_parse_mode(name: str | Mode, mode: Mode) -> None:
    assert parse_mode(name) == mode


def test_unknown_mode_is_bad_input() -> None:
    with pytest.raises(prelabel.InputError, match="unknown mode 'telepathy'; use one of: tools, json_schema"):
        parse_mode("telepathy")


@pytest.mark.parametrize("url", ["notaurl", "localhost:8000/v1", "ftp://host/v1", "http://"])
def test_a_base_url_that_is_not_http_is_bad_input_at_once(url: str) -> None:
    """Not an endpoint failure after minutes of retries (exit 3), but bad input (exit 2) before any request;
    the environment variable is checked the same way."""
    with pytest.raises(prelabel.InputError, match="is not an http\\(s\\) URL"):
        resolve_endpoint(base_url=url, env={})
    with pytest.raises(prelabel.InputError, match="OPENAI_BASE_URL"):
        resolve_endpoint(env={"OPENAI_BASE_URL": url})
    assert resolve_endpoint(base_url="HTTPS://example.com/v1", env={}).base_url == "HTTPS://example.com/v1"


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://[::1", "Invalid IPv6 URL"), ("http://user:s3cret@127.0.0.1:99999/v1", "Port out of range")],
)
def test_a_base_url_python_cannot_parse_is_bad_input_not_a_value_error(url: str, reason: str) -> None:
    """These ended with exit 1 and 'ValueError: Port out of range 0-65535'; the password stays hidden."""
    for kwargs in ({"base_url": url, "env": {}}, {"env": {"OPENAI_BASE_URL": url}}):
        with pytest.raises(prelabel.InputError, match=f"is not a valid URL: {reason}") as info:
            resolve_endpoint(**kwargs)  # type: ignore[arg-type]
        assert "s3cret" not in str(info.value)


def test_local_model_selection() -> None:
    endpoint = resolve_endpoint(model="local", base_url="http://ignored/v1", env={})
    assert (endpoint.backend, endpoint.mode, endpoint.base_url) == ("local", Mode.JSON_SCHEMA, None)
    assert endpoint.describe()["base_url"] == "in-process"
    # json_object_schema means the same for every backend: the embedded model gets the schema (a grammar) too
    chosen = resolve_endpoint(model="local", mode="json_object_schema", env={})
    assert (chosen.mode, chosen.schema_in_json_object) == (Mode.JSON, True)
    assert local_model_path("local") is None
    assert local_model_path("local:/models/qwen.gguf") == "/models/qwen.gguf"


def test_only_the_bundled_model_is_the_smoke_model_and_it_is_named_and_noted() -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, is_smoke_model, model_label

    smoke = resolve_endpoint(model="local", env={})
    own = resolve_endpoint(model="local:/models/qwen.gguf", env={})
    assert is_smoke_model("local") and not is_smoke_model(own.model) and not is_smoke_model("gpt-4o-mini")
    assert smoke.smoke_note == SMOKE_MODEL_NOTE and own.smoke_note is None
    assert (
        "Gemma 3 270M base model" in SMOKE_MODEL_NOTE and "only illustrate the mechanics" in SMOKE_MODEL_NOTE
    )
    assert (
        model_label("local") == "local (smoke model: mechanics only)" and model_label(own.model) == own.model
    )
    assert smoke.notes(logprobs=True) == [f"note: {SMOKE_MODEL_NOTE}"]  # JSON schema mode: logprobs come back
    tools = resolve_endpoint(model="gpt-4o-mini", api_key="k", env={})
    assert tools.notes() == [] and tools.notes(logprobs=True) == [f"warning: {tools.logprobs_note}"]


def test_local_client_is_built_lazily_from_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def fake_local_clients(path: str | None) -> tuple[Any, Any]:
        calls.append(path)
        return "sync", "async"

    monkeypatch.setattr("prelabel.llm.local.transport.local_clients", fake_local_clients)
    assert make_client(resolve_endpoint(model="local:/m/x.gguf", env={})) == "async"
    assert calls == ["/m/x.gguf"]


def test_missing_local_extra_gives_a_helpful_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # the import fails, as without the extra
    monkeypatch.setitem(sys.modules, "prelabel.llm.local.transport", None)
    endpoint = Endpoint(model="local", backend="local", mode=Mode.JSON_SCHEMA)
    with pytest.raises(prelabel.EndpointError, match=r"pip install 'prelabel\[local\]'"):
        make_client(endpoint)


def test_clients_never_retry_themselves() -> None:
    client = make_client(resolve_endpoint(base_url="http://localhost:8000/v1", env={}))
    assert client.max_retries == 0
    assert str(client.base_url).startswith("http://localhost:8000/v1")
    openai_client = make_client(resolve_endpoint(api_key="sk-x", env={}), timeout=12.0)
    assert openai_client.max_retries == 0 and openai_client.timeout == 12.0


def test_openai_without_key_is_an_endpoint_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(prelabel.EndpointError, match="OPENAI_API_KEY"):
        make_client(resolve_endpoint())
    with pytest.raises(prelabel.EndpointError, match="OPENAI_API_KEY"):
        prelabel.Labeler(prelabel.bundled_sop("customer_feedback_intent"))  # fails at once, not per item
    # a compatible server needs no key
    prelabel.Labeler(prelabel.bundled_sop("customer_feedback_intent"), base_url="http://localhost:8000/v1")


def test_key_is_not_in_repr_or_description() -> None:
    endpoint = resolve_endpoint(api_key="sk-very-secret-1234", env={})
    assert "sk-very-secret-1234" not in repr(endpoint)
    assert "sk-very-secret-1234" not in str(endpoint.describe())
    labeler = prelabel.Labeler(
        prelabel.bundled_sop("customer_feedback_intent"), api_key="sk-very-secret-1234"
    )
    assert "sk-very-secret-1234" not in repr(vars(labeler).get("endpoint"))


def test_injected_client_url_picks_the_mode() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    fake = FakeModel([Reply.answer("product.damaged")])
    labeler = prelabel.Labeler(sop, model="llama3.1", client=fake.async_client("http://localhost:11434/v1"))
    assert labeler.mode == Mode.JSON_SCHEMA
    assert labeler.label({"id": "a", "text": "broken"}).label == "product.damaged"
    assert fake.requests[0].body["response_format"]["type"] == "json_schema"


def test_json_object_schema_mode_sends_the_schema() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    fake = FakeModel([Reply.raw('{"oops": 1}'), Reply.answer("seller.conduct")])
    labeler = prelabel.Labeler(sop, client=fake.async_client(), mode="json_object_schema")
    result = labeler.label({"id": "a", "text": "pay me on WhatsApp"})
    assert result.label == "seller.conduct" and result.attempts == 2
    for request in fake.requests:  # the re-ask keeps the schema too
        response_format = request.body["response_format"]
        assert response_format["type"] == "json_object"
        assert response_format["schema"] == prelabel.response_model(sop).model_json_schema()
    assert labeler.endpoint.describe()["mode"] == "JSON_OBJECT_SCHEMA"
