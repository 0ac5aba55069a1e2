"""Benchmark what masking personal data costs per item, side by side with labeling without it, in one process.

10,000 items of buyer feedback (by default), a third of them carrying personal data in the markets' formats
(Indonesian, Thai, Vietnamese, Malaysian phone numbers, emails, Luhn-valid cards, an order number the SOP's
own pattern names), the rest plain text with dates, amounts and digit runs that must stay:

(a) masking alone: ``mask_item`` over every item (``--mask email,phone,card`` plus the SOP pattern), its
    cache cleared first: CPU microseconds per item, for the items with and without personal data.
(b) labeling: ``prelabel.run`` into a fresh RUN_DIR over the same items against the in-process fake model
    (zero latency, so the labeling's own CPU is what is compared), without masking and with it, in turn,
    ``--rounds`` times each: this process's CPU seconds per run (wall time swings with whatever else runs on
    the machine), and the ratio masked / unmasked (the best of the rounds).

    python benchmarks/masking.py                   # 10,000 items, 2 rounds (a few minutes on 2 cores)
    python benchmarks/masking.py --items 1000 --rounds 1
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import prelabel
from prelabel.inputs.items import Item
from prelabel.prompt import masking
from prelabel.testing import FakeModel

SOP = prelabel.bundled_sop("customer_feedback_intent")
MASK = ("email", "phone", "card")
PATTERN = {"patterns": [{"name": "ORDER", "regex": r"ORD-\d{4}-\d{6}"}]}
PLAIN = (
    "ordered two weeks ago on 2024-03-12 and the parcel still has not arrived, where is it? qty 2",
    "paket belum sampai padahal sudah lewat estimasi, sudah bayar Rp 85.000.000 tanggal 12/03/2024",
    "สั่งของไปสองอาทิตย์แล้วยังไม่ได้รับเลย ref 1234 5678 9012 3456",
    "Sản phẩm tuyệt vời, sẽ ủng hộ shop tiếp, giao 3 ngày",
    "the blender came with a cracked jug, I want a replacement for 1,299,000",
)
PERSONAL = (
    "paket belum sampai, hubungi 0812-3456-{n:04d} atau email budi{n}@example.co.id",
    "ของยังไม่มา โทร +66 81 234 {n:04d} ด่วน",
    "chưa nhận hàng, gọi 0912 345 {m:03d} hoặc +84 91 234 {m:03d}",
    "barang rosak, call 012-345 {n:04d}, refund ke kad 4111 1111 1111 1111, order ORD-2024-{n:06d}",
    "charged twice on card 5500-0000-0000-0004, contact me at ana.{n}@mail.com",
)


def make_items(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` items, one in three carrying personal data, every text distinct (no cache helps)."""
    rng = random.Random(seed)
    items = []
    for n in range(count):
        pool = PERSONAL if n % 3 == 0 else PLAIN
        text = rng.choice(pool).format(n=n % 10_000, m=n % 1000) + f" (#{n})"
        items.append({"id": f"i{n}", "text": text, "language": rng.choice(["id", "th", "vi", "ms", "en"])})
    return items


def mask_alone(items: list[dict[str, Any]], policy: masking.MaskPolicy) -> float:
    """(a): microseconds per item of ``mask_item``, for items with and without personal data (returns the
    mean over all, in seconds)."""
    entries = [Item(**item) for item in items]
    masking.mask_text.cache_clear()
    timed: dict[bool, list[float]] = {True: [], False: []}
    for entry in entries:
        started = time.process_time()
        _, masked = masking.mask_item(policy, entry)
        timed[bool(masked)].append(time.process_time() - started)
    every = timed[True] + timed[False]
    print(f"(a) masking alone, {len(entries)} items: {1e6 * sum(every) / len(every):.0f} us per item")
    for found, label in ((True, "with personal data"), (False, "without")):
        if timed[found]:
            mean = 1e6 * sum(timed[found]) / len(timed[found])
            print(f"    {len(timed[found])} items {label}: {mean:.0f} us per item")
    return sum(every) / len(every)


def label_once(items: list[dict[str, Any]], sop: prelabel.SOP, mask: tuple[str, ...]) -> float:
    """(b): CPU seconds ``prelabel.run`` takes over ``items`` into a fresh RUN_DIR (fake model, no
    latency)."""
    masking.mask_text.cache_clear()
    fake = FakeModel()
    gc.collect()
    with tempfile.TemporaryDirectory() as out:
        started = time.process_time()
        summary = prelabel.run(sop, items, Path(out) / "run", client=fake.async_client(), mask=mask,
                               concurrency=64)  # fmt: skip
        elapsed = time.process_time() - started
    assert summary.counts["total"] == len(items)
    if mask:
        assert summary.masking is not None and summary.masking["items"] > 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    items = make_items(args.items)
    sop = prelabel.SOP.model_validate({**SOP.model_dump(), "privacy": PATTERN})
    policy = masking.mask_policy(sop, MASK)
    alone = mask_alone(items, policy)
    label_once(items[:200], sop, MASK)  # warm up: imports, the answer model, the fake's templates
    plain: list[float] = []
    masked: list[float] = []
    for _ in range(args.rounds):
        plain.append(label_once(items, SOP, ()))
        masked.append(label_once(items, sop, MASK))
    best_plain, best_masked = min(plain), min(masked)
    per_item = 1e3 * (best_masked - best_plain) / len(items)
    print(f"(b) prelabel.run over {len(items)} items, fake model, no latency, CPU (best of {args.rounds}):")
    print(f"    without masking: {best_plain:.2f} s ({1e3 * best_plain / len(items):.2f} ms per item)")
    print(f"    with masking:    {best_masked:.2f} s ({1e3 * best_masked / len(items):.2f} ms per item)")
    ratio = best_masked / best_plain
    print(f"    ratio masked / unmasked: {ratio:.3f}; masking adds {per_item:.3f} ms per item")
    print(f"    (a) against the unmasked run's CPU per item: {alone / (best_plain / len(items)):.3f}")


if __name__ == "__main__":
    main()
