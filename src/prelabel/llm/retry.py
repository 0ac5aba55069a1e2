"""Transport retries: tenacity around each model call, and what each failure means.

One of three retry layers, never nested (docs/architecture.md, "Calling models"): this one retries the HTTP
call on 429, 5xx, timeouts, connection errors and malformed response bodies, honouring ``retry-after-ms`` /
``Retry-After`` and otherwise backing off exponentially with jitter, within a bounded total time. Re-asks on
invalid answers are instructor's job; per-item error records are the labeler's.

Failures that no retry can fix — authentication (401/403), ``insufficient_quota`` and unknown models (404)
— raise ``EndpointError`` at once, so a batch stops instead of burning retries.

    >>> policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_total=1.0)
    >>> policy.backoff(1) <= 0.01
    True
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from prelabel.errors import EndpointError, InputError

if TYPE_CHECKING:
    import openai

__all__ = [
    "Budget",
    "Failure",
    "MalformedResponse",
    "ProviderError",
    "RequestTimeout",
    "RetryPolicy",
    "call_with_retries",
    "classify",
    "parse_duration",
    "seconds_text",
    "too_long_wait",
]

T = TypeVar("T")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str | None) -> float | None:
    """Seconds in an OpenAI reset header (``"1s"``, ``"6m0s"``, ``"120ms"``, a number); else ``None``.

    >>> parse_duration("6m0s"), parse_duration("120ms"), parse_duration("1.5s"), parse_duration("2")
    (360.0, 0.12, 1.5, 2.0)
    >>> parse_duration("soon") is None
    True
    """
    if text is None:
        return None
    text = text.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


class MalformedResponse(Exception):
    """The server answered 2xx with a body that is not a chat completion (bad JSON, HTML, ...)."""


class ProviderError(Exception):
    """A native provider SDK's failure in neutral terms (``llm.wire``: each wire translates its SDK's errors):
    an HTTP status with its body and headers, or (``status_code`` ``None``) a connection failure or, with
    ``timeout``, a request that timed out. ``classify`` reads it as it reads openai's errors."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        headers: Any = None,
        timeout: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.headers = headers if headers is not None else {}
        self.timeout = timeout


class RequestTimeout(Exception):
    """A request got no complete answer within its deadline (``RetryPolicy.timeout``, cut to the budget)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transport failures are retried.

    ``max_attempts`` counts requests per model call (first try included); ``max_total`` bounds the time
    spent in one call, requests and backoff waits included (not the time queued behind ``--rpm``/``--tpm``);
    ``timeout`` is each request's deadline in seconds, from sending to the last byte of the answer, cut to
    the budget left. A ``Retry-After`` longer than ``max_total`` stops the run (``EndpointError``).
    """

    max_attempts: int = 6
    initial_delay: float = 1.0
    max_delay: float = 60.0
    max_total: float = 300.0
    timeout: float = 120.0
    jitter: bool = True

    def __post_init__(self) -> None:
        problems = [
            f"{name} ({flag}) must be above 0"
            for name, flag in (("timeout", "--timeout"), ("max_total", "--retry-budget"))
            if not getattr(self, name) > 0  # NaN too
        ]
        if self.max_attempts < 1:
            problems.append("max_attempts (--max-attempts) must be at least 1")
        if problems:
            raise InputError(f"bad retry policy: {'; '.join(problems)}")

    @classmethod
    def with_defaults(
        cls,
        *,
        timeout: float | None = None,
        max_total: float | None = None,
        max_attempts: int | None = None,
    ) -> RetryPolicy:
        """The default policy with the values given (``None``: keep the default), e.g. from CLI flags."""
        given = {"timeout": timeout, "max_total": max_total, "max_attempts": max_attempts}
        return cls(**{name: value for name, value in given.items() if value is not None})  # type: ignore[arg-type]

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) when the server gave no hint."""
        base = min(self.max_delay, self.initial_delay * 2 ** max(attempt - 1, 0))
        return base / 2 + random.uniform(0, base / 2) if self.jitter else base


class Budget:
    """The time one model call may take (``RetryPolicy.max_total``), not counting time queued behind the run's
    rate limits; ``deadline()`` is the next request's deadline (the policy's timeout, cut to what is left)."""

    def __init__(self, policy: RetryPolicy):
        self.policy = policy
        self.started = time.monotonic()
        self.queued = 0.0

    def spent(self) -> float:
        """Seconds spent so far, queueing excluded."""
        return time.monotonic() - self.started - self.queued

    def left(self) -> float:
        """Seconds left (never below 0)."""
        return max(self.policy.max_total - self.spent(), 0.0)

    def deadline(self) -> float:
        """Seconds the next request may take."""
        return max(min(self.policy.timeout, self.left()), 0.001)

    def timed_out(self, deadline: float) -> RequestTimeout:
        """The error for a request that took its whole ``deadline``."""
        if deadline < self.policy.timeout:
            return RequestTimeout(
                f"no complete answer within the {deadline:.3g} s left of the retry budget "
                f"({seconds_text(self.policy.max_total)})"
            )
        return RequestTimeout(f"no complete answer within {deadline:.3g} s")

    @contextlib.contextmanager
    def queueing(self) -> Iterator[None]:
        """Time spent inside does not count (waiting for a rate-limit slot)."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.queued += time.monotonic() - start


