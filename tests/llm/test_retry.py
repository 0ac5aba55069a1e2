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
from prelabel.errors import redact
from prelabel.llm.retry import MalformedResponse, RetryPolicy, call_with_retries, classify

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


def test_a_wait_longer_than_the_budget_left_gives_up_now_and_names_the_wait() -> None:
    # the server asks for 2 s; 1.5 s of the 2.5 s budget are spent: give up now rather than sleep past it
    fn = Flaky(status_error(500), status_error(429, oai_error("slow"), {"retry-after": "2"}))
    policy = RetryPolicy(max_attempts=5, initial_delay=1.5, max_total=2.5, jitter=False)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        asyncio.run(call_with_retries(fn, policy))
    assert time.monotonic() - started < 2.0
    assert len(fn.calls) == 2
    # the item's error record names the wait asked for
    message = classify(status_error(429, oai_error("slow"), {"retry-after": "2"})).message
    assert message == "slow (the server asked to wait 2 s)"


def test_a_wait_longer_than_the_whole_budget_stops_the_run() -> None:
    # Retry-After: 3600 with a 0.3 s budget: no item gets through sooner; an unusable endpoint (exit 3)
    fn = Flaky(status_error(429, oai_error("slow down"), {"retry-after": "3600"}))
    policy = RetryPolicy(max_attempts=5, initial_delay=0.001, max_total=0.3)
    started = time.monotonic()
    with pytest.raises(prelabel.EndpointError) as info:
        asyncio.run(call_with_retries(fn, policy, where="http://h/v1"))
    assert time.monotonic() - started < 0.3
    assert len(fn.calls) == 1
    wait = "rate limited (429) at http://h/v1: slow down (the server asked to wait 3600 s)"
    assert str(info.value).startswith(wait)
    assert "longer than the retry budget (0.3 s, --retry-budget)" in str(info.value)
    assert info.value.code == "retry_after_too_long" and info.value.__cause__ is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-reset-requests": "2s"}, 2.0),
        ({"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "6m0s"}, 2.0),  # none used up
        ({"x-ratelimit-reset-requests": "soon"}, None),
    ],
)
def test_ratelimit_reset_headers_are_the_wait_without_retry_after(
    headers: dict[str, str], expected: float | None
) -> None:
    failure = classify(status_error(429, oai_error("slow"), headers))
    assert (failure.reset_after, failure.retry_after) == (expected, None)


def test_the_reset_of_a_used_up_limit_is_the_wait_the_server_asks_for() -> None:
    used_up = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    failure = classify(status_error(429, oai_error("slow"), used_up))
    assert (failure.retry_after, failure.reset_after) == (2.0, None) and "resets in 2 s" in failure.message


def test_reset_headers_are_a_wait_for_429s_only_and_never_stop_the_run() -> None:
    """OpenAI sends x-ratelimit-* on every response: a 503 carrying ``reset-tokens: 6m0s`` stopped the whole
    run as "asked to wait 360 s"; a Retry-After still wins over them."""
    usual = {"x-ratelimit-remaining-tokens": "149000", "x-ratelimit-reset-tokens": "6m0s"}
    assert classify(status_error(503, oai_error("busy"), usual)).reset_after is None
    asked = classify(status_error(429, oai_error("slow"), {"retry-after": "1", **usual}))
    assert (asked.retry_after, asked.reset_after) == (1.0, None)
    fn = Flaky(status_error(503, oai_error("busy"), usual))
    assert asyncio.run(call_with_retries(fn, fast_retry(3))) == "done" and len(fn.calls) == 2
    refill = {"x-ratelimit-remaining-tokens": "900", "x-ratelimit-reset-tokens": "1h"}  # a full refill
    with pytest.raises(openai.RateLimitError):  # past the budget: this item is an error, the run goes on
        asyncio.run(call_with_retries(Flaky(status_error(429, oai_error("slow"), refill)), fast_retry(3)))


def test_a_429_waits_for_the_reset_header() -> None:
    # no Retry-After, x-ratelimit-reset-requests: 0.2s -> the retry comes after 0.2 s, not after the backoff
    fn = Flaky(status_error(429, oai_error("slow"), {"x-ratelimit-reset-requests": "200ms"}))
    asyncio.run(call_with_retries(fn, fast_retry(3)))
    assert fn.calls[1] - fn.calls[0] >= 0.19


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


def test_a_native_providers_failures_are_classified_like_openais() -> None:
    from prelabel.llm.retry import ProviderError

    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    failure = classify(
        ProviderError("Overloaded", status_code=529, body=overloaded, headers={"retry-after": "2"})
    )
    assert (failure.kind, failure.retryable, failure.retry_after, failure.code) == (
        "server_error",
        True,
        2.0,
        "overloaded_error",
    )
    exhausted = {
        "error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}
    }
    failure = classify(ProviderError("exhausted", status_code=429, body=exhausted))
    assert (failure.kind, failure.code, failure.message) == (
        "rate_limited",
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted",
    )
    assert classify(ProviderError("invalid x-api-key", status_code=401)).fatal
    assert classify(ProviderError("request timed out", timeout=True)).kind == "timeout"
    refused = classify(ProviderError("[Errno 111] Connection refused"))
    assert (refused.kind, refused.retryable) == ("connection_error", True)
