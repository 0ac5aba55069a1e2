"""Benchmark the embedded model: safe defaults (worker process, extra buffer types off), and the lazy grammar.

Labels the same demo items with the bundled model four ways, side by side in one run, and prints the start-up
(model load + first answer) and the steady per-item time of each, with ratios against the old default
(in-process, extra buffer types on):

- in-process, extra buffer types on   (before: a native crash killed the caller; AMX VMs segfault)
- in-process, extra buffer types off
- worker process, extra buffer types on
- worker process, extra buffer types off (the default now)

    python benchmarks/local_model.py            # 6 items each
    python benchmarks/local_model.py --items 12

``--grammar`` instead compares grammar-constrained greedy decoding (in-process, the default load options):
llama-cpp-python's own grammar sampler (every token checks the whole vocabulary against the grammar) against
``prelabel.llm.local.lazy_grammar`` (the model's best token first), item by item in alternating order on one
loaded model, and checks that both give the same answers. Per item: the median labeling time, answer tokens,
and how often the grammar refused the model's best token (and the whole vocabulary was checked).

    python benchmarks/local_model.py --grammar --items 8
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

import prelabel
from prelabel.demo import demo_items
from prelabel.llm.endpoints import LOCAL_BASE_URL
from prelabel.llm.local import model as local
from prelabel.llm.local.lazy_grammar import LazyStats, lazy_grammar
from prelabel.llm.local.transport import LocalTransport, local_clients

VARIANTS = {
    "in-process, extra bufts on (old default)": (False, True),
    "in-process, extra bufts off": (False, False),
    "worker, extra bufts on": (True, True),
    "worker, extra bufts off (default)": (True, False),
}


def measure(
    isolated: bool, extra_bufts: bool, items: list[dict[str, object]], run: int
) -> tuple[float, list[float]]:
    """Seconds to the first answer (load included), then each later item's latency."""
    sop = prelabel.bundled_sop("customer_feedback_intent")
    started = time.perf_counter()
    # n_ctx differs per pass so that each pass loads its model again (clients are cached per options)
    _, client = local_clients(isolated=isolated, use_extra_bufts=extra_bufts, n_ctx=4096 + 16 * run)
    labeler = prelabel.Labeler(sop, model="local", client=client)
    first = labeler.label(items[0])
    startup = time.perf_counter() - started
    assert first.status != "error", first.error
    latencies = []
    for item in items[1:]:
        result = labeler.label(item)
        assert result.status != "error", result.error
        latencies.append(result.latency_s)
    return startup, latencies


def grammar(items: list[dict[str, Any]]) -> None:
    """Per-item labeling time with llama-cpp-python's grammar sampler and with the lazy grammar."""
    stats: list[LazyStats] = []

    @contextlib.contextmanager
    def counted(llm: Any) -> Iterator[LazyStats]:
        with lazy_grammar(llm) as counts:
            yield counts
        stats.append(counts)

    local.lazy_grammar = counted  # type: ignore[assignment]  # LocalModel.answer enters it per request
    shared = local.open_model()
    labelers = {}
    for name, lazy in (("llama-cpp-python's grammar sampler", False), ("lazy grammar", True)):
        answer = local.LocalModel(shared._llm, shared._lock, lazy=lazy).answer
        http = httpx2.Client(transport=LocalTransport(answer))
        client = openai.OpenAI(api_key="local", base_url=LOCAL_BASE_URL, max_retries=0, http_client=http)
        labelers[name] = prelabel.Labeler(prelabel.bundled_sop("customer_feedback_intent"), client=client)
    seconds: dict[str, list[float]] = {name: [] for name in labelers}
    tokens = []
    for i, item in enumerate(items):
        order = list(labelers) if i % 2 else list(reversed(labelers))  # a busy moment favours neither
        results = {name: labelers[name].label(item) for name in order}
        plain, lazy = (_answer(result) for result in results.values())
        assert results[order[0]].status != "error", results[order[0]].error
        assert plain == lazy, (plain, lazy)
        if i:  # the first item evaluates the whole SOP prompt; later ones reuse its KV cache
            for name, result in results.items():
                seconds[name].append(result.latency_s)
            tokens.append(results[order[0]].usage.completion_tokens)
    refused, whole = sum(s.fallbacks for s in stats[1:]), sum(s.whole for s in stats[1:])
    print(f"{len(items)} demo items (the first left out: it evaluates the SOP prompt), bundled Gemma 3 270M,")
    print(f"in-process; the same answers both ways; {statistics.median(tokens):.0f} answer tokens (median)")
    base = statistics.median(seconds["llama-cpp-python's grammar sampler"])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:36} per item {median:6.2f}s (min {min(values):.2f}s) {median / base:6.2f}x")
    lazy_tokens = sum(s.lazy for s in stats[1:])
    print(f"lazy grammar: best token refused {refused} of {lazy_tokens} times; whole vocabulary: {whole}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (both ways, one model): {peak:.0f} MB")


def _answer(result: prelabel.LabelResult) -> tuple[Any, ...]:
    fields = (result.label, result.rationale, result.cited_rules, result.confidence)
    return (*fields, result.usage.completion_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--grammar", action="store_true", help="lazy grammar vs llama-cpp-python's sampler")
    args = parser.parse_args()
    items = demo_items()[: args.items]
    if args.grammar:
        grammar(items)
        return
    # two passes in opposite orders, so that a busy moment or a warm cache favours no variant
    rows: dict[str, tuple[float, list[float]]] = {name: (0.0, []) for name in VARIANTS}
    for run, order in enumerate((list(VARIANTS), list(reversed(VARIANTS)))):
        for name in order:
            startup, latencies = measure(*VARIANTS[name], items, run)
            rows[name] = (rows[name][0] + startup / 2, rows[name][1] + latencies)
    base_start, base_items = rows["in-process, extra bufts on (old default)"]
    base_median = statistics.median(base_items)
    print(f"{len(items)} items x 2 passes, bundled Gemma 3 270M; start-up = mean, per item = median")
    print(f"{'variant':42} {'start-up':>9} {'per item':>9} {'x old (start, item)':>20}")
    for name, (startup, latencies) in rows.items():
        median = statistics.median(latencies)
        ratios = f"{startup / base_start:9.2f} {median / base_median:9.2f}"
        print(f"{name:42} {startup:8.2f}s {median:8.3f}s {ratios}")


if __name__ == "__main__":
    main()
