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
from prelabel.llm.local.transport import local_clients

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6)
    args = parser.parse_args()
    items = demo_items()[: args.items]
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
