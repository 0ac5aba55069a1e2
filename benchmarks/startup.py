"""Benchmark start-up, as whole processes: ``import prelabel``, ``prelabel --help``, ``prelabel validate`` and
``prelabel run`` up to its first request.

Targets on a 2-core machine: ``python -c "import prelabel"`` <= 0.3 s and ``prelabel validate SOP`` <= 0.6 s.
Each command runs ``--runs`` times (best and median printed) beside a baseline measured in the same run:
``python -c pass`` (the interpreter alone), and, for contrast, importing what prelabel keeps lazy (openai,
pandas, scikit-learn).

Then the time from launch to the first request reaching a loopback listener, for ``prelabel run`` (the CLI,
``--items`` items, C = 64) and for a bare ``AsyncOpenAI`` script sending the same request bodies
(``benchmarks/throughput.py``'s raw loop), alternately, ``--runs`` times each: wall and CPU seconds of the
client process at that moment (medians). Each process is killed once its first request is in; the two first
bodies are checked equal. Target: prelabel's CPU <= the raw script's + 0.5 s (on a busy machine the wall time
stretches both by the share of the CPUs they get).

    python benchmarks/startup.py
    python benchmarks/startup.py --runs 20 --items 20000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput  # the raw loop, its request bodies and the items

ROOT = Path(__file__).resolve().parents[1]
SOP = ROOT / "sop_specs" / "customer_feedback_intent.yaml"
CLI = [sys.executable, "-c", "from prelabel.cli import main; main()"]

COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "import prelabel": [sys.executable, "-c", "import prelabel"],
    "prelabel --help": [*CLI, "--help"],
    "prelabel validate SOP": [*CLI, "validate", str(SOP)],
    "import openai, pandas, sklearn (kept lazy)": [sys.executable, "-c", "import openai, pandas, sklearn"],
}
TARGETS = {"import prelabel": 0.3, "prelabel validate SOP": 0.6}


def timed(command: list[str], runs: int) -> list[float]:
    """Wall times of ``runs`` runs of ``command`` (after one warm-up run for the OS file cache)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc``; its waited-for children included)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(ticks) for ticks in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def first_request(command: list[str], timeout: float = 300.0) -> dict[str, Any]:
    """Launch ``command`` (``{url}`` stands for a loopback listener's base URL) and wait for its first HTTP
    request: wall and CPU seconds of the process from launch to that request's headers, and its JSON body.
    The process is killed then."""
    with socket.create_server(("127.0.0.1", 0), backlog=1024) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        listener.settimeout(0.2)
        started = time.perf_counter()
        process = subprocess.Popen(
            [part.replace("{url}", url) for part in command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=throughput.ENV,
        )
        try:
            while True:
                try:
                    connection, _ = listener.accept()
                    break
                except TimeoutError:
                    if process.poll() is not None or time.perf_counter() - started > timeout:
                        error = process.stderr.read().decode() if process.stderr else ""
                        raise RuntimeError(f"no request from {command[:4]}: {error[-2000:]}") from None
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += connection.recv(1 << 16)
                wall, cpu = time.perf_counter() - started, _cpu_seconds(process.pid)
                head, body = head.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length:"))
                while len(body) < length:
                    body += connection.recv(1 << 16)
        finally:
            process.kill()
            process.wait()
            if process.stderr is not None:
                process.stderr.close()
    return {"wall_s": wall, "cpu_s": cpu, "request": lines[0], "body": json.loads(body)}


def first_requests(runs: int, items: int, warm_up: bool = True) -> dict[str, list[dict[str, Any]]]:
    """``runs`` first requests each of ``prelabel run`` and the raw script, in turn, over ``items`` items
    (after an uncounted round that warms the OS file cache and writes bytecode caches)."""
    results: dict[str, list[dict[str, Any]]] = {"raw AsyncOpenAI script": [], "prelabel run": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        items_file = throughput.write_items(work / "items.jsonl", items)
        requests = throughput.write_requests(items_file, work / "requests.jsonl")
        raw = [sys.executable, throughput.__file__, "--client", "raw", "--base-url", "{url}"]
        raw += ["--requests-file", str(requests), "--items", str(items), "--concurrency", "64"]
        for run in range(-1 if warm_up else 0, runs):
            ours = throughput.cli_command("{url}", items_file, 64, work / f"run-{run}")
            for name, command in (("raw AsyncOpenAI script", raw), ("prelabel run", ours)):
                measured = first_request(command)
                if run >= 0:
                    results[name].append(measured)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--items", type=int, default=5000, help="items in the file `prelabel run` reads")
    parser.add_argument("--only-run", action="store_true", help="only `prelabel run` to its first request")
    args = parser.parse_args()
    commands = {} if args.only_run else COMMANDS
    results = {name: timed(command, args.runs) for name, command in commands.items()}
    if results:
        print(f"{'command':45} {'best':>8} {'median':>8} {'x baseline':>10}  target")
    for name, times in results.items():
        baseline = min(results["python -c pass (baseline)"])
        best, median = min(times), statistics.median(times)
        target = TARGETS.get(name)
        verdict = "" if target is None else f"<= {target:.1f} s {'ok' if median <= target else 'MISSED'}"
        print(f"{name:45} {best:7.3f}s {median:7.3f}s {best / baseline:9.1f}x  {verdict}")

    firsts = first_requests(args.runs, args.items)
    bodies = {json.dumps(runs[0]["body"], sort_keys=True) for runs in firsts.values()}
    same = "the same first request body" if len(bodies) == 1 else "DIFFERENT first request bodies"
    print(f"\nlaunch to first request, {args.items:,} items, C = 64 (medians of {args.runs} runs; {same}):")
    print(f"{'client':45} {'wall':>8} {'CPU':>8}")
    medians = {}
    for name, runs in firsts.items():
        medians[name] = [statistics.median(run[key] for run in runs) for key in ("wall_s", "cpu_s")]
        print(f"{name:45} {medians[name][0]:7.3f}s {medians[name][1]:7.3f}s")
    ours, raw = medians["prelabel run"], medians["raw AsyncOpenAI script"]
    extra = [ours[0] - raw[0], ours[1] - raw[1]]
    verdict = "ok" if extra[1] <= 0.5 else "MISSED"
    print(f"{'prelabel - raw':45} {extra[0]:+7.3f}s {extra[1]:+7.3f}s  target CPU <= +0.5 s {verdict}")


if __name__ == "__main__":
    main()
