"""The embedded model's token log-probabilities, read as tokens are sampled instead of through ``logits_all``.

Unit tests drive `recording` and `chat_logprobs` with a stand-in model; the ``local_model`` test checks them
against llama-cpp-python's own ``logits_all`` path on the bundled model (at n_ctx 256, where it holds 256 MB).
"""

from __future__ import annotations

import ctypes
import json
import math
from typing import Any

import numpy as np
import pytest
from openai.types.chat import ChatCompletion

from prelabel.llm.local import model as local
from prelabel.llm.local.logprobs import Sampled, chat_logprobs, recording
from prelabel.llm.logprobs import label_probability, token_logprobs

BOS, EOT = 2, 106
PIECES = {BOS: b"<bos>", 10: b'{"label": "', 11: b"product", 12: b'.damaged"}', 13: b"\xe0\xb8", EOT: b""}


class StandIn:
    """What `recording` and `chat_logprobs` use of ``llama_cpp.Llama``: logits in a C buffer, ids to bytes."""

    def __init__(self, rows: list[list[float]], chosen: list[int]):
        self.logits = (ctypes.c_float * (len(rows) * len(rows[0])))(*[x for row in rows for x in row])
        self.width, self.chosen, self.ctx = len(rows[0]), chosen, object()
        self.row = self.n_tokens = 0  # the row of logits llama.cpp computed last; the tokens evaluated

    def sample(self, idx: int | None = None, **kwargs: Any) -> int:
        return self.chosen[self.row]

    def logits_ith(self, ctx: object, i: int) -> Any:
        assert ctx is self.ctx and i == -1  # the one row of logits after each evaluation
        at = ctypes.byref(self.logits, 4 * self.width * self.row)
        return ctypes.cast(at, ctypes.POINTER(ctypes.c_float))

    def n_vocab(self) -> int:
        return self.width

    def token_bos(self) -> int:
        return BOS

    def detokenize(self, tokens: list[int], prev_tokens: list[int] | None = None) -> bytes:
        return PIECES[tokens[0]]


def test_recording_keeps_the_log_softmax_of_each_sampled_row(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    rows = [[0.0, 1.0, 2.0, 3.0], [5.0, 5.0, 0.0, -1.0]]
    model = StandIn(rows, chosen=[1, 0])
    monkeypatch.setattr(llama_cpp, "llama_get_logits_ith", model.logits_ith)
    with recording(model, top_logprobs=2) as sampled:  # type: ignore[arg-type]
        for row in range(2):  # as ``Llama.generate``: sample the position after the last one evaluated
            model.row, model.n_tokens = row, 7 + row
            assert model.sample(idx=6 + row, temp=0.0) == model.chosen[row]
    assert "sample" not in vars(model)  # the model's own method again
    expected = [np.array(r) - math.log(sum(math.exp(x) for x in r)) for r in rows]
    assert [s.token for s in sampled] == [1, 0]
    assert [s.logprob for s in sampled] == pytest.approx([expected[0][1], expected[1][0]], abs=1e-6)
    assert [t for t, _ in sampled[0].top] == [3, 2] and sampled[0].top[0][1] == pytest.approx(expected[0][3])
    assert sorted(t for t, _ in sampled[1].top) == [0, 1]  # a tie keeps both
    with recording(model) as sampled:  # type: ignore[arg-type]
        model.sample()  # no idx: the last row, as ``Llama.sample``
    assert sampled == [Sampled(0, pytest.approx(expected[1][0]))]


def test_chat_logprobs_are_the_answer_tokens_with_their_bytes() -> None:
    sampled = [
        Sampled(BOS, -9.0),  # never an answer token: left out, as llama-cpp-python does
        Sampled(10, -0.01, ((10, -0.01), (13, -5.0))),
        Sampled(11, -0.2),
        Sampled(12, -0.1),
        Sampled(EOT, -0.001),  # the end of turn that stopped the answer: not a completion token
    ]
    logprobs = chat_logprobs(StandIn([[0.0]], []), sampled, completion_tokens=4)  # type: ignore[arg-type]
    content = logprobs["content"]
    assert [c["token"] for c in content] == ['{"label": "', "product", '.damaged"}']
    assert content[0]["top_logprobs"][1] == {"token": "", "bytes": [0xE0, 0xB8], "logprob": -5.0}
    completion = ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "local",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": '{"label": "product.damaged"}'},
                    "logprobs": logprobs,
                }
            ],
        }
    )
    tokens = token_logprobs(completion)
    assert label_probability(tokens, ["product.damaged"]) == pytest.approx(math.exp(-0.3))


