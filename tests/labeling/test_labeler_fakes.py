"""The public test fakes (``prelabel.testing``): default answers per mode, loopback server, faults."""

from __future__ import annotations

import json
import time

import httpx2
import pytest

import prelabel
from helpers import fast_retry
from prelabel import Labeler, RetryPolicy
from prelabel.testing.fake import FakeModel, FakeServer, Reply

FAST = fast_retry(2)


@pytest.mark.parametrize("mode", ["tools", "json_schema", "json", "md_json"])
def test_default_answer_is_valid_in_every_mode(mode: str) -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    fake = FakeModel()
    result = Labeler(sop, client=fake.async_client(), mode=mode, retry=FAST).label({"id": "a", "text": "x"})
    assert result.status == "ok" and result.label == sop.leaf_ids[0]


def test_default_answer_for_a_multi_label_sop() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    result = Labeler(sop, client=FakeModel().async_client(), retry=FAST).label({"id": "a", "text": "x"})
    assert result.status == "ok" and result.labels == [sop.leaf_ids[0]]


def test_default_can_be_a_function_of_the_request() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    fake = FakeModel(
        default=lambda request: Reply.answer(
            "seller.conduct" if "WhatsApp" in (request.item_text or "") else None
        )
    )
    labeler = Labeler(sop, client=fake.async_client(), retry=FAST)
    assert labeler.label({"id": "a", "text": "chat on WhatsApp"}).label == "seller.conduct"
    assert labeler.label({"id": "b", "text": "hello"}).label == sop.leaf_ids[0]


def test_server_logs_requests_and_adds_latency() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    fake = FakeModel(latency=0.2)
    with FakeServer(fake) as server:
        started = time.monotonic()
        result = Labeler(sop, base_url=server.url, retry=FAST).label({"id": "a", "text": "where is it"})
        elapsed = time.monotonic() - started
    assert result.status == "ok" and result.latency_s >= 0.2 and elapsed >= 0.2
    [request] = server.requests
    assert request.path == "/v1/chat/completions" and request.item_text == "where is it"
    assert request.headers["authorization"] == "Bearer not-needed"  # no key configured: a placeholder


def test_server_routes_and_model_list() -> None:
    with FakeServer() as server:
        models = httpx2.get(server.url + "/models").json()
        missing = httpx2.post(server.url + "/embeddings", json={"input": "x"})
    assert models["data"][0]["id"] == "fake-model"
    assert missing.status_code == 404


def test_real_http_timeout_becomes_an_error_record() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    fake = FakeModel(default=Reply.timeout(delay=1.0))
    policy = RetryPolicy(max_attempts=2, initial_delay=0.001, max_total=5.0, timeout=0.2)
    with FakeServer(fake) as server:
        result = Labeler(sop, base_url=server.url, retry=policy).label({"id": "a", "text": "x"})
    assert result.error is not None and result.error.type == "timeout" and result.attempts == 2
    assert result.latency_s < 1.0


def test_server_faults_in_sequence() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    script = [
        Reply.error(502, body="<html>Bad Gateway</html>"),
        Reply.disconnect(),
        Reply.malformed(),
        Reply.answer(
            "product.damaged", usage={"prompt_tokens": 7, "completion_tokens": 3, "cached_tokens": 5}
        ),
    ]
    policy = RetryPolicy(max_attempts=4, initial_delay=0.001, max_total=5.0, timeout=2.0)
    with FakeServer(FakeModel(script)) as server:
        result = Labeler(sop, base_url=server.url, retry=policy).label({"id": "a", "text": "x"})
    assert (result.status, result.label, result.attempts) == ("ok", "product.damaged", 4)
    assert result.usage.model_dump() == {"prompt_tokens": 7, "completion_tokens": 3, "cached_tokens": 5}


def test_error_reply_body_is_openai_shaped() -> None:
    fake = FakeModel(
        default=Reply.error(429, "slow down", code="rate_limit_exceeded", headers={"retry-after": "1"})
    )
    _, status, headers, body = fake.respond("/v1/chat/completions", {}, b"{}")
    assert status == 429 and headers["retry-after"] == "1"
    assert json.loads(body)["error"] == {
        "message": "slow down",
        "type": "rate_limit_exceeded",
        "code": "rate_limit_exceeded",
        "param": None,
    }
