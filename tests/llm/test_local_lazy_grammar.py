"""Greedy grammar-constrained decoding that checks the grammar one token at a time (``lazy_grammar``).

The ``local_model`` tests run the bundled model both ways on short answers and want the same tokens: the
lazy check must change the speed, never the answer.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from prelabel.llm.local import model as local
from prelabel.llm.local.lazy_grammar import LazyStats, lazy_grammar
from prelabel.llm.local.logprobs import recording
from prelabel.llm.logprobs import label_probability, token_logprobs


class Sampling:
    """What the sample hooks use of ``llama_cpp.Llama`` until a token is sampled."""

    def sample(self, **kwargs: Any) -> int:
        return 0

    def n_vocab(self) -> int:
        return 4


def test_sample_hooks_nest_and_put_back_what_was_there() -> None:
    model = Sampling()
    own = model.sample
    assert "sample" not in vars(model)
    with lazy_grammar(model), recording(model):  # type: ignore[arg-type]
        inner = vars(model)["sample"]
        with recording(model):  # type: ignore[arg-type]
            assert vars(model)["sample"] is not inner
        assert vars(model)["sample"] is inner  # the enclosing hook again, not the model's own method
    assert "sample" not in vars(model) and model.sample == own


# ------------------------------------------------------------------------------------------- the real model

LABELS = ["product.damaged", "logistics.late_delivery", "billing.double_charge"]
LABEL_SCHEMA = {"type": "object", "properties": {"label": {"enum": LABELS}}, "required": ["label"]}
# the model wants to answer in words: its first choices ('Hello', ...) are not '{', nor among its 8192 best
GREETING_SCHEMA = {
    "type": "object",
    "properties": {"reply": {"type": "string", "maxLength": 16}},
    "required": ["reply"],
}


def _request(system: str, user: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "model": "local",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Answer", "schema": schema}},
        "max_tokens": 24,
        **extra,
    }


LABEL_REQUEST = _request(
    f"Label the buyer's message with one of: {', '.join(LABELS)}.",
    "The parcel came two weeks late and the box was crushed.",
    LABEL_SCHEMA,
)
GREETING = "Say hello to Anna in one sentence."
GREETING_REQUEST = _request("You are a friendly assistant.", GREETING, GREETING_SCHEMA)
FUNCTION = {"name": "answer", "parameters": LABEL_SCHEMA}
TOOL_REQUEST = {
    **LABEL_REQUEST,
    "response_format": None,
    "tools": [{"type": "function", "function": FUNCTION}],
    "tool_choice": {"type": "function", "function": {"name": "answer"}},
}


@pytest.fixture(scope="module")
def llm() -> Any:
    return local.load_local_model(n_ctx=256)  # the model the logprobs tests load too


def _complete(llm: Any, request: dict[str, Any]) -> dict[str, Any]:
    llm.reset()  # the whole prompt evaluated again: both ways see the same logits
    kwargs = local.completion_kwargs(json.loads(json.dumps(request)))
    return json.loads(json.dumps(llm.create_chat_completion(**kwargs), default=float))


def _answer(result: dict[str, Any]) -> tuple[Any, ...]:
    choice = result["choices"][0]
    message = choice["message"]
    calls = [c["function"]["arguments"] for c in message.get("tool_calls") or []]
    return message["content"], calls, choice["finish_reason"], result["usage"]["completion_tokens"]


@pytest.mark.local_model
@pytest.mark.parametrize(
    ("request_", "falls_back"),
    [(LABEL_REQUEST, None), (GREETING_REQUEST, True), (TOOL_REQUEST, None)],
    ids=["label", "argmax-not-allowed", "forced-tool"],
)
def test_the_same_tokens_as_llama_cpp_pythons_grammar_sampler(
    llm: Any, request_: dict[str, Any], falls_back: bool | None
) -> None:
    expected = _complete(llm, request_)
    with lazy_grammar(llm) as stats:
        got = _complete(llm, request_)
    assert _answer(got) == _answer(expected)
    content, calls, finish, tokens = _answer(got)
    assert tokens > 3 and json.loads(content or calls[0])
    # every token chosen lazily (and the end of turn, when the answer stopped)
    assert stats.passed == 0 and stats.lazy == tokens + (finish != "length")
    assert stats.fallbacks < stats.lazy  # the model's own argmax was allowed, at least sometimes
    if falls_back:  # and here refused: the grammar was asked about the best 8192, and once about all
        assert stats.fallbacks > stats.whole >= 1


@pytest.mark.local_model
def test_sampling_and_free_text_take_llama_cpp_pythons_own_path(llm: Any) -> None:
    sampled = {**LABEL_REQUEST, "temperature": 0.8, "seed": 7, "max_tokens": 8}
    free_text = {**LABEL_REQUEST, "response_format": None, "max_tokens": 8}
    for request in (sampled, free_text):
        expected = _complete(llm, request)
        with lazy_grammar(llm) as stats:
            got = _complete(llm, request)
        assert _answer(got) == _answer(expected)
        assert stats.lazy == 0 and stats.passed >= _answer(got)[3] > 0


@pytest.mark.local_model
def test_logprobs_are_the_same_with_the_lazy_grammar(llm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[LazyStats] = []

    @contextlib.contextmanager
    def watched(model: Any) -> Iterator[LazyStats]:
        with lazy_grammar(model) as stats:
            yield stats
        used.append(stats)

    monkeypatch.setattr(local, "lazy_grammar", watched)
    opened = local.open_model(n_ctx=256)
    request = json.dumps({**LABEL_REQUEST, "max_tokens": 32, "logprobs": True, "top_logprobs": 2}).encode()
    replies = []
    for lazy in (False, True):
        llm.reset()
        status, reply = local.LocalModel(opened._llm, opened._lock, lazy=lazy).answer(
            "POST", "/v1/chat/completions", request
        )
        assert status == 200
        replies.append(reply)
    assert len(used) == 1 and used[0].lazy > 5 and used[0].passed == 0
    plain, lazy_reply = (r["choices"][0] for r in replies)
    assert lazy_reply["message"]["content"] == plain["message"]["content"]
    assert lazy_reply["logprobs"] == plain["logprobs"]
    label = json.loads(plain["message"]["content"])["label"]
    tokens = [token_logprobs(ChatCompletion.model_validate(reply)) for reply in replies]
    probabilities = [label_probability(t, [label]) for t in tokens]
    assert probabilities[0] is not None and probabilities[1] == probabilities[0]
