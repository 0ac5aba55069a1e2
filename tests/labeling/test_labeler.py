"""Labeler over a fake transport (httpx2.MockTransport): answers, re-asks, retries and every failure mode."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry
from prelabel import Labeler, LabelResult
from prelabel.testing.fake import FakeModel, Reply, RequestRecord

FAST = fast_retry(3)
OFF_SCHEMA = '{"rationale": "hmm", "label": "shipping", "confidence": 0.5}'


@pytest.fixture
def sop() -> prelabel.SOP:
    return prelabel.bundled_sop("customer_feedback_intent")


def labeler(sop: prelabel.SOP, fake: FakeModel, **options: Any) -> Labeler:
    options.setdefault("retry", FAST)
    return Labeler(sop, model="gpt-4o-mini", client=fake.async_client(), **options)


def test_ok_result_has_every_labels_jsonl_field(sop: prelabel.SOP) -> None:
    fake = FakeModel(
        [Reply.answer("product.damaged", cited_rules=["R2"], confidence=0.8, usage={"cached_tokens": 64})]
    )
    result = labeler(sop, fake).label({"id": "a1", "text": "The mug arrived in pieces"})
    line = json.loads(result.to_json())
    assert list(line) == [
        "item_id", "status", "label", "labels", "rationale", "cited_rules", "confidence", "error", "model",
        "sop_id", "sop_version", "prompt_hash", "template", "attempts", "usage", "latency_s",
    ]  # fmt: skip
    assert line["item_id"] == "a1" and line["status"] == "ok" and line["label"] == "product.damaged"
    assert line["labels"] is None and line["error"] is None
    assert line["cited_rules"] == ["R2"] and line["confidence"] == 0.8
    assert line["model"] == "gpt-4o-mini" and line["sop_id"] == sop.id and line["sop_version"] == sop.version
    assert line["prompt_hash"] == prelabel.prompt_hash(sop) and line["template"] == "classify.v1"
    assert line["attempts"] == 1
    assert line["usage"] == {"prompt_tokens": 100, "completion_tokens": 20, "cached_tokens": 64}
    assert line["latency_s"] >= 0


def test_request_carries_rendered_messages_and_schema(sop: prelabel.SOP) -> None:
    fake = FakeModel()
    item = {"id": "a1", "text": "Where is my parcel?"}
    labeler(sop, fake).label(item)
    [request] = fake.requests
    body = request.body
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.0
    assert body["messages"] == prelabel.render(sop, item)
    tool = body["tools"][0]["function"]
    assert tool["name"] == prelabel.response_model(sop).__name__
    assert tool["parameters"]["properties"]["label"]["enum"] == list(sop.answer_ids)
    assert body["tool_choice"]["function"]["name"] == tool["name"]
    assert request.item_text == "Where is my parcel?"
    assert request.headers["authorization"] == "Bearer test"


def test_abstain_answer_has_status_abstained(sop: prelabel.SOP) -> None:
    result = labeler(sop, FakeModel([Reply.answer("needs_review")])).label({"id": "x", "text": "asdf"})
    assert (result.status, result.label) == ("abstained", "needs_review")


def test_multi_label_sop_fills_labels_not_label() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    first, second = sop.leaf_ids[:2]
    fake = FakeModel([Reply.answer([second, first.upper()])])
    result = labeler(sop, fake).label({"id": "m", "text": "some listing"})
    assert result.status == "ok" and result.label is None and result.labels == [second, first]
    abstain = labeler(sop, FakeModel([Reply.answer([sop.abstain.label])])).label({"id": "n", "text": "?"})
    assert abstain.status == "abstained" and abstain.labels == [sop.abstain.label]


def test_429_then_success_honours_retry_after(sop: prelabel.SOP) -> None:
    fake = FakeModel([Reply.error(429, "Rate limit reached", headers={"retry-after": "0.3"}), Reply.answer()])
    result = labeler(sop, fake).label({"id": "a", "text": "late"})
    assert result.status == "ok" and result.attempts == 2
    assert fake.requests[1].time - fake.requests[0].time >= 0.29
    assert result.usage.prompt_tokens == 100  # the 429 used no tokens


def test_500_exhausted_becomes_error_record(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.error(500, "The server had an error"))
    result = labeler(sop, fake).label({"id": "a", "text": "late"})
    assert result.status == "error" and result.label is None
    assert result.error is not None and result.error.type == "server_error"
    assert "HTTP 500" in result.error.message and "The server had an error" in result.error.message
    assert result.attempts == FAST.max_attempts == len(fake.requests)


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply.error(401, "Incorrect API key provided: sk-test-1234567890"), 401),
        (Reply.error(403, "Project does not have access"), 403),
        (Reply.error(429, "You exceeded your current quota", code="insufficient_quota"), 429),
        (Reply.error(404, "The model `gpt-9` does not exist", code="model_not_found"), 404),
    ],
)
def test_unusable_endpoint_raises_at_once(sop: prelabel.SOP, reply: Reply, code: int) -> None:
    fake = FakeModel(default=reply)
    with pytest.raises(prelabel.EndpointError) as info:
        labeler(sop, fake).label({"id": "a", "text": "late"})
    assert len(fake.requests) == 1  # no retries burned
    assert info.value.status_code == code
    assert "\n" not in str(info.value) and "sk-test-1234567890" not in str(info.value)


def test_off_schema_then_valid_counts_the_reask(sop: prelabel.SOP) -> None:
    fake = FakeModel([Reply.raw(OFF_SCHEMA), Reply.answer("logistics.late_delivery")])
    result = labeler(sop, fake).label({"id": "a", "text": "late"})
    assert result.status == "ok" and result.label == "logistics.late_delivery"
    assert result.attempts == 2
    assert result.usage.prompt_tokens == 200 and result.usage.completion_tokens == 40
    # the re-ask shows the model its invalid answer and the validation error
    reask = fake.requests[1].body["messages"]
    assert len(reask) > len(fake.requests[0].body["messages"])
    assert "shipping" in json.dumps(reask)


def test_off_schema_forever_becomes_error_record_with_last_output(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.raw(OFF_SCHEMA))
    result = labeler(sop, fake, max_reasks=2).label({"id": "a", "text": "late"})
    assert result.status == "error" and result.error is not None
    assert result.error.type == "invalid_output"
    assert result.error.message.startswith("answer invalid after 3 attempt(s): label: Input should be")
    assert "errors.pydantic.dev" not in result.error.message
    assert result.error.last_output == OFF_SCHEMA
    assert result.attempts == 3 == len(fake.requests)
    assert result.usage.completion_tokens == 60


def test_non_json_answer_is_reasked_then_error(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.raw("I think it is late delivery."))
    result = labeler(sop, fake, max_reasks=1).label({"id": "a", "text": "late"})
    assert result.error is not None and result.error.type == "invalid_output"
    assert result.error.last_output == "I think it is late delivery."
    assert result.attempts == 2


def test_malformed_json_body_is_retried(sop: prelabel.SOP) -> None:
    fake = FakeModel([Reply.malformed(), Reply.answer()])
    result = labeler(sop, fake).label({"id": "a", "text": "late"})
    assert result.status == "ok" and result.attempts == 2


def test_malformed_forever_is_an_error_record(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.malformed(b"<html>502 Bad Gateway</html>"))
    result = labeler(sop, fake).label({"id": "a", "text": "late"})
    assert result.error is not None and result.error.type == "malformed_response"
    assert result.attempts == FAST.max_attempts


def test_timeout_then_success_and_timeout_forever(sop: prelabel.SOP) -> None:
    fake = FakeModel([Reply.timeout(), Reply.disconnect(), Reply.answer()])
    assert labeler(sop, fake).label({"id": "a", "text": "late"}).attempts == 3
    stuck = labeler(sop, FakeModel(default=Reply.timeout())).label({"id": "b", "text": "late"})
    assert stuck.error is not None and stuck.error.type == "timeout" and stuck.attempts == FAST.max_attempts


def test_bad_request_is_an_error_record_without_retry(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.error(400, "This model's maximum context length is 128000 tokens"))
    result = labeler(sop, fake).label({"id": "a", "text": "late"})
    assert result.error is not None and result.error.type == "bad_request" and len(fake.requests) == 1


def test_unusable_items_become_error_records_without_a_request(sop: prelabel.SOP, tmp_path: Path) -> None:
    fake = FakeModel()
    lab = labeler(sop, fake)
    missing = lab.label({"id": "img", "images": [str(tmp_path / "missing.png")]})
    no_text = lab.label({"id": "empty", "text": ""})
    bad_row = lab.label(prelabel.BadItem(index=3, reason="line 4: invalid JSON", item_id=None))
    assert [r.error.type for r in (missing, no_text, bad_row) if r.error] == ["invalid_item"] * 3
    assert missing.item_id == "img" and "cannot read image" in missing.error.message  # type: ignore[union-attr]
    assert no_text.error.message == "item has neither text nor images"  # type: ignore[union-attr]
    assert bad_row.item_id is None and bad_row.error.message == "line 4: invalid JSON"  # type: ignore[union-attr]
    assert all(r.attempts == 0 for r in (missing, no_text, bad_row))
    assert fake.requests == []


def test_sync_openai_client_is_supported(sop: prelabel.SOP) -> None:
    fake = FakeModel([Reply.error(503, "busy"), Reply.answer("praise_other.praise")])
    lab = Labeler(sop, model="gpt-4o-mini", client=fake.client(), retry=FAST)
    result = lab.label({"id": "s", "text": "great seller"})
    assert (result.label, result.attempts) == ("praise_other.praise", 2)


@pytest.mark.parametrize(("mode", "format_type"), [("json_schema", "json_schema"), ("json", "json_object")])
def test_json_modes_send_response_format(sop: prelabel.SOP, mode: str, format_type: str) -> None:
    fake = FakeModel([Reply.answer("seller.conduct")])
    result = labeler(sop, fake, mode=mode).label({"id": "j", "text": "seller asked for WhatsApp"})
    assert result.label == "seller.conduct"
    body = fake.requests[0].body
    assert "tools" not in body and body["response_format"]["type"] == format_type


def test_rationale_language_reaches_the_system_prompt(sop: prelabel.SOP) -> None:
    fake = FakeModel()
    labeler(sop, fake, rationale_language="Bahasa Indonesia").label({"id": "l", "text": "paket belum sampai"})
    system = fake.requests[0].body["messages"][0]["content"]
    assert "Write the rationale in Bahasa Indonesia" in system


def test_reasoning_models_get_no_temperature(sop: prelabel.SOP) -> None:
    fake = FakeModel()
    Labeler(sop, model="o4-mini", client=fake.async_client(), retry=FAST).label({"id": "o", "text": "late"})
    assert "temperature" not in fake.requests[0].body
    body = fake.requests[0].body
    assert body["max_completion_tokens"] == 1024 and "max_tokens" not in body


def test_output_tokens_are_bounded(sop: prelabel.SOP) -> None:
    fake = FakeModel()
    labeler(sop, fake).label({"id": "m", "text": "late"})
    Labeler(sop, client=fake.async_client(), retry=FAST, max_tokens=None).label({"id": "n", "text": "late"})
    Labeler(sop, client=fake.async_client(), retry=FAST, max_tokens=64).label({"id": "p", "text": "late"})
    assert [r.body.get("max_tokens") for r in fake.requests] == [1024, None, 64]


def test_label_many_keeps_input_order_and_bounds_concurrency(sop: prelabel.SOP) -> None:
    rng = random.Random(7)
    in_flight = peak = 0

    def answer(request: RequestRecord) -> Reply:
        return Reply.answer(delay=rng.uniform(0, 0.03))

    fake = FakeModel(default=answer)
    transport = fake.mock_transport()
    inner = transport.handler

    async def counting(request: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await inner(request)  # type: ignore[misc]
        finally:
            in_flight -= 1

    transport.handler = counting
    import httpx2
    import openai

    client = openai.AsyncOpenAI(
        api_key="test",
        base_url="http://fake/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    )
    items = [{"id": f"i{n}", "text": f"item number {n}"} for n in range(25)] + [{"text": "no id"}]
    results = Labeler(sop, client=client, retry=FAST).label_many(items, concurrency=4)
    assert [r.item_id for r in results] == [f"i{n}" for n in range(25)] + [None]
    assert [r.status for r in results] == ["ok"] * 25 + ["error"]
    assert 1 < peak <= 4
    sent = sorted(r.item_text or "" for r in fake.requests)
    assert sent == sorted(f"item number {n}" for n in range(25))


def test_label_many_stops_on_endpoint_error(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.error(401, "bad key"))
    with pytest.raises(prelabel.EndpointError):
        labeler(sop, fake).label_many([{"id": str(n), "text": "x"} for n in range(50)], concurrency=2)
    assert len(fake.requests) < 50


def test_unreachable_endpoint_stops_the_batch(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.disconnect())
    with pytest.raises(prelabel.EndpointError, match="unreachable"):
        labeler(sop, fake).label_many([{"id": str(n), "text": "x"} for n in range(20)], concurrency=1)
    assert len(fake.requests) == FAST.max_attempts  # the first item's retries, then stop


def test_sync_facade_works_inside_a_running_event_loop(sop: prelabel.SOP) -> None:
    fake = FakeModel()
    lab = labeler(sop, fake)

    async def notebook_cell() -> tuple[LabelResult, LabelResult, list[LabelResult]]:
        sync = lab.label({"id": "a", "text": "late"})  # a notebook calling the sync API
        native = await lab.alabel({"id": "b", "text": "late"})
        many = await lab.alabel_many([{"id": "c", "text": "x"}, {"id": "d", "text": "y"}])
        return sync, native, many

    sync, native, many = asyncio.run(notebook_cell())
    assert sync.status == native.status == "ok" and [r.item_id for r in many] == ["c", "d"]


def test_to_dataframe_flattens_results(sop: prelabel.SOP) -> None:
    fake = FakeModel([Reply.answer("product.damaged")], default=Reply.raw("nope"))
    results = labeler(sop, fake, max_reasks=0).label_many(
        [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}], 1
    )
    frame = prelabel.to_dataframe(results)
    assert list(frame["item_id"]) == ["a", "b"]
    assert list(frame["status"]) == ["ok", "error"]
    assert frame.loc[1, "error_type"] == "invalid_output"
    assert int(frame["prompt_tokens"].sum()) == 200
    assert {"label", "confidence", "cited_rules", "latency_s", "cached_tokens"} <= set(frame.columns)


def test_cost_of_results(sop: prelabel.SOP) -> None:
    lab = labeler(
        sop, FakeModel(default=Reply.answer(usage={"prompt_tokens": 1_000_000, "completion_tokens": 0}))
    )
    results = lab.label_many([{"id": "a", "text": "x"}, {"id": "b", "text": "y"}])
    assert lab.cost(results) == pytest.approx(0.30)  # gpt-4o-mini: $0.15 per 1M input tokens


def test_progress_bar_reports_on_stderr(
    sop: prelabel.SOP, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: the live display
    fake = FakeModel([Reply.answer(), Reply.raw("nope")])
    items = [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]
    labeler(sop, fake, max_reasks=0).label_many(items, concurrency=1, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "labeling" in err and "2/2" in err and "1 errors" in err
    # the same display as `prelabel run` (RunProgress): its figures and its final line
    assert "items/s" in err and "done: 2/2 items: 1 ok, 0 abstained, 1 errors;" in err


def test_answer_cut_off_at_the_token_limit(sop: prelabel.SOP) -> None:
    fake = FakeModel(default=Reply.raw('{"rationale": "very long', finish_reason="length"))
    result = labeler(sop, fake).label({"id": "a", "text": "x"})
    assert result.error is not None and result.error.type == "incomplete_output"
    assert result.error.last_output == '{"rationale": "very long'
