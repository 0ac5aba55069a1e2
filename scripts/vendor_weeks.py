"""Write examples/vendor_weeks/week{1,2,3}.csv: three weekly batches of simulated vendor labels for the
customer_feedback_intent SOP, the example of docs/guides/vendor-qa.md and of the quickstart notebook.

Two vendors in two markets; every item is labeled by three of six agents, and about a third of the items
carry a gold annotation by the QA lead (``gold`` true). Known skills: ana, chloe, dev and eli answer right
about 92 % of the time (a wrong answer is another leaf at random); ben too, until week 3, when he falls to
50 %; spam
answers at random in about two seconds. Seeded: rerunning writes the same files.

    python scripts/vendor_weeks.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import prelabel

OUT = Path(__file__).resolve().parents[1] / "examples" / "vendor_weeks"
AGENTS = {  # name: (vendor, market, accuracy per week; None: answers at random)
    "ana": ("acme", "de", (0.92, 0.92, 0.92)),
    "ben": ("acme", "de", (0.92, 0.92, 0.5)),
    "chloe": ("acme", "fr", (0.92, 0.92, 0.92)),
    "dev": ("bpo-two", "fr", (0.92, 0.92, 0.92)),
    "eli": ("bpo-two", "de", (0.92, 0.92, 0.92)),
    "spam": ("bpo-two", "fr", (None, None, None)),
}
ITEMS = 160
GOLD_SHARE = 0.35


def week(rng: np.random.Generator, index: int, labels: list[str]) -> pd.DataFrame:
    """One week's labels: three votes per item, gold rows for about a third of the items."""
    rows = []
    start = pd.Timestamp("2026-11-02T08:00:00Z") + pd.Timedelta(days=7 * index)
    for i in range(ITEMS):
        item = f"w{index + 1}-{i:03d}"
        true = labels[int(rng.integers(len(labels)))]
        for name in rng.choice(list(AGENTS), size=3, replace=False):
            vendor, market, skills = AGENTS[name]
            skill = skills[index]
            if skill is None or rng.random() >= skill:
                given = labels[int(rng.integers(len(labels)))] if skill is None else true
                while skill is not None and given == true:
                    given = labels[int(rng.integers(len(labels)))]
            else:
                given = true
            seconds = round(float(rng.uniform(1, 3) if name == "spam" else rng.uniform(15, 60)), 1)
            when = start + pd.Timedelta(minutes=i)
            rows.append((item, name, given, "", seconds, when.isoformat(), vendor, market))
        if rng.random() < GOLD_SHARE:
            rows.append((item, "qa.lead", true, "true", "", "", "", ""))
    columns = ["item_id", "annotator", "label", "gold", "lead_time", "created_at", "vendor", "market"]
    return pd.DataFrame(rows, columns=columns)


def main() -> None:
    """Write the three weeks."""
    sop = prelabel.bundled_sop("customer_feedback_intent")
    labels = [label for label in sop.answer_ids if label != sop.abstain.label]
    rng = np.random.default_rng(2026)
    OUT.mkdir(parents=True, exist_ok=True)
    for index in range(3):
        week(rng, index, labels).to_csv(OUT / f"week{index + 1}.csv", index=False)


if __name__ == "__main__":
    main()
