"""Benchmark the embedded model's safe defaults: worker-process isolation and extra buffer types off.

Labels the same demo items with the bundled model four ways, side by side in one run, and prints the start-up
(model load + first answer) and the steady per-item time of each, with ratios against the old default
(in-process, extra buffer types on):

- in-process, extra buffer types on   (before: a native crash killed the caller; AMX VMs segfault)
- in-process, extra buffer types off
- worker process, extra buffer types on
- worker process, extra buffer types off (the default now)

    python benchmarks/local_model.py            # 6 items each
    python benchmarks/local_model.py --items 12
"""

from __future__ import annotations

import argparse
import statistics
import time

import prelabel
from prelabel.demo import demo_items
from prelabel.llm.local.process import WorkerProcess
from prelabel.llm.local.transport import local_clients

VARIANTS = {
    "in-process, extra bufts on (old default)": (False, True),
    "in-process, extra bufts off": (False, False),
    "worker, extra bufts on": (True, True),
    "worker, extra bufts off (default)": (True, False),
}


def measure(isolated: bool, extra_bufts: bool, items: list[dict[str, object]]) -> tuple[float, list[float]]:
    """Seconds to the first answer (load included), then each later item's latency."""
    sop = prelabel.bundled_sop("customer_feedback_intent")
    started = time.perf_counter()
    # n_ctx differs per variant so that each loads its own model (clients are cached per path and options)
    _, client = local_clients(isolated=isolated, use_extra_bufts=extra_bufts, n_ctx=4096 + 8 * len(VARIANTS))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6)
    args = parser.parse_args()
    items = demo_items()[: args.items]
    rows = {name: measure(isolated, bufts, items) for name, (isolated, bufts) in VARIANTS.items()}
    base_start, base_items = rows["in-process, extra bufts on (old default)"]
    base_median = statistics.median(base_items)
    print(f"{len(items)} items, bundled Gemma 3 270M; per item = median of items 2..{len(items)}")
    print(f"{'variant':42} {'start-up':>9} {'per item':>9} {'x old (start, item)':>20}")
    for name, (startup, latencies) in rows.items():
        median = statistics.median(latencies)
        print(f"{name:42} {startup:8.2f}s {median:8.3f}s {startup / base_start:9.2f} {median / base_median:9.2f}")
    print(f"(worker processes started: {WorkerProcess.__name__} per variant; pipe overhead is in 'per item')")


if __name__ == "__main__":
    main()
