"""Rate limits against the fake server: RPM spacing, TPM corrected by usage, ``x-ratelimit-*`` pauses, AIMD.

Timing asserts compare ratios and orderings with wide margins (no tight wall-clock bounds).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from pathlib import Path

import pytest

import prelabel
from helpers import fast_retry
from prelabel import EndpointError, InputError, Labeler, LabelOptions, bundled_sop
from prelabel.llm.ratelimit import AdaptiveConcurrency, RateLimiter
from prelabel.llm.retry import parse_duration
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

SOP = bundled_sop("customer_feedback_intent")


def items(n: int) -> list[dict[str, str]]:
    return [{"id": f"i{k}", "text": f"where is my parcel {k}"} for k in range(n)]


def times(fake: FakeModel) -> list[float]:
    return sorted(r.time for r in fake.requests)


def gaps(fake: FakeModel) -> list[float]:
    t = times(fake)
    return [b - a for a, b in itertools.pairwise(t)]


def label(fake: FakeModel, n: int, **options: object) -> Labeler:
    labeler = Labeler(SOP, client=fake.async_client(), retry=fast_retry(), **options)
    results = labeler.label_many(items(n))
    assert [r.status for r in results] == ["ok"] * n
    return labeler


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("120ms", 0.12),
        ("1h2m3.5s", 3723.5),
        ("0.5", 0.5),
        ("", None),
        ("x", None),
    ],
)
def test_reset_durations_in_openai_formats(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_rpm_and_tpm_are_options_validated_like_the_others() -> None:
    assert LabelOptions(rpm=600, tpm=100_000).rpm == 600
    with pytest.raises(InputError, match="rpm"):
        LabelOptions.build(None, {"rpm": 0})


def test_rpm_spaces_requests() -> None:
    free, limited = FakeModel(), FakeModel()
    label(free, 12, concurrency=8)
    label(limited, 12, concurrency=8, rpm=300)  # 5 per second, a burst of 5
    span_free = times(free)[-1] - times(free)[0]
    span_limited = times(limited)[-1] - times(limited)[0]
    assert span_limited >= 1.0  # 7 requests after the burst at 5/s: 1.4 s ideally
    assert span_limited > 4 * span_free
    assert min(gaps(limited)[5:]) >= 0.1  # after the burst, one every 0.2 s


def test_tpm_is_corrected_by_the_usage_reported() -> None:
    # 4,000 tokens/s; each request is estimated at ~2,600 tokens (prompt + max_tokens=1000)
    small = FakeModel()  # reports 120 tokens: the estimate is refunded, requests flow
    label(small, 10, concurrency=1, tpm=240_000, max_tokens=1000)
    big = FakeModel(default=Reply.answer(usage={"prompt_tokens": 6000}))  # more than estimated: a debt
    label(big, 3, concurrency=1, tpm=240_000, max_tokens=1000)
    assert min(gaps(big)) >= 0.6  # ~1.1 s each: the debt is waited out
    assert sum(gaps(big)) / len(gaps(big)) > 5 * sum(gaps(small)) / len(gaps(small))
    # without the refund, 10 estimates (~26,000 tokens) would take > 5 s at 4,000 tokens/s
    assert times(small)[-1] - times(small)[0] < 2.5


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "800ms"},
        {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "0.8s"},
    ],
)
def test_headers_pause_until_the_reset_when_a_limit_is_used_up(headers: dict[str, str]) -> None:
    fake = FakeModel([Reply.answer(headers=headers)])
    with FakeServer(fake) as server:
        labeler = Labeler(SOP, base_url=server.url, api_key="test", retry=fast_retry(), concurrency=1)
        assert [r.status for r in labeler.label_many(items(3))] == ["ok"] * 3
    first, second = gaps(fake)
    assert first >= 0.6  # paused until the reset (0.8 s)
    assert second < first / 2  # the next answer carried no such header: no pause


def test_a_header_reset_past_the_retry_budget_stops_the_run_and_keeps_the_answer(tmp_path: Path) -> None:
    """Issue 21: an answer saying the requests limit resets in 1 h paused the run without bound. A reset
    longer than --retry-budget stops it at once, as a Retry-After that long does (exit 3)."""
    hour = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1h"}
    fake = FakeModel([Reply.answer(headers=hour)])
    started = time.monotonic()
    with pytest.raises(EndpointError) as stopped:
        prelabel.run(
            SOP, items(4), tmp_path, client=fake.async_client(), retry=fast_retry(max_total=30), concurrency=1
        )
    assert time.monotonic() - started < 10 and len(fake.requests) == 1
    assert "x-ratelimit-remaining-requests: 0, resetting in 3600 s" in str(stopped.value)
    assert "longer than the retry budget (30 s, --retry-budget)" in str(stopped.value)
    assert stopped.value.code == "retry_after_too_long"
    info = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "aborted" and info["counts"]["ok"] == 1  # the answer that said so is kept


def test_a_tpm_below_one_request_is_refused_before_any_request() -> None:
    """Issue 21: --tpm below one request's tokens (prompt + max_tokens) sent one request every few minutes
    without a word. It is refused, naming the request's tokens, which is the smallest workable --tpm."""
    fake = FakeModel()
    with pytest.raises(InputError) as refused:
        Labeler(SOP, client=fake.async_client(), tpm=500, max_tokens=1024)
    found = re.fullmatch(
        r"--tpm 500 is below the tokens of one request \((\d+): ~(\d+) prompt \+ --max-tokens 1024\), so "
        r"every request would wait about \d+ s for its tokens; use --tpm (\d+) or more \(or a lower "
        r"--max-tokens\)",
        str(refused.value),
    )
    assert found is not None, str(refused.value)
    need, prompt, smallest = (int(n) for n in found.groups())
    assert need == smallest == prompt + 1024 and prompt > 100
    assert fake.requests == []
    labeler = Labeler(SOP, client=fake.async_client(), tpm=smallest, max_tokens=1024)  # workable
    assert labeler.label({"id": "a", "text": "x"}).status == "ok"


