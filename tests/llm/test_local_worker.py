"""The embedded model runs in a worker process: a native crash there is one clear error, never a dead caller.

The stand-in worker (``prelabel.testing.crashing_worker``) answers like ``FakeModel`` and then dies of a real
SIGSEGV, as llama.cpp does on CPUs it cannot run on (AMX virtual machines: ggml-org/llama.cpp#20824).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import prelabel
from prelabel.llm.local import LocalModelCrashed, process
from prelabel.llm.local.transport import local_clients

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
SOP = prelabel.load_sop(SOP_PATH)
STAND_IN = "prelabel.testing.crashing_worker"
ITEMS = [{"id": f"i{n}", "text": f"parcel {n} is late"} for n in range(5)]


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "stand-in.gguf"  # the stand-in never reads it; local_clients checks that it exists
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture
def crashing(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(process, "WORKER_MODULE", STAND_IN)
    return monkeypatch


def test_a_crash_while_answering_is_an_endpoint_error_and_keeps_earlier_labels(
    crashing: pytest.MonkeyPatch, gguf: Path
) -> None:
    crashing.setenv("PRELABEL_CRASH_AFTER", "2")
    labeler = prelabel.Labeler(SOP, model=f"local:{gguf}")
    seen: list[prelabel.LabelResult] = []
    with pytest.raises(LocalModelCrashed) as caught:
        asyncio.run(labeler.alabel_many(ITEMS, concurrency=1, on_result=lambda i, r: seen.append(r)))
    assert [r.status for r in seen] == ["ok", "ok"]  # answered before the crash, and delivered
    error = caught.value
    assert isinstance(error, prelabel.EndpointError)
    assert error.signal_name == "SIGSEGV"
    message = str(error)
    assert "\n" not in message
    assert message.startswith("the embedded model crashed (SIGSEGV) in llama.cpp while answering a request")
    assert "likely cause" in message and "fix: " in message and "20824" in message
    assert "Segmentation fault" in error.log  # faulthandler's report, kept for --debug and bug reports


def test_a_crash_while_loading_is_an_endpoint_error(crashing: pytest.MonkeyPatch, gguf: Path) -> None:
    crashing.setenv("PRELABEL_CRASH_AFTER", "load")
    with pytest.raises(LocalModelCrashed, match=r"crashed \(SIGSEGV\) in llama.cpp while loading the model"):
        local_clients(gguf)


def test_after_a_crash_the_worker_stays_down_and_every_request_says_why(
    crashing: pytest.MonkeyPatch, gguf: Path
) -> None:
    crashing.setenv("PRELABEL_CRASH_AFTER", "0")
    worker = process.WorkerProcess(str(gguf), {})
    body = json.dumps({"model": "local", "messages": [{"role": "user", "content": "hi"}]}).encode()
    with pytest.raises(LocalModelCrashed) as first:
        worker.request("POST", "/v1/chat/completions", body)
    with pytest.raises(LocalModelCrashed) as second:
        worker.request("POST", "/v1/chat/completions", body)
    assert second.value is first.value  # not restarted: a native crash repeats
    worker.close()


def test_a_worker_killed_from_outside_names_the_signal(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "WORKER_MODULE", STAND_IN)
    monkeypatch.setenv("PRELABEL_CRASH_AFTER", "1000")
    worker = process.WorkerProcess(str(gguf), {})
    os.kill(worker.pid, signal.SIGKILL)  # the OOM killer, say
    body = json.dumps({"model": "local", "messages": [{"role": "user", "content": "hi"}]}).encode()
    with pytest.raises(LocalModelCrashed, match=r"crashed \(SIGKILL\)"):
        worker.request("POST", "/v1/chat/completions", body)


def test_the_cli_prints_one_line_exits_3_and_keeps_the_labels_it_wrote(tmp_path: Path, gguf: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(it) + "\n" for it in ITEMS), encoding="utf-8")
    out = tmp_path / "run"
    script = (
        "import sys, prelabel.llm.local.process as p; p.WORKER_MODULE = sys.argv[1]; "
        "from prelabel.cli import main; main(sys.argv[2:])"
    )
    args = [
        "run",
        str(SOP_PATH),
        str(items),
        "-o",
        str(out),
        "--model",
        f"local:{gguf}",
        "--concurrency",
        "1",
    ]
    env = {**os.environ, "PRELABEL_CRASH_AFTER": "3"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, STAND_IN, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 3, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: the embedded model crashed (SIGSEGV)"), lines
    assert "Traceback" not in done.stderr and "Segmentation fault" not in done.stderr
    written = [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["status"] for r in written] == ["ok", "ok", "ok"]
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["status"] == "aborted" and "SIGSEGV" in summary["error"]
    assert time.perf_counter() - started < 60


def test_a_hung_worker_is_stopped_after_the_timeout(crashing: pytest.MonkeyPatch, gguf: Path) -> None:
    crashing.setenv("PRELABEL_CRASH_AFTER", "hang")
    worker = process.WorkerProcess(str(gguf), {}, timeout=1.0)
    body = json.dumps({"model": "local", "messages": [{"role": "user", "content": "hi"}]}).encode()
    started = time.perf_counter()
    with pytest.raises(LocalModelCrashed, match=r"did not answer within 1 s while answering a request"):
        worker.request("POST", "/v1/chat/completions", body)
    assert time.perf_counter() - started < 15
    crashing.setenv(process.TIMEOUT_ENV, "soon")
    with pytest.raises(prelabel.EndpointError, match="PRELABEL_LOCAL_TIMEOUT='soon' is not a number"):
        process.WorkerProcess(str(gguf), {})
