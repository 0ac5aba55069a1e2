"""Rate limits shared by every request of a run: RPM/TPM token buckets, the server's ``x-ratelimit-*``
headers, and a concurrency that backs off on sustained 429s and recovers.

One ``RateLimiter`` per ``ModelCaller``. Before each HTTP request (re-asks and transport retries included) it
waits while the server said a limit is used up, then takes one request from the RPM bucket and the request's
estimated tokens (prompt + ``max_tokens``) from the TPM bucket; the answer's usage corrects the estimate (a
refund, or a debt that delays the next requests). The buckets are ``aiolimiter`` leaky buckets that hold
about a second's worth (``BURST_S``), so a run starts smoothly instead of spending a minute's budget at once.

``AdaptiveConcurrency`` gates the requests in flight under the labeler's semaphore (``RateLimiter.slots``):
AIMD — the limit halves when 429s persist (``sustain`` of them within ``window`` seconds, at most once per
``window``) and grows by one per round of answers back to the configured concurrency. It gates each HTTP
request, not each item, so an item waiting to retry a 429 holds no slot and retries queue behind the limit.
The reset headers are read by ``llm.retry.parse_duration``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import Mapping
from typing import Any

from prelabel.errors import EndpointError, InputError
from prelabel.llm.retry import Failure, RetryPolicy, parse_duration, seconds_text, too_long_wait
from prelabel.llm.usage import count_tokens

__all__ = ["BURST_S", "AdaptiveConcurrency", "RateLimiter"]

#: Seconds of traffic an RPM/TPM bucket may send at once.
BURST_S = 1.0


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(float(value))
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _text_tokens(text: str, model: str) -> int:
    return count_tokens([{"role": "user", "content": text}], model) - 7  # without the per-chat overhead


def estimate_tokens(messages: list[dict[str, Any]], model: str, max_tokens: int | None) -> int:
    """Tokens a request may use: its prompt (counted offline, the SOP's system message once) + max_tokens."""
    total = 3 + (max_tokens or 0)
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += 4 + _text_tokens(content, model)
        else:
            total += count_tokens([message], model) - 3
    return total


class _Bucket:
    """A leaky bucket (``aiolimiter``) holding ``BURST_S`` seconds of ``per_minute``; amounts above its size
    are taken whole (the rest becomes a debt that later acquisitions wait out)."""

    def __init__(self, per_minute: float):
        from aiolimiter import AsyncLimiter

        rate = per_minute / 60.0
        size = max(rate * BURST_S, 1.0)
        self.limiter = AsyncLimiter(size, size / rate)

    async def take(self, amount: float) -> None:
        size = self.limiter.max_rate
        await self.limiter.acquire(min(amount, size))
        if amount > size:
            self.adjust(amount - size)

    def adjust(self, delta: float) -> None:
        """Add ``delta`` (negative: give back) to what the bucket holds."""
        limiter: Any = self.limiter
        limiter._leak()  # aiolimiter keeps its level private; correcting it is the point of the estimate
        limiter._level = max(limiter._level + delta, 0.0)


class AdaptiveConcurrency:
    """A semaphore whose size adapts (AIMD): ``acquire``/``release`` like ``asyncio.Semaphore``."""

    def __init__(self, maximum: int, *, window: float = 1.0, sustain: int = 3):
        self.maximum = max(maximum, 1)
        self.limit = float(self.maximum)
        self.lowest = self.maximum
        self.window = window
        self.sustain = sustain
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._recent: collections.deque[float] = collections.deque()
        self._last_cut = float("-inf")

    @property
    def size(self) -> int:
        """Requests allowed in flight now."""
        return int(self.limit)

    async def acquire(self) -> None:
        """Wait for a free slot."""
        while self.in_flight >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        self.in_flight += 1

    def release(self) -> None:
        """Free a slot."""
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        free = self.size - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def rate_limited(self) -> None:
        """A 429: halve the limit when they persist."""
        now = time.monotonic()
        self._recent.append(now)
        while self._recent and self._recent[0] < now - self.window:
            self._recent.popleft()
        if len(self._recent) >= self.sustain and now - self._last_cut >= self.window:
            self.limit = max(self.limit / 2, 1.0)
            self.lowest = min(self.lowest, self.size)
            self._last_cut = now
            self._recent.clear()

    def succeeded(self) -> None:
        """An answer: grow by one slot per round of answers, up to the configured maximum."""
        if self.limit < self.maximum:
            self.limit = min(self.limit + 1 / self.limit, float(self.maximum))
            self._wake()


class RateLimiter:
    """The limits of one run: ``rpm``/``tpm`` buckets (``None``: unlimited), pauses the server's
    ``x-ratelimit-*`` headers ask for, and the adaptive concurrency of the labeling in progress."""

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        window: float = 1.0,
        sustain: int = 3,
        retry: RetryPolicy | None = None,
        where: str | None = None,
    ):
        self.rpm = rpm
        self.tpm = tpm
        self._requests = _Bucket(rpm) if rpm else None
        self._tokens = _Bucket(tpm) if tpm else None
        self._paused_until = 0.0
        self.retry = retry or RetryPolicy()
        """Its ``max_total`` (``--retry-budget``) bounds a pause the headers ask for, as a Retry-After."""
        self.where = where
        self._stop: EndpointError | None = None
        self._last_estimate = 0
        self.window = window  # AIMD: ``sustain`` 429s within ``window`` s halve the concurrency
        self.sustain = sustain
        self.concurrency: AdaptiveConcurrency | None = None

    def slots(self, concurrency: int) -> asyncio.Semaphore:
        """The labeler's semaphore of ``concurrency`` items in flight; their requests pass a fresh adaptive
        gate of as many slots, which 429s seen from now on shrink."""
        self.concurrency = AdaptiveConcurrency(concurrency, window=self.window, sustain=self.sustain)
        return asyncio.Semaphore(concurrency)

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until a request of ``tokens`` estimated tokens may be sent (then ``release`` it)."""
        if self._stop is not None:  # the server's limit resets after the retry budget: stop the run
            raise self._stop
        gate = self.concurrency
        if gate is not None:
            await gate.acquire()
        try:
            while (pause := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            if self._requests is not None:
                await self._requests.take(1)
            if self._tokens is not None:
                self._last_estimate = tokens
                await self._tokens.take(tokens)
        except BaseException:
            if gate is not None:
                gate.release()
            raise

    def release(self) -> None:
        """A request acquired with ``acquire`` got its answer (or failed)."""
        if self.concurrency is not None:
            self.concurrency.release()

    def settle(self, estimated: int, used: int) -> None:
        """Correct the TPM bucket by what the answer really used (no usage reported: keep the estimate)."""
        if self._tokens is not None and used > 0:
            self._tokens.adjust(used - estimated)
        if self.concurrency is not None:
            self.concurrency.succeeded()

    def rate_limited(self) -> None:
        """The server answered 429 (rate limit, not quota)."""
        if self.concurrency is not None:
            self.concurrency.rate_limited()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Pause new requests until the reset the server names when a limit it reports is used up. A reset
        further away than the retry budget (``--retry-budget``) stops the run instead, as a Retry-After that
        long does: the next request raises ``EndpointError`` (the answer that said so is kept)."""
        for kind in ("requests", "tokens"):
            remaining = _int(headers.get(f"x-ratelimit-remaining-{kind}"))
            floor = 0 if kind == "requests" else max(self._last_estimate, 0)
            if remaining is not None and remaining <= floor:
                self._pause(kind, remaining, parse_duration(headers.get(f"x-ratelimit-reset-{kind}")))

    def _pause(self, kind: str, remaining: int, seconds: float | None) -> None:
        if not seconds:
            return
        if seconds > self.retry.max_total and self._stop is None:
            said = f"x-ratelimit-remaining-{kind}: {remaining}, resetting in {seconds_text(seconds)}"
            failure = Failure("rate_limited", f"the server's {kind} limit is used up ({said})")
            self._stop = too_long_wait(failure, self.retry, self.where)
            return
        self._paused_until = max(self._paused_until, time.monotonic() + min(seconds, 120.0))

    def check_request_fits(self, tokens: int, max_tokens: int | None) -> None:
        """Refuse (``InputError``) a ``tpm`` below ``tokens``, one request's estimate (its prompt +
        ``max_tokens``): each request would wait over a minute for its tokens, without a word."""
        if self.tpm is None or self.tpm >= tokens:
            return
        prompt = tokens - (max_tokens or 0)
        parts = f"~{prompt} prompt" + (f" + --max-tokens {max_tokens}" if max_tokens else "")
        raise InputError(
            f"--tpm {self.tpm} is below the tokens of one request ({tokens}: {parts}), so every request "
            f"would wait about {seconds_text(60.0 * tokens / self.tpm)} for its tokens; use --tpm {tokens} "
            "or more (or a lower --max-tokens)"
        )
