"""Crash recovery, proven with a real process: `prelabel run` killed with SIGKILL three times, then resumed.

After the final rerun: exactly one line per item, in input order; SQLite's integrity check passes; and items
finished before a kill were not sent again (re-sent requests are at most the concurrency per kill: the
requests in flight when the process died).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import prelabel
from prelabel.testing import FakeModel, FakeServer

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
N_ITEMS, CONCURRENCY, KILLS = 90, 4, 3


def wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)


def test_three_sigkills_then_a_rerun_labels_every_item_once(tmp_path: Path) -> None:
    items = [{"id": f"item-{n:03d}", "text": f"order {n:03d}: the parcel is late"} for n in range(N_ITEMS)]
    items_file = tmp_path / "items.jsonl"
    items_file.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    out = tmp_path / "run"
    fake = FakeModel(latency=0.03)
    rng = random.Random(20824)
    with FakeServer(fake) as server:
        command = [
            sys.executable, "-m", "prelabel", "run", str(SOP_PATH), str(items_file), "-o", str(out),
            "--base-url", server.url, "--concurrency", str(CONCURRENCY),
        ]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-crash-recovery"}
        log = tmp_path / "stderr.log"
        for _ in range(KILLS):
            with log.open("wb") as stderr:
                process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
                target = len(fake.requests) + rng.randint(5, 20)
                wait_for(
                    lambda p=process, t=target: len(fake.requests) >= t or p.poll() is not None, timeout=60
                )
                time.sleep(rng.uniform(0.0, 0.04))  # somewhere between two answers, or in the middle of one
                process.send_signal(signal.SIGKILL)
                process.wait()
            assert process.returncode == -signal.SIGKILL, log.read_text(encoding="utf-8", errors="replace")
        sent_before_rerun = len(fake.requests)
        # the kills interrupted the run, after enough answers that re-sending them would fail the check below
        assert KILLS * CONCURRENCY < sent_before_rerun < N_ITEMS
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr

    lines = [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["item_id"] for line in lines] == [item["id"] for item in items]
    assert {line["status"] for line in lines} == {"ok"}

    with sqlite3.connect(out / "run.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == N_ITEMS

    asked = Counter()
    for record in fake.requests:
        if "messages" not in record.body:  # another route, or a body cut short by the kill
            continue
        user = str(record.body["messages"][-1]["content"])
        asked.update(item["id"] for item in items if item["text"] in user)
    assert set(asked) == {item["id"] for item in items}
    resent = sum(asked.values()) - N_ITEMS
    assert resent <= KILLS * CONCURRENCY, f"{resent} re-sent requests: {asked.most_common(5)}"
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed" and summary["resumed"] > 0


def test_ctrl_c_or_sigterm_stops_cleanly_with_one_line_and_keeps_results(tmp_path: Path) -> None:
    items = [{"id": f"item-{n:03d}", "text": f"order {n:03d}: the parcel is late"} for n in range(200)]
    items_file = tmp_path / "items.jsonl"
    items_file.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    fake = FakeModel(latency=0.05)
    with FakeServer(fake) as server:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
        for number, stop in enumerate((signal.SIGINT, signal.SIGTERM)):
            out = tmp_path / f"run{number}"
            command = [
                sys.executable, "-m", "prelabel", "run", str(SOP_PATH), str(items_file), "-o", str(out),
                "--base-url", server.url, "--concurrency", "2",
            ]  # fmt: skip
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            target = len(fake.requests) + 6
            wait_for(lambda p=process, t=target: len(fake.requests) >= t or p.poll() is not None, timeout=60)
            process.send_signal(stop)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 130, stderr
            # one line naming the signal, no traceback (beside the plain progress lines a slow machine prints)
            (line,) = [text for text in stderr.strip().splitlines() if not text.startswith("labeling: ")]
            assert line.startswith(f"error: stopped by {stop.name}; finished results are kept in {out}")
            summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
            assert summary["status"] == "aborted" and summary["error"].startswith(f"stopped by {stop.name}")
            written = (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()
            assert 0 < len(written) == summary["counts"]["total"] < len(items)


def _start_command(items_file: Path, out: Path, server: FakeServer) -> list[str]:
    return [
        sys.executable, "-m", "prelabel", "run", str(SOP_PATH), str(items_file), "-o", str(out),
        "--base-url", server.url, "--concurrency", "4",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-test"}


def _start(items_file: Path, out: Path, server: FakeServer) -> subprocess.Popen[str]:
    command = _start_command(items_file, out, server)
    return subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _write_items(tmp_path: Path, n: int) -> tuple[Path, list[dict[str, str]]]:
    items = [{"id": f"item-{k:03d}", "text": f"order {k:03d}: the parcel is late"} for k in range(n)]
    items_file = tmp_path / "items.jsonl"
    items_file.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return items_file, items


def test_sighup_stops_cleanly_like_sigterm(tmp_path: Path) -> None:
    """Issue 21: a closed terminal (SIGHUP) killed the run without a word; it is a clean stop now."""
    items_file, items = _write_items(tmp_path, 200)
    fake = FakeModel(latency=0.05)
    out = tmp_path / "run"
    with FakeServer(fake) as server:
        process = _start(items_file, out, server)
        wait_for(lambda: len(fake.requests) >= 6 or process.poll() is not None, timeout=60)
        process.send_signal(signal.SIGHUP)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    (line,) = [text for text in stderr.strip().splitlines() if not text.startswith("labeling: ")]
    assert line.startswith(f"error: stopped by SIGHUP; finished results are kept in {out}")
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["status"] == "aborted" and summary["error"].startswith("stopped by SIGHUP")
    assert 0 < summary["counts"]["total"] < len(items)


def test_a_second_signal_during_the_clean_stop_ends_quietly_and_loses_nothing(tmp_path: Path) -> None:
    """Issue 21: a second Ctrl-C/SIGTERM while the first one's clean stop ran could print "Task exception
    was never retrieved". Signals in quick succession (several gaps, each a new run) end with exit 130 and
    one line; the ledger holds every result, and the rerun completes without sending a finished item."""
    items_file, items = _write_items(tmp_path, 120)
    fake = FakeModel(latency=0.05)
    with FakeServer(fake) as server:
        for number, (first, second, gap) in enumerate(
            [
                (signal.SIGTERM, signal.SIGTERM, 0.0),
                (signal.SIGINT, signal.SIGINT, 0.001),
                (signal.SIGTERM, signal.SIGINT, 0.005),
                (signal.SIGINT, signal.SIGTERM, 0.02),
                (signal.SIGTERM, signal.SIGHUP, 0.05),
            ]
        ):
            out = tmp_path / f"run{number}"
            process = _start(items_file, out, server)
            target = len(fake.requests) + 8
            wait_for(lambda p=process, t=target: len(fake.requests) >= t or p.poll() is not None, timeout=60)
            process.send_signal(first)
            time.sleep(gap)
            process.send_signal(second)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 130, stderr
            said = [text for text in stderr.strip().splitlines() if not text.startswith("labeling: ")]
            assert len(said) == 1 and said[0].startswith(f"error: stopped by {first.name}"), stderr
            with sqlite3.connect(out / "run.db") as db:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                finished = db.execute("SELECT COUNT(*) FROM items WHERE status = 'ok'").fetchone()[0]
            assert finished > 0
            summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
            assert summary["status"] == "aborted" and summary["counts"]["ok"] == finished
        sent = len(fake.requests)
        final = subprocess.run(_start_command(items_file, out, server), env=_env(), capture_output=True,
                               text=True, timeout=120)  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert len(fake.requests) - sent == len(items) - finished  # no finished item was sent again
    lines = (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["item_id"] for line in lines] == [item["id"] for item in items]
