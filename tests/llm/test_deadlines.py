"""Deadlines against misbehaving loopback servers: one that never answers, one that trickles a byte at a time.

Each request has a deadline from sending to the last byte (``RetryPolicy.timeout``), cut to what is left of
the call's budget (``max_total``); a run in which nothing ever answered stops with ``EndpointError`` (exit 3).
"""

from __future__ import annotations

import time

import pytest

import prelabel
from loopback import RawServer, hang, trickle
from prelabel import Labeler, RetryPolicy

SOP = prelabel.bundled_sop("customer_feedback_intent")


def policy(**changes: float) -> RetryPolicy:
    settings = {"max_attempts": 6, "initial_delay": 0.01, "max_delay": 0.02, "timeout": 0.4, "max_total": 1.0}
    return RetryPolicy(**{**settings, **changes})  # type: ignore[arg-type]


def test_a_hung_server_is_cut_off_and_stops_the_run() -> None:
    items = [{"id": str(n), "text": "where is my parcel"} for n in range(5)]
    with RawServer(hang) as server:
        labeler = Labeler(SOP, base_url=server.url, api_key="test", retry=policy())
        with pytest.raises(prelabel.EndpointError) as info:
            labeler.label_many(items, concurrency=1)
        elapsed = time.monotonic() - server.times[0]
    # attempts at ~0, 0.4, 0.8 s; the third is cut to the 0.2 s left of the 1 s budget: no item runs past it
    assert elapsed < 1.3, elapsed
    assert server.requests == 3
    message = str(info.value)
    assert message.startswith("endpoint unreachable after retries: timeout after 3 attempt(s)")
    assert "no complete answer within the 0.1" in message and "s left of the retry budget (1 s)" in message
    assert "--timeout" in message


def test_each_attempt_is_cut_to_the_budget_left() -> None:
    with RawServer(hang) as server:
        labeler = Labeler(SOP, base_url=server.url, api_key="test", retry=policy(timeout=0.7, max_total=1.0))
        with pytest.raises(prelabel.EndpointError):
            labeler.label_many([{"id": "a", "text": "late"}])
        elapsed = time.monotonic() - server.times[0]
    # without the cap the second attempt would run its full 0.7 s (1.4 s in all)
    assert server.requests == 2 and elapsed < 1.25, elapsed


def test_a_server_trickling_bytes_gets_a_total_deadline_not_an_idle_timeout() -> None:
    # one byte every 0.1 s never trips a 0.4 s idle timeout; the 0.4 s deadline per request does
    with RawServer(trickle(every=0.1, lasting=4.0)) as server:
        labeler = Labeler(SOP, base_url=server.url, api_key="test", retry=policy())
        result = labeler.label({"id": "a", "text": "late"})
        elapsed = time.monotonic() - server.times[0]
    assert elapsed < 1.3, elapsed
    assert result.status == "error" and result.error is not None
    assert result.error.type == "timeout" and "no complete answer within" in result.error.message


def test_time_queued_behind_the_rate_limit_is_not_the_budget() -> None:
    # 60 rpm: the second item waits ~1 s for its slot, longer than its 0.5 s budget; it is still sent
    fake = prelabel.testing.FakeModel()
    labeler = Labeler(SOP, client=fake.async_client(), retry=policy(max_total=0.5), rpm=60)
    results = labeler.label_many([{"id": str(n), "text": "late"} for n in range(3)], concurrency=3)
    assert [r.status for r in results] == ["ok"] * 3