# ------------------------------------------------------------------------------------------- the real model

LABELS = ["product.damaged", "logistics.late_delivery", "billing.double_charge"]
SCHEMA = {"type": "object", "properties": {"label": {"enum": LABELS}}, "required": ["label"]}
REQUEST = {
    "model": "local",
    "messages": [
        {"role": "system", "content": f"Label the buyer's message with one of: {', '.join(LABELS)}."},
        {"role": "user", "content": "The parcel came two weeks late and the box was crushed."},
    ],
    "response_format": {"type": "json_schema", "json_schema": {"name": "Answer", "schema": SCHEMA}},
    "max_tokens": 32,
    "logprobs": True,
    "top_logprobs": 2,
}


@pytest.mark.local_model
def test_the_same_logprobs_as_llama_cpp_with_logits_all() -> None:
    reference = local.load_local_model(n_ctx=256, logits_all=True)  # 256 x 262,144 floats
    try:
        answer = reference.create_chat_completion(**local.completion_kwargs(json.loads(json.dumps(REQUEST))))
        expected = json.loads(json.dumps(answer, default=float))  # numpy floats
    finally:
        with local._MODELS_LOCK:  # not kept for the rest of the session
            for key in [k for k, (llm, _) in local._MODELS.items() if llm is reference]:
                del local._MODELS[key]
        reference.close()
    model = local.open_model(n_ctx=256)
    assert model._llm._logits_all is False
    status, reply = model.answer("POST", "/v1/chat/completions", json.dumps(REQUEST).encode())
    assert status == 200
    want, got = expected["choices"][0], reply["choices"][0]
    assert got["message"]["content"] == want["message"]["content"]
    wanted, content = want["logprobs"]["content"], got["logprobs"]["content"]
    assert [t["token"] for t in content] == [t["token"] for t in wanted] and len(content) > 5
    assert [t["logprob"] for t in content] == pytest.approx([float(t["logprob"]) for t in wanted], abs=1e-5)
    for mine, theirs in zip(content, wanted, strict=True):  # theirs: the 2 best and the token itself
        best = {t["token"]: float(t["logprob"]) for t in theirs["top_logprobs"]}
        assert len(mine["top_logprobs"]) == 2
        for top in mine["top_logprobs"]:
            assert top["logprob"] == pytest.approx(best[top["token"]], abs=1e-5)
    assert b"".join(bytes(t["bytes"]) for t in content).decode() == got["message"]["content"]
    label = json.loads(got["message"]["content"])["label"]
    tokens = [token_logprobs(ChatCompletion.model_validate(c)) for c in (expected, reply)]
    probabilities = [label_probability(t, [label]) for t in tokens]
    assert probabilities[0] is not None and probabilities[1] == pytest.approx(probabilities[0], rel=1e-5)
    # cut by max_tokens: the last token was sampled but never evaluated, and it is there too
    cut_short = json.dumps({**REQUEST, "max_tokens": 4}).encode()
    status, cut = model.answer("POST", "/v1/chat/completions", cut_short)
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["choices"][0]["logprobs"]["content"] == content[:4]
    # a forced tool call: the arguments are the answer, and their tokens carry log-probabilities too
    function = {"name": "answer", "parameters": SCHEMA}
    tool_call = {**REQUEST, "response_format": None, "tools": [{"type": "function", "function": function}]}
    tool_call["tool_choice"] = {"type": "function", "function": {"name": "answer"}}
    status, called = model.answer("POST", "/v1/chat/completions", json.dumps(tool_call).encode())
    arguments = called["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    tokens = called["choices"][0]["logprobs"]["content"]
    assert status == 200 and b"".join(bytes(t["bytes"]) for t in tokens).decode() == arguments
