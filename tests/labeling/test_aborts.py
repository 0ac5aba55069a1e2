"""Runs that stop early: what was paid for stays on disk and in run.json, and a dying endpoint stops the run.

A quota error behind a slow first item, a server that answers and then resets every connection (the circuit
breaker), a Retry-After longer than the whole retry budget, and a 200 that is rejected but reports usage.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry
from prelabel import Labeler, run
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

SOP = prelabel.bundled_sop("customer_feedback_intent")
USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}


def items(n: int) -> list[dict[str, str]]:
    return [{"id": f"i{k:02d}", "text": f"parcel {k} is late"} for k in range(n)]


def on_disk(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    return lines, json.loads((out / "run.json").read_text(encoding="utf-8"))


def test_a_quota_error_behind_a_slow_item_keeps_every_paid_answer(tmp_path: Path) -> None:
    # item 0 is slow; requests 2..11 are answered (1,000 + 100 tokens each); from request 12 the quota is gone
    fake = FakeModel()

    def reply(record: RequestRecord) -> Reply:
        if record.item_text == "parcel 0 is late":
            return Reply.answer(delay=1.0, usage=USAGE)
        if len(fake.requests) <= 11:
            return Reply.answer(usage=USAGE)
        return Reply.error(429, "You exceeded your current quota", code="insufficient_quota")

    fake.default = reply
    out = tmp_path / "run"
    with pytest.raises(prelabel.EndpointError, match="insufficient quota"):
        run(SOP, items(40), out, client=fake.async_client(), concurrency=4, retry=fast_retry(3))
    lines, info = on_disk(out)
    assert info["status"] == "aborted" and "insufficient quota" in info["error"]
    assert len(lines) == info["counts"]["total"] == 10 and all(line["status"] == "ok" for line in lines)
    assert info["usage"]["prompt_tokens"] == sum(line["usage"]["prompt_tokens"] for line in lines) == 10_000
    assert info["usage"]["completion_tokens"] == sum(line["usage"]["completion_tokens"] for line in lines)
    assert info["cost_usd"] is None or info["cost_usd"] >= 0
    # the rerun resumes: the ten answers are not bought again
    fake.default = Reply.answer(usage=USAGE)
    sent = len(fake.requests)
    summary = run(SOP, items(40), out, client=fake.async_client(), concurrency=4, retry=fast_retry(3))
    assert summary.resumed == 10 and len(fake.requests) - sent == 30


def test_a_server_that_dies_mid_run_stops_it(tmp_path: Path) -> None:
    # eight answers, then every connection is dropped: the run stops (exit 3) instead of trying 32 items x 6
    fake = FakeModel([Reply.answer(usage=USAGE)] * 8, default=Reply.disconnect())
    out = tmp_path / "run"
    started = time.monotonic()
    with FakeServer(fake) as server, pytest.raises(prelabel.EndpointError) as info:
        run(SOP, items(40), out, base_url=server.url, api_key="test", concurrency=4, retry=fast_retry(6))
    assert time.monotonic() - started < 10
    assert str(info.value).startswith("endpoint stopped answering: 3 items in a row failed to reach it")
    assert len(fake.requests) <= 8 + 7 * 6  # the items in flight when it died, not 8 + 32 x 6 = 200
    lines, record = on_disk(out)
    assert record["status"] == "aborted" and record["counts"]["ok"] == 8
    assert len(lines) == record["counts"]["total"]


def test_a_few_connection_errors_among_answers_do_not_stop_the_run(tmp_path: Path) -> None:
    drops = {"parcel 3 is late", "parcel 4 is late", "parcel 9 is late"}

    def reply(record: RequestRecord) -> Reply:
        return Reply.disconnect() if record.item_text in drops else Reply.answer()

    fake = FakeModel(default=reply)
    summary = run(
        SOP, items(12), tmp_path / "run", client=fake.async_client(), concurrency=1, retry=fast_retry(2)
    )
    assert summary.status == "completed" and summary.errors_by_type == {"connection_error": 3}


def test_a_retry_after_longer_than_the_budget_stops_the_run_and_names_the_wait(tmp_path: Path) -> None:
    fake = FakeModel(
        [Reply.answer()], default=Reply.error(429, "Rate limit reached", headers={"retry-after": "3600"})
    )
    out = tmp_path / "run"
    with pytest.raises(prelabel.EndpointError) as info:
        run(SOP, items(5), out, client=fake.async_client(), concurrency=1, retry=fast_retry(3))
    message = str(info.value)
    assert "the server asked to wait 3600 s" in message and "longer than the retry budget (5 s" in message
    assert len(fake.requests) == 2  # one answer, one 429: no request after the long wait was asked for
    lines, record = on_disk(out)
    assert record["status"] == "aborted" and len(lines) == 1


def test_the_tokens_of_a_rejected_200_are_counted() -> None:
    # a 200 with no choices that reports usage: the request was paid for, then retried
    empty = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [],
        "usage": USAGE,
    }
    fake = FakeModel(
        [
            Reply.malformed(json.dumps(empty).encode()),
            Reply.answer(usage={"prompt_tokens": 7, "completion_tokens": 3}),
        ]
    )
    result = Labeler(SOP, client=fake.async_client(), retry=fast_retry(3)).label({"id": "a", "text": "late"})
    assert result.status == "ok" and result.attempts == 2
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1007, 103)


def test_an_item_cut_off_mid_re_ask_keeps_the_tokens_it_paid_for(tmp_path: Path) -> None:
    # item a: an off-schema answer (500 + 50 tokens), then a slow re-ask; item b: a bad key stops the run
    asked = {"a": 0}

    def reply(record: RequestRecord) -> Reply:
        if record.item_text == "parcel a":
            asked["a"] += 1
            if asked["a"] == 1:
                return Reply.raw('{"label": "nope"}', usage={"prompt_tokens": 500, "completion_tokens": 50})
            return Reply.answer(delay=5.0)
        return Reply.error(401, "bad key", delay=0.3)

    fake = FakeModel(default=reply)
    out = tmp_path / "run"
    rows = [{"id": "a", "text": "parcel a"}, {"id": "b", "text": "parcel b"}]
    started = time.monotonic()
    with pytest.raises(prelabel.EndpointError, match="auth"):
        run(SOP, rows, out, client=fake.async_client(), concurrency=2, retry=fast_retry(2))
    assert time.monotonic() - started < 4  # the slow re-ask was cancelled, not waited for
    lines, record = on_disk(out)
    assert [(line["item_id"], line["error"]["type"]) for line in lines] == [("a", "interrupted")]
    assert lines[0]["usage"]["prompt_tokens"] == record["usage"]["prompt_tokens"] == 500
    assert record["counts"]["total"] == 1
    # the rerun labels it again, even when told to keep error items
    fake.default = Reply.answer()
    summary = run(SOP, rows, out, client=fake.async_client(), retry=fast_retry(2), retry_errors=False)
    assert summary.counts["ok"] == 2


def test_the_item_that_stops_the_run_is_recorded_with_what_it_paid(tmp_path: Path) -> None:
    """An off-schema answer (5,000 prompt tokens), then the server goes away during the re-ask: the run stops,
    and that item is an error record carrying its tokens (it was dropped, and a rerun kept stopping on it)."""
    usage = {"prompt_tokens": 5000, "completion_tokens": 500, "total_tokens": 5500}
    fake = FakeModel([Reply.raw("not json", usage=usage)], default=Reply.disconnect())
    with pytest.raises(prelabel.EndpointError, match="unreachable"):
        run(SOP, items(2), tmp_path, client=fake.async_client(), concurrency=1, retry=fast_retry(2))
    lines, info = on_disk(tmp_path)
    assert [line["item_id"] for line in lines] == ["i00"] and lines[0]["status"] == "error"
    assert info["usage"]["prompt_tokens"] == 5000 and info["counts"]["error"] == 1


def test_a_restart_that_paid_only_for_errors_keeps_them(tmp_path: Path) -> None:
    """--restart puts the earlier run back only when the new one paid for nothing: three off-schema answers
    (15,000 prompt tokens), then an exhausted quota, keep the new run and its tokens."""
    run(SOP, items(2), tmp_path, client=FakeModel().async_client())
    bad = Reply.raw("not json", usage={"prompt_tokens": 5000, "completion_tokens": 500, "total_tokens": 5500})
    script = [bad] * 3 + [Reply.error(429, "quota", code="insufficient_quota")] * 10
    with pytest.raises(prelabel.EndpointError):
        run(SOP, items(2), tmp_path, client=FakeModel(script).async_client(), restart=True, concurrency=1)
    lines, info = on_disk(tmp_path)
    assert info["status"] == "aborted" and info["usage"]["prompt_tokens"] == 15_000
    assert [line["status"] for line in lines] == ["error"] and not (tmp_path / ".previous").exists()


def test_tokens_of_a_retried_error_stay_in_run_json(tmp_path: Path) -> None:
    """A rerun replaces an error record (here an off-schema answer that cost 5,000 prompt tokens) with the new
    answer; run.json's usage and cost still count what the replaced record paid for."""
    usage = {"prompt_tokens": 5000, "completion_tokens": 500, "total_tokens": 5500}
    off_schema = FakeModel(default=Reply.raw("not json", usage=usage))
    first = run(SOP, items(1), tmp_path, client=off_schema.async_client(), max_reasks=0)
    assert first.counts["error"] == 1 and first.usage.prompt_tokens == 5000
    second = run(SOP, items(1), tmp_path, client=FakeModel().async_client(), max_reasks=0)
    lines, info = on_disk(tmp_path)
    assert second.counts == {"total": 1, "ok": 1, "abstained": 0, "error": 0}
    assert info["usage"]["prompt_tokens"] == 5000 + lines[0]["usage"]["prompt_tokens"]
