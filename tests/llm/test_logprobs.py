"""The label's token probability: answer text rebuilt from token bytes, the label found in the JSON answer,
the log-probabilities of its tokens summed; ``None`` whenever the tokens do not spell the label."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

import prelabel
from helpers import fast_retry
from prelabel.llm.local.model import completion_kwargs, default_model_path
from prelabel.llm.local.process import shared_worker
from prelabel.llm.logprobs import TokenLogprob, label_probability, token_logprobs, value_spans
from prelabel.testing import FakeModel, Reply

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
RISK = prelabel.bundled_sop("seller_content_risk")
FAST = fast_retry(1)


def cut(text: str, size: int, logprob: float = -0.5) -> list[TokenLogprob]:
    """``text`` as tokens of ``size`` UTF-8 bytes each (cuts through multi-byte characters)."""
    data = text.encode("utf-8")
    return [TokenLogprob(data[i : i + size], logprob) for i in range(0, len(data), size)]


def test_thai_text_split_across_tokens_keeps_the_offsets() -> None:
    # every Thai character is 3 bytes; 4-byte tokens cut through them, so text-based offsets would drift
    prefix = '{"rationale": "ของปลอมแน่นอน โลโก้ไม่เหมือนของแท้", "label": "'
    tokens = cut(prefix, 4, -0.001)
    label = [TokenLogprob(b"product", -0.2), TokenLogprob(b".fake", -0.1)]
    tail = [TokenLogprob(b'", "cited_rules": [], "confidence": 0.9}', -0.001)]
    assert any(_partial(t.data) for t in tokens)  # the test does split characters
    got = label_probability([*tokens, *label, *tail], ["product.fake"])
    assert got == pytest.approx(math.exp(-0.3))


def _partial(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_tokens_overlapping_the_label_count_whole() -> None:
    tokens = [
        TokenLogprob(b'{"label": "pro', -0.4),
        TokenLogprob(b"duct.damaged", -0.1),
        TokenLogprob(b'"}', -1.0),
    ]
    assert label_probability(tokens, ["product.damaged"]) == pytest.approx(math.exp(-0.5))


def test_tokens_without_bytes_use_their_text() -> None:
    completion = _completion(
        '{"label": "product.damaged"}',
        [
            {"token": t, "logprob": -0.1, "bytes": None, "top_logprobs": []}
            for t in ['{"', "label", '": "', "product", ".damaged", '"}']
        ],
    )
    tokens = token_logprobs(completion)
    assert tokens is not None and b"".join(t.data for t in tokens) == b'{"label": "product.damaged"}'
    assert label_probability(tokens, ["product.damaged"]) == pytest.approx(math.exp(-0.2))


def test_the_label_is_found_in_fenced_json_and_not_in_the_rationale() -> None:
    answer = {"rationale": 'the buyer wrote "label": "product.fake"', "label": "product.damaged"}
    text = "```json\n" + json.dumps(answer) + "\n```"
    tokens = [TokenLogprob(text[i].encode(), -0.01) for i in range(len(text))]
    assert value_spans(text, "label") == [("product.damaged", *_where(text, '"product.damaged"'))]
    assert label_probability(tokens, ["product.damaged"]) == pytest.approx(math.exp(-0.01 * 15))
    assert label_probability(tokens, ["product.fake"]) is None  # only in the rationale's text


def _where(text: str, quoted: str) -> tuple[int, int]:
    start = text.rindex(quoted) + 1
    return start, start + len(quoted) - 2


def test_case_and_spacing_variants_match_the_validated_label() -> None:
    tokens = cut('{"label": " Product.Damaged "}', 3)
    assert label_probability(tokens, ["product.damaged"]) is not None


@pytest.mark.parametrize(
    "text",
    [
        '{"rationale": "no label here"}',  # the key is absent
        '{"label": ["product.damaged"]}',  # not a string
        "not json at all",
        '{"label": "product.dam',  # cut off
    ],
)
def test_label_absent_is_none(text: str) -> None:
    assert label_probability(cut(text, 5), ["product.damaged"]) is None


def test_no_tokens_is_none() -> None:
    assert label_probability(None, ["a"]) is None
    assert label_probability([], ["a"]) is None
    assert token_logprobs(_completion("{}", None)) is None


def test_multi_label_is_the_least_sure_label() -> None:
    text = '{"labels": ["spam", "counterfeit"]}'
    tokens = [TokenLogprob(text[i].encode(), -0.01) for i in range(len(text))]
    at = text.index("spam")
    for i in range(at, at + 4):
        tokens[i] = TokenLogprob(text[i].encode(), -0.5)
    got = label_probability(tokens, ["counterfeit", "spam"], multi_label=True)
    assert got == pytest.approx(math.exp(-0.5 * 4))
    assert label_probability(tokens, ["spam", "other"], multi_label=True) is None


def _completion(content: str | None, logprobs: list[dict[str, Any]] | None) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None if logprobs is None else {"content": logprobs, "refusal": None},
                }
            ],
        }
    )


# ------------------------------------------------------------------------------ through the model caller


def label(sop: prelabel.SOP, replies: list[Reply], **options: Any) -> tuple[prelabel.LabelResult, FakeModel]:
    fake = FakeModel(replies)
    labeler = prelabel.Labeler(sop, client=fake.async_client(), retry=FAST, **options)
    return labeler.label({"id": "i1", "text": "ของปลอมแน่นอน โลโก้ไม่เหมือนของแท้"}), fake


@pytest.mark.parametrize("mode", ["json_schema", "json", "md_json", "json_object_schema"])
def test_json_modes_record_the_label_probability(mode: str) -> None:
    result, fake = label(
        FEEDBACK, [Reply.answer("product.damaged", label_prob=0.3)], logprobs=True, mode=mode
    )
    assert result.label == "product.damaged" and result.label_prob == pytest.approx(0.3)
    assert fake.requests[0].body["logprobs"] is True


def test_the_answer_that_validated_gives_the_probability() -> None:
    off_schema = Reply.raw('{"rationale": "?", "label": "nope", "cited_rules": [], "confidence": 0.5}')
    replies = [off_schema, Reply.answer("product.damaged", label_prob=0.6)]
    result, _ = label(FEEDBACK, replies, logprobs=True, mode="json_schema")
    assert (result.attempts, result.label_prob) == (2, pytest.approx(0.6))


def test_multi_label_answers_through_the_fake() -> None:
    labels = [x for x in RISK.leaf_ids if not RISK.label_index[x].exclusive][:2]
    result, _ = label(RISK, [Reply.answer(labels, label_prob=0.45)], logprobs=True, mode="json_schema")
    assert result.labels == labels and result.label_prob == pytest.approx(0.45)


def test_tools_mode_has_no_label_probability() -> None:
    result, fake = label(
        FEEDBACK, [Reply.answer("product.damaged", label_prob=0.3)], logprobs=True, mode="tools"
    )
    assert result.status == "ok" and result.label_prob is None
    assert fake.requests[0].body["logprobs"] is True
    assert prelabel.LabelOptions(mode="tools").endpoint().logprobs_note is not None
    assert prelabel.LabelOptions(mode="json_schema").endpoint().logprobs_note is None


def test_without_logprobs_nothing_is_asked_or_recorded() -> None:
    result, fake = label(FEEDBACK, [Reply.answer("product.damaged", label_prob=0.3)], mode="json_schema")
    assert result.label_prob is None and "logprobs" not in fake.requests[0].body
    assert "label_prob" not in json.loads(result.to_json())


def test_the_embedded_model_request_passes_logprobs_through() -> None:
    sent = completion_kwargs({"messages": [], "logprobs": True})
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 0)
    assert "logprobs" not in completion_kwargs({"messages": []})


def test_the_embedded_model_loads_without_logits_all(monkeypatch: pytest.MonkeyPatch) -> None:
    # logits_all holds n_ctx x vocabulary floats: 4.3 GB for the bundled Gemma 3 at n_ctx 4096
    fake, loaded = FakeModel([Reply.answer("product.damaged", label_prob=0.3)]), []

    def local_clients(path: str | None, **llama_kwargs: Any) -> tuple[Any, Any]:
        loaded.append(llama_kwargs)
        return fake.client(), fake.async_client()

    monkeypatch.setattr("prelabel.llm.local.transport.local_clients", local_clients)
    labeler = prelabel.Labeler(FEEDBACK, model="local", logprobs=True, retry=FAST)
    result = labeler.label({"id": "i1", "text": "the box was crushed"})
    assert loaded == [{}] and result.label_prob == pytest.approx(0.3)


@pytest.mark.local_model
def test_the_local_smoke_model_gives_a_label_probability() -> None:
    labeler = prelabel.Labeler(FEEDBACK, model="local", logprobs=True)
    result = labeler.label({"id": "en", "text": "Where is my order?? It's been 10 days", "language": "en"})
    assert result.status in ("ok", "abstained"), result.error
    assert result.label_prob is not None and 0.0 < result.label_prob <= 1.0
    # the worker answered at n_ctx 4096 without logits_all: the model, its KV cache and one row of logits
    worker = shared_worker(default_model_path(), {})
    status = Path(f"/proc/{worker.pid}/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    assert peak_kb < 1_500_000, f"the model worker peaked at {peak_kb / 1e6:.2f} GB"
