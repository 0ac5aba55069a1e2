"""Transport retries: classification of failures, Retry-After, backoff and bounded time."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from typing import Any

import httpx2
import openai
import pytest

import prelabel
from helpers import fast_retry
from prelabel.llm.retry import MalformedResponse, RetryPolicy, call_with_retries, classify, redact

FAST = fast_retry(4)


def status_error(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> openai.APIStatusError:
    """The exception the openai client raises for an HTTP error response."""
    request = httpx2.Request("POST", "http://fake/v1/chat/completions")
    content = json.dumps(body).encode() if body is not None else b""
    response = httpx2.Response(status, headers=headers or {}, content=content, request=request)
    client = openai.OpenAI(api_key="test", base_url="http://fake/v1", max_retries=0)
    return client._make_status_error_from_response(response)


def oai_error(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable", "fatal"),
    [
        (401, oai_error("bad key"), "auth", False, True),
        (403, oai_error("forbidden"), "auth", False, True),
        (404, oai_error("no such model", "model_not_found"), "model_not_found", False, True),
        (429, oai_error("quota", "insufficient_quota"), "insufficient_quota", False, True),
        (429, oai_error("slow down", "rate_limit_exceeded"), "rate_limited", True, False),
        (500, oai_error("boom"), "server_error", True, False),
        (503, None, "server_error", True, False),
        (408, None, "timeout", True, False),
        (400, oai_error("context too long"), "bad_request", False, False),
        (422, oai_error("bad schema"), "bad_request", False, False),
    ],
)
def test_status_errors_are_classified(
    status: int, body: Any, kind: str, retryable: bool, fatal: bool
) -> None:
    failure = classify(status_error(status, body))
    assert (failure.kind, failure.retryable, failure.fatal, failure.status_code) == (
        kind,
        retryable,
        fatal,
        status,
    )
    if body is not None:
        assert failure.message == body["error"]["message"]


def test_transport_failures_are_retryable() -> None:
    request = httpx2.Request("POST", "http://fake/v1/chat/completions")
    assert classify(openai.APITimeoutError(request)).kind == "timeout"
    assert classify(openai.APIConnectionError(request=request)).kind == "connection_error"
    assert classify(MalformedResponse("bad body")).kind == "malformed_response"
    assert all(
        classify(e).retryable
        for e in (
            openai.APITimeoutError(request),
            openai.APIConnectionError(request=request),
            MalformedResponse(),
        )
    )
    assert not classify(ValueError("bug")).retryable


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5", "retry-after-ms": "100"}, 0.1),  # the precise header wins
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert classify(status_error(429, oai_error("slow"), headers)).retry_after == expected


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    hint = classify(status_error(503, None, {"retry-after": when})).retry_after
    assert hint is not None and 25 <= hint <= 31


def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = {policy.backoff(attempt) for _ in range(20)}
        assert all(base / 2 <= w <= base for w in waits)
        assert len(waits) > 1  # jittered
    assert RetryPolicy(initial_delay=1.0, jitter=False).backoff(3) == 4.0


class Flaky:
    """Fails with the given exceptions, then returns 'done'."""

    def __init__(self, *failures: BaseException):
        self.failures = list(failures)
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(time.monotonic())
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def test_transient_failures_are_retried_until_success() -> None:
    fn = Flaky(status_error(500), MalformedResponse("x"), status_error(429, oai_error("slow")))
    assert asyncio.run(call_with_retries(fn, FAST)) == "done"
    assert len(fn.calls) == 4


def test_retry_after_is_honoured() -> None:
    fn = Flaky(status_error(429, oai_error("slow"), {"retry-after-ms": "200"}))
    assert asyncio.run(call_with_retries(fn, FAST)) == "done"
    assert fn.calls[1] - fn.calls[0] >= 0.19


def test_exhausted_retries_reraise_the_last_error() -> None:
    fn = Flaky(*(status_error(502, oai_error(f"boom {i}")) for i in range(10)))
    with pytest.raises(openai.InternalServerError, match="boom 3"):
        asyncio.run(call_with_retries(fn, FAST))
    assert len(fn.calls) == FAST.max_attempts


@pytest.mark.parametrize(
    "error",
    [
        status_error(401, oai_error("Incorrect API key provided: sk-abcdef123456")),
        status_error(429, oai_error("You exceeded your current quota", "insufficient_quota")),
        status_error(404, oai_error("The model `gpt-9` does not exist", "model_not_found")),
    ],
)
def test_fatal_failures_raise_endpoint_error_without_retrying(error: openai.APIStatusError) -> None:
    fn = Flaky(error, error, error)
    with pytest.raises(prelabel.EndpointError) as info:
        asyncio.run(call_with_retries(fn, FAST, where="http://fake/v1"))
    assert len(fn.calls) == 1
    message = str(info.value)
    assert "\n" not in message and "http://fake/v1" in message
    assert "sk-abcdef123456" not in message
    assert info.value.status_code == error.status_code


def test_non_retryable_errors_raise_at_once() -> None:
    fn = Flaky(status_error(400, oai_error("bad request")))
    with pytest.raises(openai.BadRequestError):
        asyncio.run(call_with_retries(fn, FAST))
    assert len(fn.calls) == 1


def test_total_time_is_bounded_by_max_total() -> None:
    # the server asks for 10 s; the budget is 0.3 s: give up now rather than sleep past it
    fn = Flaky(status_error(429, oai_error("slow"), {"retry-after": "10"}))
    policy = RetryPolicy(max_attempts=5, initial_delay=0.001, max_total=0.3)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        asyncio.run(call_with_retries(fn, policy))
    assert time.monotonic() - started < 0.3
    assert len(fn.calls) == 1


def test_on_failure_sees_every_failure() -> None:
    seen: list[str] = []
    fn = Flaky(status_error(500), MalformedResponse("x"))
    asyncio.run(call_with_retries(fn, FAST, on_failure=lambda f: seen.append(f.kind)))
    assert seen == ["server_error", "malformed_response"]


def test_redact_hides_keys() -> None:
    text = "key sk-proj-AbC123_xyz and Bearer abc.def and my-secret-token"
    out = redact(text, "my-secret-token")
    assert "sk-proj" not in out and "abc.def" not in out and "my-secret-token" not in out
    assert out.count("***") == 3
