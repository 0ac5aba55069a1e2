"""Benchmark `prelabel run` at the limit, side by side with a raw `AsyncOpenAI` loop, in one run.

Against a lean loopback OpenAI-compatible server (asyncio, in a subprocess so that its CPU is not counted),
each client runs in its own subprocess over the same items and prints its figures:

(a) throughput at 0.5 s latency, C = 64, 1,280 items: `prelabel.run` (ledger, labels.jsonl, run.json) vs a raw
    `AsyncOpenAI` loop with a semaphore sending the same request bodies (prepared by prelabel beforehand), in
    process with the imports loaded before the clock starts (target: prelabel >= 0.95 x the raw loop); then
    as whole processes, `prelabel run` (the CLI) vs the raw script, from launch to exit, split at the first
    request and the last answer the server saw (``--rounds`` each, in turn; target: >= 0.97 x).
(b) CPU per item at zero latency, 2,000 items: prelabel minus the raw loop, measured over the labeling only
    (imports are a fixed cost, printed apart). Target: <= 1 ms per item, ledger included.
(c) the peers' baseline: a sequential instructor loop at the same latency, timed on a small sample and
    extrapolated to the same number of items. Target: prelabel at C = 64 >= 50 x faster.
(d) memory: RSS of a prelabel run at zero latency after 20,000 and after 200,000 items (and the peak, which
    includes writing labels.jsonl from the ledger). Target: growth <= 50 MB.

    python benchmarks/throughput.py                       # the figures above (a few minutes on 2 cores)
    python benchmarks/throughput.py --items 128 --cpu-items 200 --memory-items 2000 --memory-start 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOP = ROOT / "sop_specs" / "customer_feedback_intent.yaml"
MODEL = "gpt-4o-mini"
CLI = [sys.executable, "-c", "from prelabel.cli import main; main()"]
#: The clients' environment: Python may cache bytecode (as after any install; some shells forbid it).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"OPENAI_API_KEY": "bench"}
TEXTS = (
    "ordered two weeks ago and the parcel still has not arrived, where is it?",
    "the blender came with a cracked jug, I want a replacement",
    "charged twice for the same order, please refund one payment",
    "great seller, fast shipping, thanks!",
)

# ------------------------------------------------------------------------------------------------ the server


def _answer(body: bytes, cache: dict[str, bytes]) -> bytes:
    """A chat completion answering ``body`` (a forced tool call, else JSON content) with a valid label."""
    request = json.loads(body)
    tools = request.get("tools") or []
    key = json.dumps(tools[0]["function"]["name"]) if tools else "content"
    template = cache.get(key)
    if template is None:
        from prelabel.testing._replies import RequestRecord, first_choice

        schema = RequestRecord(path="", headers={}, body=request, time=0.0).schema
        label = first_choice(schema, "label")
        answer = json.dumps({"rationale": "Fits.", "label": label, "cited_rules": [], "confidence": 0.9})
        if tools:
            call = {"id": "call_1", "type": "function", "function": {"name": tools[0]["function"]["name"]}}
            call["function"]["arguments"] = answer
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            message = {"role": "assistant", "content": answer}
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "tool_calls" if tools else "stop", "message": message}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340},
        }
        template = cache[key] = json.dumps(completion).encode()
    return template


async def _serve(latency: float) -> None:
    cache: dict[str, bytes] = {}
    # when the first request came in and the last answer went out (``GET /stats`` reads and resets them)
    stats: dict[str, float | None] = {"first_request": None, "last_answer": None}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b"{}"
                if head.startswith(b"GET /stats"):
                    payload = json.dumps(stats).encode()
                    stats.update(first_request=None, last_answer=None)
                else:
                    if stats["first_request"] is None:
                        stats["first_request"] = time.time()
                    if latency:
                        await asyncio.sleep(latency)
                    payload = _answer(body, cache) if head.startswith(b"POST") else b"{}"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(payload), payload)
                )
                await writer.drain()
                if not head.startswith(b"GET /stats"):
                    stats["last_answer"] = time.time()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


class Server:
    """The loopback server in a subprocess (``with Server(latency) as url``)."""

    def __init__(self, latency: float):
        self.latency = latency

    def __enter__(self) -> str:
        command = [sys.executable, __file__, "--serve", "--latency", str(self.latency)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        return f"http://127.0.0.1:{port}/v1"

    @staticmethod
    def stats(url: str) -> dict[str, float]:
        """When the first request came in and the last answer went out since the last call (``time.time``)."""
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(url.removesuffix("/v1") + "/stats", timeout=10) as response:
            return dict(json.loads(response.read()))

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


# ----------------------------------------------------------------------------------------------- the clients


def write_items(path: Path, n: int) -> Path:
    """``n`` items as JSONL."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(json.dumps({"id": f"item-{i:07d}", "text": f"{TEXTS[i % len(TEXTS)]} (#{i})"}) + "\n")
    return path


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _client_prelabel(args: argparse.Namespace) -> dict[str, Any]:
    import instructor.core  # its retry loop and hooks (public names)
    import openai

    import prelabel
    import prelabel.labeling.runner

    del instructor, openai  # imported before the clock starts, as the raw loop's are

    marks: dict[str, float] = {}

    class RssSink:  # samples RSS as results arrive (``run``'s sink hook)
        def __init__(self) -> None:
            self.count = 0

        def write(self, position: int, result: Any) -> None:
            self.count += 1
            if self.count == args.memory_start:
                marks["rss_start_mb"] = _rss_mb()

        def close(self) -> None:
            marks["rss_end_mb"] = _rss_mb()

    out = Path(args.out)
    started, cpu = time.perf_counter(), time.process_time()
    summary = prelabel.run(
        SOP,
        args.items_file,
        out,
        base_url=args.base_url,
        api_key="bench",
        model=MODEL,
        concurrency=args.concurrency,
        restart=True,
        sink=(lambda _out: RssSink()) if args.memory_start else None,
    )
    assert summary.counts["ok"] == args.items, summary.counts
    return {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu, **marks}


def write_requests(items: Path, path: Path) -> Path:
    """The request bodies ``prelabel run`` sends for ``items``, for the raw loop: the first line holds what
    every request shares (model, tools, options; ``system``: the system message), each further line one item's
    user message."""
    import prelabel

    sop = prelabel.load_sop(SOP)
    labeler = prelabel.Labeler(sop, model=MODEL, base_url="http://127.0.0.1:9/v1", api_key="bench")
    with path.open("w", encoding="utf-8") as out:
        for n, item in enumerate(prelabel.read_items(items)):
            messages = prelabel.render(sop, item)
            if n == 0:
                body = labeler.caller.request_body(messages)
                assert body.pop("messages") == messages
                out.write(json.dumps({**body, "system": messages[0]["content"]}) + "\n")
            out.write(json.dumps(messages[1]["content"]) + "\n")
    return path


def _messages(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _client_raw(args: argparse.Namespace) -> dict[str, Any]:
    """A bare ``AsyncOpenAI`` loop over the prepared bodies: items streamed in, at most C in flight."""
    import openai

    async def main() -> int:
        client = openai.AsyncOpenAI(api_key="bench", base_url=args.base_url, max_retries=0)
        semaphore = asyncio.Semaphore(args.concurrency)
        done = 0

        async def one(shared: dict[str, Any], system: str, user: str) -> None:
            nonlocal done
            try:
                completion = await client.chat.completions.create(**shared, messages=_messages(system, user))
            finally:
                semaphore.release()
            json.loads(completion.choices[0].message.tool_calls[0].function.arguments)
            done += 1

        with open(args.requests_file, encoding="utf-8") as lines:
            shared = json.loads(next(lines))
            system = shared.pop("system")
            async with asyncio.TaskGroup() as group:
                for line in lines:
                    await semaphore.acquire()
                    group.create_task(one(shared, system, json.loads(line)))
        await client.close()
        return done

    started, cpu = time.perf_counter(), time.process_time()
    done = asyncio.run(main())
    assert done == args.items, done
    return {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


def _client_sequential(args: argparse.Namespace) -> dict[str, Any]:
    import instructor
    import openai

    import prelabel

    model = prelabel.response_model(prelabel.load_sop(SOP))
    client = instructor.from_openai(openai.OpenAI(api_key="bench", base_url=args.base_url, max_retries=0))
    with open(args.requests_file, encoding="utf-8") as lines:
        system = json.loads(next(lines))["system"]
        users = [json.loads(line) for line in lines]
    started, cpu = time.perf_counter(), time.process_time()
    for user in users:
        client.chat.completions.create(
            model=MODEL, messages=_messages(system, user), response_model=model, max_retries=2
        )
    return {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


CLIENTS = {"prelabel": _client_prelabel, "raw": _client_raw, "sequential": _client_sequential}


def _client(args: argparse.Namespace) -> None:
    figures = CLIENTS[args.client](args)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures |= {"process_cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}
    print(json.dumps(figures), flush=True)


def _phases(command: list[str], url: str) -> tuple[str, dict[str, float]]:
    """Run ``command`` against the server at ``url``; its stdout, and its wall seconds from launch to exit
    split at the first request and the last answer the server saw."""
    Server.stats(url)  # forget what came before
    launched = time.time()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=ENV)
    ended = time.time()
    seen = Server.stats(url)
    first, last = seen["first_request"], seen["last_answer"]
    phases = {"process_wall_s": ended - launched, "start_up_s": first - launched}
    phases |= {"labeling_s": last - first, "wind_down_s": ended - last}
    return done.stdout, phases


def measure(client: str, url: str, items: Path, n: int, concurrency: int, work: Path, **extra: Any) -> Any:
    """Run one client in a subprocess; its figures as a dict, with its phases as a whole process."""
    command = [sys.executable, __file__, "--client", client, "--base-url", url, "--items-file", str(items)]
    command += ["--items", str(n), "--concurrency", str(concurrency), "--out", str(work / f"run-{client}")]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    stdout, phases = _phases(command, url)
    return json.loads(stdout.strip().splitlines()[-1]) | phases


def cli_command(url: str, items: Path, concurrency: int, out: Path) -> list[str]:
    """``prelabel run`` on ``items`` against ``url``, as a user types it."""
    run = ["run", str(SOP), str(items), "-o", str(out), "--base-url", url, "--model", MODEL]
    return [*CLI, *run, "--concurrency", str(concurrency)]


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def measure_cli(url: str, items: Path, concurrency: int, out: Path) -> dict[str, float]:
    """The phases of ``prelabel run`` as a whole process."""
    return _phases(cli_command(url, items, concurrency, out), url)[1]


# ------------------------------------------------------------------------------------------------ the report


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark; print the figures and return them."""
    raw_help = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw_help)
    parser.add_argument("--items", type=int, default=1280, help="items for (a) and (c)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="whole-process runs of each client in (a)")
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--cpu-items", type=int, default=2000, help="items for (b)")
    parser.add_argument("--sequential-items", type=int, default=20, help="sample timed for (c)")
    parser.add_argument("--memory-items", type=int, default=200_000, help="items for (d); 0 skips it")
    parser.add_argument("--memory-start", type=int, default=20_000)
    # internal: the server and client subprocesses
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=sorted(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--items-file", help=argparse.SUPPRESS)
    parser.add_argument("--requests-file", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.latency))
        return {}
    if args.client:
        _client(args)
        return {}

    figures: dict[str, float] = {}
    c, n = args.concurrency, args.items
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        items = write_items(work / "items.jsonl", n)
        requests = write_requests(items, work / "requests.jsonl")
        print(f"prelabel throughput, {os.cpu_count()} CPUs, loopback server in a subprocess, C = {c}")
        with Server(args.latency) as url:
            raws, clis = [], []
            for round_ in range(args.rounds):  # the raw script and the CLI in turn (medians)
                raws.append(measure("raw", url, items, n, c, work, requests_file=requests))
                if not round_:
                    ours = measure("prelabel", url, items, n, c, work)
                clis.append(measure_cli(url, items, c, work / f"run-cli-{round_}"))
            raw, cli = _medians(raws), _medians(clis)
            sample = write_items(work / "sample.jsonl", args.sequential_items)
            sample_requests = write_requests(sample, work / "sample-requests.jsonl")
            seq = measure(
                "sequential", url, sample, args.sequential_items, 1, work, requests_file=sample_requests
            )
        ideal = c / args.latency
        figures["raw_items_per_s"] = n / raw["wall_s"]
        figures["prelabel_items_per_s"] = n / ours["wall_s"]
        figures["throughput_ratio"] = figures["prelabel_items_per_s"] / figures["raw_items_per_s"]
        figures["raw_process_items_per_s"] = n / raw["process_wall_s"]
        figures["cli_process_items_per_s"] = n / cli["process_wall_s"]
        figures["process_throughput_ratio"] = raw["process_wall_s"] / cli["process_wall_s"]
        figures["raw_start_up_s"], figures["cli_start_up_s"] = raw["start_up_s"], cli["start_up_s"]
        print(f"\n(a) {n:,} items at {args.latency} s latency (ideal {ideal:.0f} items/s):")
        print("    in process, imports loaded before the clock starts:")
        print(f"      raw AsyncOpenAI loop + semaphore  {figures['raw_items_per_s']:7.1f} items/s")
        print(f"      prelabel.run (ledger)             {figures['prelabel_items_per_s']:7.1f} items/s")
        print(
            f"      ratio prelabel / raw              {figures['throughput_ratio']:7.3f}   (target >= 0.95)"
        )
        print(
            f"    whole processes, from launch to exit (launch to first request + to last answer + to exit;"
            f" medians of {args.rounds}):"
        )
        for name, phases in (("raw AsyncOpenAI script", raw), ("prelabel run (the CLI)", cli)):
            split = " + ".join(f"{phases[k]:.2f}" for k in ("start_up_s", "labeling_s", "wind_down_s"))
            rate = n / phases["process_wall_s"]
            print(f"      {name:32}  {rate:7.1f} items/s   {phases['process_wall_s']:.2f} s = {split} s")
        ratio = figures["process_throughput_ratio"]
        print(f"      ratio prelabel / raw              {ratio:7.3f}   (target >= 0.97)")

        m = args.cpu_items
        cpu_items = write_items(work / "cpu.jsonl", m)
        cpu_requests = write_requests(cpu_items, work / "cpu-requests.jsonl")
        with Server(0.0) as url:
            raw0 = measure("raw", url, cpu_items, m, c, work, requests_file=cpu_requests)
            ours0 = measure("prelabel", url, cpu_items, m, c, work)
        figures["raw_cpu_ms_per_item"] = 1000 * raw0["cpu_s"] / m
        figures["prelabel_cpu_ms_per_item"] = 1000 * ours0["cpu_s"] / m
        extra = figures["prelabel_cpu_ms_per_item"] - figures["raw_cpu_ms_per_item"]
        figures["extra_cpu_ms_per_item"] = extra
        print(f"\n(b) {m:,} items at zero latency, CPU of the labeling (imports apart):")
        print(
            f"    raw loop      {raw0['cpu_s']:6.2f} s  = {figures['raw_cpu_ms_per_item']:.2f} ms/item"
            f"   (whole process {raw0['process_cpu_s']:.2f} s, {m / raw0['wall_s']:.0f} items/s)"
        )
        print(
            f"    prelabel run  {ours0['cpu_s']:6.2f} s  = {figures['prelabel_cpu_ms_per_item']:.2f} ms/item"
            f"   (whole process {ours0['process_cpu_s']:.2f} s, {m / ours0['wall_s']:.0f} items/s)"
        )
        print(f"    prelabel - raw: {figures['extra_cpu_ms_per_item']:.2f} ms/item   (target <= 1 ms)")

        per_item = seq["wall_s"] / args.sequential_items
        figures["sequential_items_per_s"] = 1 / per_item
        figures["speedup_vs_sequential"] = figures["prelabel_items_per_s"] * per_item
        print(f"\n(c) sequential instructor loop at {args.latency} s latency (the peers' baseline):")
        print(
            f"    timed on {args.sequential_items} items: {per_item:.3f} s/item; extrapolated to {n:,} "
            f"items: {per_item * n:.0f} s vs prelabel's {ours['wall_s']:.1f} s"
        )
        print(f"    prelabel at C = {c} is {figures['speedup_vs_sequential']:.0f}x faster   (target >= 50x)")

        big, start = args.memory_items, args.memory_start
        if big:
            mem_items = write_items(work / "memory.jsonl", big)
            with Server(0.0) as url:
                mem = measure("prelabel", url, mem_items, big, c, work, memory_start=start)
            figures["rss_growth_mb"] = mem["rss_end_mb"] - mem["rss_start_mb"]
            figures["peak_rss_mb"] = mem["peak_rss_mb"]
            print(f"\n(d) memory of a prelabel run at zero latency, {big:,} items:")
            print(
                f"    RSS after {start:,} results {mem['rss_start_mb']:.1f} MB, after {big:,} "
                f"{mem['rss_end_mb']:.1f} MB, peak (labels.jsonl written) {mem['peak_rss_mb']:.1f} MB"
            )
            print(f"    growth {figures['rss_growth_mb']:.1f} MB   (target <= 50 MB)")
    return figures


if __name__ == "__main__":
    main()