@dataclass(frozen=True)
class Failure:
    """What a failed call means: ``kind`` names it in error records; ``retry_after`` is the wait the server
    asked for (``Retry-After``; longer than the whole budget stops the run); ``reset_after`` is when a 429's
    used-up rate limit resets (``x-ratelimit-reset-*``: a wait, never a reason to stop)."""

    kind: str
    message: str
    retryable: bool = False
    fatal: bool = False
    retry_after: float | None = None
    reset_after: float | None = None
    status_code: int | None = None
    code: str | None = None


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(parsed.timestamp() - time.time(), 0.0)


def _ratelimit_reset(headers: Any) -> tuple[float | None, bool]:
    """When a 429's limit frees up, from OpenAI's ``x-ratelimit-reset-requests``/``-tokens``, and whether a
    limit is reported used up (remaining 0): then its reset, else the sooner of the two (a reset is the time
    to refill the whole bucket, and a request needs only part of it)."""
    waits = {}
    for kind in ("requests", "tokens"):
        reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
        if reset is not None:
            waits[kind] = reset
    used_up = {kind for kind in waits if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0"}
    spent = [wait for kind, wait in waits.items() if kind in used_up]
    if spent:
        return max(spent), True
    return (min(waits.values()) if waits else None), False


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _body_message(exc: openai.APIStatusError | ProviderError) -> str:
    """The server's error message as one line (``{"error": {"message"}}`` as OpenAI, Anthropic and Gemini
    send it, or any body)."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return _one_line(str(inner["message"]))
        if isinstance(inner, str):
            return _one_line(inner)
        return _one_line(json.dumps(body, ensure_ascii=False))
    if isinstance(body, str) and body.strip():
        return _one_line(body)
    return _one_line(exc.message)


def _code(exc: openai.APIStatusError | ProviderError) -> str | None:
    """The error's code: OpenAI's ``code`` (``insufficient_quota``), else its ``type``; Anthropic's error
    ``type`` (``overloaded_error``); Gemini's ``status`` (``RESOURCE_EXHAUSTED``)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    inner = inner if isinstance(inner, dict) else {}
    candidates = (
        getattr(exc, "code", None),
        inner.get("code"),
        getattr(exc, "type", None),
        inner.get("type"),
    )
    for candidate in (*candidates, inner.get("status")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def classify(exc: BaseException) -> Failure:
    """Classify an exception raised by a model call."""
    import openai  # here, not at module level: ``import prelabel`` and the CLI stay fast

    if isinstance(exc, openai.APIConnectionError) and isinstance(exc.__cause__, EndpointError):
        return classify(exc.__cause__)  # raised inside a transport (the embedded model's worker)
    if isinstance(exc, EndpointError):
        return Failure("endpoint", str(exc), fatal=True, status_code=exc.status_code, code=exc.code)
    if isinstance(exc, MalformedResponse):
        return Failure("malformed_response", str(exc), retryable=True)
    if isinstance(exc, RequestTimeout):
        return Failure("timeout", str(exc), retryable=True)
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", "request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f": {cause}" if cause and str(cause) else ""
        return Failure("connection_error", _one_line(f"cannot connect{detail}"), retryable=True)
    if isinstance(exc, ProviderError):
        if exc.status_code is None:
            if exc.timeout:
                return Failure("timeout", "request timed out", retryable=True)
            return Failure("connection_error", _one_line(f"cannot connect: {exc.message}"), retryable=True)
        return _status_failure(exc, exc.status_code, exc.headers)
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, exc.status_code, exc.response.headers)
    if isinstance(exc, openai.APIError):
        return Failure("api_error", str(exc))
    return Failure("error", _one_line(f"{type(exc).__name__}: {exc}"))


def _status_failure(exc: openai.APIStatusError | ProviderError, status: int, headers: Any) -> Failure:
    """What an HTTP error status means (any provider: the status, the body's code, the wait headers)."""
    code, message = _code(exc), _body_message(exc)
    hint = _retry_after(headers)
    if hint is not None and (status in (408, 409, 429) or status >= 500):
        message = f"{message} (the server asked to wait {seconds_text(hint)})"
    if status in (401, 403):
        return Failure("auth", message, fatal=True, status_code=status, code=code)
    if status == 429 and code == "insufficient_quota":
        return Failure("insufficient_quota", message, fatal=True, status_code=status, code=code)
    if status == 404:
        return Failure("model_not_found", message, fatal=True, status_code=status, code=code)
    if status == 429:
        reset, used_up = _ratelimit_reset(headers) if hint is None else (None, False)
        if used_up and reset is not None:  # a limit at 0 names its reset: as explicit as a Retry-After
            hint, reset = reset, None
            message = f"{message} (its used-up rate limit resets in {seconds_text(hint)})"
        elif reset is not None:
            message = f"{message} (its rate limit resets in {seconds_text(reset)})"
        return Failure(
            "rate_limited",
            message,
            retryable=True,
            retry_after=hint,
            reset_after=reset,
            status_code=status,
            code=code,
        )
    if status == 408 or status == 409 or status >= 500:
        kind = "timeout" if status == 408 else "server_error"
        return Failure(kind, message, retryable=True, retry_after=hint, status_code=status, code=code)
    if status in (400, 413, 422):
        return Failure("bad_request", message, status_code=status, code=code)
    return Failure("api_error", message, status_code=status, code=code)


_FATAL_ADVICE = {
    "auth": "check the API key ({keys}) and its permissions",
    "insufficient_quota": "the account has no quota left; check billing",
    "model_not_found": "check --model / PRELABEL_MODEL and --base-url",
}


def endpoint_error(
    failure: Failure, where: str | None = None, key_env: tuple[str, ...] = ("OPENAI_API_KEY",)
) -> EndpointError:
    """The ``EndpointError`` for a fatal failure, as one clear line (``key_env``: where the key comes from,
    named in the advice for an authentication failure)."""
    status = f" ({failure.status_code})" if failure.status_code else ""
    at = f" at {where}" if where else ""
    advice = _FATAL_ADVICE.get(failure.kind, "").format(keys=" or ".join(key_env))
    text = f"{failure.kind.replace('_', ' ')}{status}{at}: {failure.message}"
    if advice:
        text += f" — {advice}"
    return EndpointError(text, status_code=failure.status_code, code=failure.code or failure.kind)


def seconds_text(value: float) -> str:
    """A duration as messages show it (``3600 s``, ``1.5 s``)."""
    return f"{value:.0f} s" if value >= 10 else f"{value:.3g} s"


def too_long_wait(failure: Failure, policy: RetryPolicy, where: str | None) -> EndpointError:
    """A server that asks for a wait longer than the whole retry budget: nothing in this run gets through
    sooner, so the run stops as for an exhausted quota."""
    status = f" ({failure.status_code})" if failure.status_code else ""
    at = f" at {where}" if where else ""
    return EndpointError(
        f"{failure.kind.replace('_', ' ')}{status}{at}: {failure.message}; that is longer than the retry "
        f"budget ({seconds_text(policy.max_total)}, --retry-budget) — rerun later: finished items are kept "
        "and not sent again",
        status_code=failure.status_code,
        code="retry_after_too_long",
    )


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    where: str | None = None,
    on_failure: Callable[[Failure], None] | None = None,
    budget: Budget | None = None,
    key_env: tuple[str, ...] = ("OPENAI_API_KEY",),
) -> T:
    """Await ``fn()``, retrying transient failures per ``policy`` within ``budget`` (by default one that
    starts now; ``fn`` may take its request deadline from it and exclude its queueing).

    Fatal failures raise ``EndpointError`` at once, and so does a server wait longer than the whole budget;
    once retries are exhausted the last error is re-raised.
    """
    from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
    from tenacity.stop import stop_base

    clock = budget or Budget(policy)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        failure = classify(exc) if exc else None
        if failure is not None and failure.retry_after is not None:
            return failure.retry_after
        if failure is not None and failure.reset_after is not None:
            return failure.reset_after  # past the budget left, the item ends as an error (OutOfTime)
        return policy.backoff(state.attempt_number)

    class OutOfTime(stop_base):  # stop_before_delay, on the budget's clock (queueing excluded)
        def __call__(self, state: RetryCallState) -> bool:
            return clock.spent() + state.upcoming_sleep >= policy.max_total

    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: classify(exc).retryable),
        stop=stop_after_attempt(max(policy.max_attempts, 1)) | OutOfTime(),
        wait=wait,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            try:
                return await fn()
            except Exception as exc:
                failure = classify(exc)
                if on_failure is not None:
                    on_failure(failure)
                if failure.fatal:
                    cause = exc if isinstance(exc, EndpointError) else exc.__cause__
                    if isinstance(cause, EndpointError):  # e.g. the embedded model's worker crashed
                        raise cause from None
                    # not chained: the cause's text (a server echoing the key) would reach tracebacks
                    raise endpoint_error(failure, where, key_env) from None
                if failure.retryable and (failure.retry_after or 0.0) > policy.max_total:
                    raise too_long_wait(failure, policy, where) from None
                raise
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
