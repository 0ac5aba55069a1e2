"""Batch API runs end to end against the fake Files/Batches endpoints: submit, status, collect, fallback."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry
from prelabel import InputError, PriceTable, Usage, batch_status, collect_batch, submit_batch
from prelabel.labeling import batch_collect
from prelabel.labeling.ledger import Ledger
from prelabel.testing.fake import FakeModel, FakeServer, Reply, RequestRecord
from prelabel.testing.fake_batch import BATCH_HEADER, FakeBatchAPI

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
FAST = fast_retry(2)
N = 6


def by_text(request: RequestRecord) -> Reply:
    """``label=X`` in the text picks the answer; ``off-schema`` answers a label the SOP lacks."""
    text = request.item_text or ""
    if "off-schema" in text:
        return Reply.raw('{"rationale": "?", "label": "nope", "cited_rules": [], "confidence": 2}')
    return Reply.answer(text.split("label=", 1)[1] if "label=" in text else "product.damaged")


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    lines = [json.dumps({"id": f"i{n}", "text": f"item {n} label=logistics.late_delivery"}) for n in range(N)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake() -> FakeModel:
    return FakeModel(default=by_text)


@pytest.fixture
def server(fake: FakeModel) -> Iterator[FakeServer]:
    with FakeServer(fake) as running:
        yield running


def online(fake: FakeModel) -> list[RequestRecord]:
    """Chat requests sent online (not answered inside a batch)."""
    return [r for r in fake.requests if BATCH_HEADER not in r.headers]


def labels(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def ledger_rows(out: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(out / "run.db") as db:
        return db.execute("SELECT position, status FROM items ORDER BY position").fetchall()


def submit(server: FakeServer, items: Any, out: Path, **changes: Any) -> prelabel.BatchSubmission:
    return submit_batch(SOP_PATH, items, out, base_url=server.url, api_key="sk-test", retry=FAST, **changes)


def collect(out: Path, **changes: Any) -> prelabel.BatchCollection:
    return collect_batch(out, api_key="sk-test", retry=FAST, **changes)


@pytest.mark.parametrize("mode", ["tools", "json_schema", "json_object_schema", "md_json"])
def test_request_lines_are_exactly_the_online_requests(tmp_path: Path, items_file: Path, mode: str) -> None:
    batch_fake, online_fake = FakeModel(), FakeModel()
    done = submit_batch(SOP_PATH, items_file, tmp_path / "b", client=batch_fake.async_client(), mode=mode)
    prelabel.run(SOP_PATH, items_file, tmp_path / "o", client=online_fake.async_client(), mode=mode,
                 concurrency=1)  # fmt: skip
    lines = [json.loads(line) for line in Path(done.request_files[0]).read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [str(n) for n in range(N)]  # custom_id = input position
    assert {(line["method"], line["url"]) for line in lines} == {("POST", "/v1/chat/completions")}
    assert [line["body"] for line in lines] == [r.body for r in online_fake.requests]


def test_submit_status_collect_end_to_end(tmp_path: Path, items_file: Path, fake: FakeModel,
                                          server: FakeServer) -> None:  # fmt: skip
    fake.batch_api.polls = 3  # in progress at the first two polls
    out = tmp_path / "run"
    done = submit(server, items_file, out)
    assert (done.requests, len(done.batch_ids), fake.requests) == (N, 1, [])
    assert batch_status(out, api_key="sk-test").batches[0].status == "in_progress"
    with pytest.raises(InputError, match="in_progress"):
        collect(out)  # not finished yet: nothing recorded, nothing sent
    shown = batch_status(out, api_key="sk-test")
    assert shown.ready and shown.batches[0].model_dump(include={"status", "total", "completed"}) == {
        "status": "completed", "total": N, "completed": N,
    }  # fmt: skip
    result = collect(out)
    assert (result.answered, result.failed, result.sent_online, online(fake)) == (N, 0, 0, [])
    lines = labels(out)
    assert [line["item_id"] for line in lines] == [f"i{n}" for n in range(N)]
    assert {line["label"] for line in lines} == {"logistics.late_delivery"}
    run_json = json.loads((out / "run.json").read_text())
    usage = Usage(prompt_tokens=100 * N, completion_tokens=20 * N)
    assert run_json["cost_usd"] == pytest.approx(PriceTable().cost("gpt-4o-mini", usage) / 2)  # Batch price
    assert batch_status(out, api_key="sk-test").batches[0].collected


def test_expired_batch_falls_back_online(tmp_path: Path, items_file: Path, fake: FakeModel,
                                         server: FakeServer) -> None:  # fmt: skip
    fake.batch_api.outcome, fake.batch_api.answer_first = "expired", 2
    out = tmp_path / "run"
    submit(server, items_file, out)
    result = collect(out)
    assert (result.answered, result.failed, result.sent_online) == (2, N - 2, N - 2)
    assert sorted(r.item_text or "" for r in online(fake)) == [f"item {n} label=logistics.late_delivery"
                                                               for n in range(2, N)]  # fmt: skip
    assert [line["status"] for line in labels(out)] == ["ok"] * N
    assert ledger_rows(out) == [(n, "ok") for n in range(N)]


def test_partial_output_file_missing_items_sent_online(tmp_path: Path, items_file: Path, fake: FakeModel,
                                                       server: FakeServer) -> None:  # fmt: skip
    fake.batch_api.partial = 4  # a completed batch whose output file silently lacks two lines
    out = tmp_path / "run"
    submit(server, items_file, out)
    result = collect(out)
    assert (result.answered, result.failed, result.sent_online, len(online(fake))) == (4, 2, 2, 2)
    assert [line["status"] for line in labels(out)] == ["ok"] * N


def test_error_lines_are_recorded_then_sent_online(tmp_path: Path, items_file: Path, fake: FakeModel,
                                                   server: FakeServer) -> None:  # fmt: skip
    fake.script = [Reply.error(500, "boom")]  # the batch's first line fails
    out = tmp_path / "run"
    submit(server, items_file, out)
    kept = collect(out, fallback=False)
    assert (kept.failed, kept.sent_online, online(fake)) == (1, 0, [])
    first = labels(out)[0]
    assert first["error"]["type"] == "batch_failed" and "HTTP 500" in first["error"]["message"]
    again = collect(out)  # the fallback sends the recorded failure online, once
    assert (again.answered, again.failed, again.sent_online, len(online(fake))) == (0, 0, 1, 1)
    assert [line["status"] for line in labels(out)] == ["ok"] * N


def test_invalid_answers_become_invalid_output_records(tmp_path: Path, fake: FakeModel,
                                                       server: FakeServer) -> None:  # fmt: skip
    items = [
        {"id": "a", "text": "off-schema"},
        {"id": "b", "text": "fine label=product.damaged"},
        {"text": "?"},
    ]
    out = tmp_path / "run"
    done = submit(server, items, out)
    assert (done.requests, done.recorded) == (2, 1)  # the bad row is recorded at once, not sent
    collect(out, sop=SOP_PATH, items=items)
    lines = labels(out)
    assert [line["status"] for line in lines] == ["error", "ok", "error"]
    assert lines[0]["error"]["type"] == "invalid_output" and lines[0]["usage"]["prompt_tokens"] == 100
    assert lines[2]["error"]["type"] == "invalid_item"
    assert online(fake) == []  # an invalid answer is a result, as online: not sent again


def test_collecting_twice_is_idempotent(tmp_path: Path, items_file: Path, fake: FakeModel,
                                        server: FakeServer) -> None:  # fmt: skip
    fake.batch_api.partial = 5
    out = tmp_path / "run"
    submit(server, items_file, out)
    collect(out)
    before = (
        (out / "labels.jsonl").read_text(),
        ledger_rows(out),
        len(fake.requests),
        len(fake.batch_api.calls),
    )
    second = collect(out)
    assert (second.answered, second.failed, second.sent_online) == (0, 0, 0)
    assert ((out / "labels.jsonl").read_text(), ledger_rows(out), len(fake.requests)) == before[:3]
    assert json.loads((out / "run.json").read_text())["usage"]["prompt_tokens"] == 100 * N
    with Ledger.open(out, None) as ledger:
        assert ledger.batch_usage()["prompt_tokens"] == 100 * 5  # counted once


def test_open_batch_refuses_online_runs_and_second_submission(tmp_path: Path, items_file: Path,
                                                              server: FakeServer) -> None:  # fmt: skip
    out = tmp_path / "run"
    submit(server, items_file, out)
    with pytest.raises(InputError, match="not collected yet"):
        prelabel.run(SOP_PATH, items_file, out, base_url=server.url, api_key="sk-test")
    with pytest.raises(InputError, match="not collected yet"):
        submit(server, items_file, out)
    collect(out)
    assert submit(server, items_file, out).batch_ids == []  # nothing left: no empty batch


def test_same_refusals_as_online(tmp_path: Path, items_file: Path, server: FakeServer) -> None:
    out = tmp_path / "run"
    prelabel.run(SOP_PATH, items_file, out, base_url=server.url, api_key="sk-test", max_items=2)
    with pytest.raises(InputError, match="model"):
        submit(server, items_file, out, model="gpt-4.1")  # bound to another model
    with Ledger.open(out, None), pytest.raises(InputError, match="another prelabel process"):
        submit(server, items_file, out)  # locked
    done = submit(server, items_file, out)
    assert (done.finished, done.requests) == (2, N - 2)  # resumes: finished items are not submitted


def test_large_runs_split_into_several_batches(
    tmp_path: Path, items_file: Path, fake: FakeModel, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("prelabel.labeling.batch_submit.MAX_BATCH_REQUESTS", 4)
    out = tmp_path / "run"
    done = submit(server, items_file, out)
    assert (len(done.batch_ids), done.requests) == (2, N)
    result = collect(out)
    assert (len(result.batches), result.answered, online(fake)) == (2, N, [])


def test_collect_waits_until_the_batch_finishes(tmp_path: Path, items_file: Path, fake: FakeModel,
                                                server: FakeServer) -> None:  # fmt: skip
    fake.batch_api.polls = 3
    out = tmp_path / "run"
    submit(server, items_file, out)
    assert collect(out, wait=True, poll_interval=0.0).answered == N


def test_status_without_a_batch_is_bad_input(tmp_path: Path, items_file: Path, fake: FakeModel) -> None:
    with pytest.raises(InputError, match="no run here"):
        batch_status(tmp_path / "nothing")
    prelabel.run(SOP_PATH, items_file, tmp_path / "online", client=fake.async_client())
    with pytest.raises(InputError, match="no Batch API batch"):
        batch_status(tmp_path / "online")


def test_a_password_in_the_base_url_is_not_stored_and_collect_takes_it_from_the_environment(
    tmp_path: Path, items_file: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "URLPASS-SECRET-456"
    url = server.url.replace("http://", f"http://me:{password}@")
    out = tmp_path / "run"
    submit_batch(SOP_PATH, items_file, out, base_url=url, api_key="sk-test", retry=FAST)
    for path in out.rglob("*"):
        assert not path.is_file() or password.encode() not in path.read_bytes(), path
    with Ledger.open(out, None) as ledger:
        assert ledger.batches()[0].job["options"]["base_url"] == server.url
    seen: list[str | None] = []
    real = batch_collect.batch_api

    def spy(client: Any, endpoint: Any, retry: Any) -> Any:
        seen.append(endpoint.base_url)
        return real(client, endpoint, retry)

    monkeypatch.setenv("OPENAI_BASE_URL", url)  # the credentials come back from the environment
    monkeypatch.setattr(batch_collect, "batch_api", spy)
    assert collect(out).answered == N and seen == [url]


def test_a_restarted_submit_that_fails_puts_the_earlier_run_back(
    tmp_path: Path, items_file: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--batch-api --restart`` deleted the earlier run before the upload; a refused upload left nothing."""
    out = tmp_path / "run"
    prelabel.run(SOP_PATH, items_file, out, base_url=server.url, api_key="sk-test", retry=FAST)
    before = {name: (out / name).read_bytes() for name in ("labels.jsonl", "run.json", "run.db")}
    refused = (401, {"content-type": "application/json"}, b'{"error": {"message": "bad key", "code": null}}')
    with monkeypatch.context() as patched:
        patched.setattr(FakeBatchAPI, "respond", lambda *_: refused)  # the upload is refused
        with pytest.raises(prelabel.EndpointError, match="401"):
            submit(server, items_file, out, restart=True)
    assert {name: (out / name).read_bytes() for name in before} == before and not (out / ".previous").exists()
    done = submit(server, items_file, out, restart=True)  # a batch is created: the restart stands
    assert done.requests == N and not (out / ".previous").exists() and not (out / "labels.jsonl").exists()