def test_remaining_capacity_does_not_pause() -> None:
    fake = FakeModel(default=Reply.answer(headers={"x-ratelimit-remaining-requests": "5"}))
    label(fake, 4, concurrency=1)
    assert max(gaps(fake)) < 0.5


def test_concurrency_backs_off_under_sustained_429s_and_recovers() -> None:
    storm = {"until": None}

    def reply(record: RequestRecord) -> Reply:
        if storm["until"] is None:
            storm["until"] = record.time + 0.5
        if record.time < storm["until"]:
            hint = {"retry-after-ms": "10"}
            return Reply.error(429, "slow down", code="rate_limit_exceeded", headers=hint, delay=0.02)
        return Reply.answer(delay=0.005)

    fake = FakeModel(default=reply)
    labeler = Labeler(SOP, client=fake.async_client(), retry=fast_retry(60), concurrency=8)
    labeler.caller.limits.window = 0.05
    results = labeler.label_many(items(80))
    assert all(r.status == "ok" for r in results)
    adaptive = labeler.caller.limits.concurrency
    assert adaptive is not None
    assert adaptive.lowest <= 2  # halved while the 429s lasted
    assert adaptive.size == 8  # and grew back once answers came
    start = min(times(fake))
    early = sum(1 for t in times(fake) if t < start + 0.2)
    late = sum(1 for t in times(fake) if start + 0.3 <= t < start + 0.5)
    assert early > 1.5 * late  # fewer requests in flight as the storm went on (each 429 takes 20 ms)


def test_adaptive_concurrency_limits_in_flight() -> None:
    async def main() -> tuple[int, int]:
        slots = AdaptiveConcurrency(4, window=10.0, sustain=1)  # sustain=1: one 429 halves it
        peak = 0

        async def one() -> None:
            nonlocal peak
            await slots.acquire()
            peak = max(peak, slots.in_flight)
            await asyncio.sleep(0.01)
            slots.release()

        await asyncio.gather(*(one() for _ in range(12)))
        first_peak, peak = peak, 0
        slots.rate_limited()
        await asyncio.gather(*(one() for _ in range(12)))
        return first_peak, peak

    assert asyncio.run(main()) == (4, 2)


def test_one_rate_limiter_is_shared_by_all_requests_of_a_run() -> None:
    labeler = Labeler(SOP, client=FakeModel().async_client(), rpm=60, tpm=100_000)
    assert isinstance(labeler.caller.limits, RateLimiter)
    assert (labeler.caller.limits.rpm, labeler.caller.limits.tpm) == (60, 100_000)
