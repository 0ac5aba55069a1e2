"""``prelabel run --batch-api`` and ``prelabel batch status|collect`` against the loopback fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli, use_fast_default_retry
from prelabel.testing.fake import FakeModel, FakeServer, Reply
from prelabel.testing.fake_batch import BATCH_HEADER

Capture = pytest.CaptureFixture[str]
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-batch-test-0000")
    use_fast_default_retry(monkeypatch)


@pytest.fixture
def items(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"i{n}", "text": f"item {n}"}) + "\n" for n in range(4)))
    return path


def test_batch_api_run_status_collect(capsys: Capture, tmp_path: Path, items: Path, fake: FakeModel,
                                      server: FakeServer) -> None:  # fmt: skip
    fake.batch_api.outcome, fake.batch_api.answer_first = "expired", 3
    out = str(tmp_path / "run")
    code, stdout, _ = run_cli(capsys, "run", SOP_PATH, str(items), "-o", out, "--base-url", server.url,
                              "--batch-api")  # fmt: skip
    assert code == 0 and "submitted 4 requests" in stdout
    assert f"prelabel batch status {out}" in stdout and f"prelabel batch collect {out}" in stdout
    code, stdout, _ = run_cli(capsys, "batch", "status", out)
    assert code == 0 and "expired, 3/4 completed, 1 failed" in stdout and "ready" in stdout
    code, stdout, _ = run_cli(capsys, "batch", "collect", out)
    assert code == 0 and "3 answers, 1 failed lines, 1 items sent online" in stdout
    assert "4 ok" in stdout and "Batch price" in stdout
    assert len([r for r in fake.requests if BATCH_HEADER not in r.headers]) == 1
    assert len((tmp_path / "run" / "labels.jsonl").read_text().splitlines()) == 4


def test_collect_no_fallback_keeps_failures(capsys: Capture, tmp_path: Path, items: Path, fake: FakeModel,
                                            server: FakeServer) -> None:  # fmt: skip
    fake.script = [Reply.error(500, "boom")]
    out = str(tmp_path / "run")
    run_cli(capsys, "run", SOP_PATH, str(items), "-o", out, "--base-url", server.url, "--batch-api")
    code, stdout, err = run_cli(capsys, "batch", "collect", out, "--no-fallback")
    assert code == 0 and "0 items sent online" in stdout and "batch_failed: 1" in err


def test_status_without_a_batch_exits_2(capsys: Capture, tmp_path: Path) -> None:
    code, stdout, err = run_cli(capsys, "batch", "status", str(tmp_path / "nothing"))
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and "no run here" in err and "--batch-api" in err


def test_auth_failure_exits_3(capsys: Capture, tmp_path: Path, items: Path, fake: FakeModel,
                              server: FakeServer) -> None:  # fmt: skip
    out = str(tmp_path / "run")
    run_cli(capsys, "run", SOP_PATH, str(items), "-o", out, "--base-url", server.url, "--batch-api")
    fake.batch_api.fail_with = Reply.error(401, "Incorrect API key provided")
    for args in (("batch", "status", out), ("batch", "collect", out)):
        code, _, err = run_cli(capsys, *args)
        assert code == 3 and err.count("\n") == 1 and "auth (401)" in err
    code, _, err = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "b"), "--base-url",
                           server.url, "--batch-api")  # fmt: skip
    assert code == 3 and "auth (401)" in err


def test_a_batch_a_stopped_submission_did_not_record_is_found_by_batch_status(
    capsys: Capture, tmp_path: Path, items: Path, fake: FakeModel, server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Issue 21: Ctrl-C (or a kill) right after the server created the batch orphaned it; `batch status`
    finds it by its recorded upload, says so, and collect works as usual."""
    from openai.resources.batches import AsyncBatches

    real = AsyncBatches.create

    async def interrupted(self: AsyncBatches, *args: object, **kwargs: object) -> object:
        await real(self, *args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    out = str(tmp_path / "run")
    with monkeypatch.context() as stopping:
        stopping.setattr(AsyncBatches, "create", interrupted)
        code, _, _ = run_cli(capsys, "run", SOP_PATH, str(items), "-o", out, "--base-url", server.url,
                             "--batch-api")  # fmt: skip
    assert code == 130
    (made,) = fake.batch_api.batches
    code, stdout, stderr = run_cli(capsys, "batch", "status", out)
    assert code == 0 and stdout.startswith(f"{made}: completed, 4/4 completed")
    assert stderr.startswith(f"note: batch {made} (4 requests, file-") and "found on the server" in stderr
    code, stdout, _ = run_cli(capsys, "batch", "collect", out)
    assert code == 0 and "4 answers, 0 failed lines, 0 items sent online" in stdout
    assert len(fake.batch_api.batches) == 1