# --- issue 21: a batch created but not recorded is found again, never orphaned -----------------------------


class Stopped(BaseException):
    """The process dying at that point (a kill, a crash): nothing after it runs."""


def stop_after_creating(monkeypatch: pytest.MonkeyPatch, *, create: bool = True) -> None:
    """The submission dies once the server created the batch (``create``) or just before asking, in either
    case before the batch id is recorded (at the openai client: the point where the process may die)."""
    from openai.resources.batches import AsyncBatches

    real = AsyncBatches.create

    async def dying(self: AsyncBatches, *args: Any, **kwargs: Any) -> Any:
        if create:
            await real(self, *args, **kwargs)
        raise Stopped

    monkeypatch.setattr(AsyncBatches, "create", dying)


@pytest.mark.parametrize("command", ["status", "collect", "run --batch-api"])
def test_a_batch_created_but_not_recorded_is_found_again(
    tmp_path: Path, items_file: Path, fake: FakeModel, server: FakeServer, monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:  # fmt: skip
    """Issue 21: a crash between creating a batch and recording it left a batch nobody would collect (and
    whose answers are paid for). The upload is recorded first; the next status, collect or run finds the
    batch in the Batches list by its input file and records it: no second batch, no item sent twice."""
    out = tmp_path / "run"
    with monkeypatch.context() as dying:
        stop_after_creating(dying)
        with pytest.raises(Stopped):
            submit(server, items_file, out)
    assert len(fake.batch_api.batches) == 1  # created on the server, not recorded as such
    (made,) = fake.batch_api.batches
    if command == "status":
        shown = batch_status(out, api_key="sk-test")
        assert [b.batch_id for b in shown.batches] == [made] and shown.ready
        assert shown.notes == [
            f"batch {made} ({N} requests, {fake.batch_api.batches[made]['input_file_id']}): found on the "
            "server; the submission that made it stopped before recording it"
        ]
    if command == "run --batch-api":  # found, then refused as any uncollected batch is
        with pytest.raises(InputError, match=f"not collected yet \\({made}\\)"):
            submit(server, items_file, out)
    result = collect(out)
    assert (result.answered, result.sent_online) == (N, 0) and len(fake.batch_api.batches) == 1
    assert [line["item_id"] for line in labels(out)] == [f"i{n}" for n in range(N)] and online(fake) == []
    assert ("GET", "/v1/batches?limit=100") in fake.batch_api.calls


def test_a_batch_never_created_is_created_from_the_recorded_upload(
    tmp_path: Path, items_file: Path, fake: FakeModel, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as dying:
        stop_after_creating(dying, create=False)  # died between the upload and the batch
        with pytest.raises(Stopped):
            submit(server, items_file, out)
    assert fake.batch_api.batches == {} and len(fake.batch_api.files) == 1
    result = collect(out, wait=True, poll_interval=0.0)
    assert len(fake.batch_api.batches) == 1 and (result.answered, result.sent_online) == (N, 0)
    assert result.notes and "created now from the uploaded file" in result.notes[0]
    assert [line["item_id"] for line in labels(out)] == [f"i{n}" for n in range(N)]


def test_the_batches_list_is_searched_page_by_page(
    tmp_path: Path, items_file: Path, fake: FakeModel, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's batch behind 150 newer ones (other runs of the account): found on the second page."""
    out = tmp_path / "run"
    with monkeypatch.context() as dying:
        stop_after_creating(dying)
        with pytest.raises(Stopped):
            submit(server, items_file, out)
    (made,) = fake.batch_api.batches
    import openai

    api = openai.OpenAI(base_url=server.url, api_key="sk-test")
    other = api.files.create(file=("x.jsonl", b"", "application/jsonl"), purpose="batch")
    for _ in range(150):
        api.batches.create(input_file_id=other.id, endpoint="/v1/chat/completions", completion_window="24h")
    shown = batch_status(out, api_key="sk-test")
    assert [b.batch_id for b in shown.batches] == [made]
    assert sum(1 for call in fake.batch_api.calls if call[1].startswith("/v1/batches?")) == 2
