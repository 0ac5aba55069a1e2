"""Make this fixture with prelabel 0.1.0 (the release before the one item digest), with that release's code:

    PYTHONPATH=/path/to/prelabel-0.1.0/src python tests/data/run_dir_0.1.0/make_fixture.py

``online/`` is a RUN_DIR that ``prelabel run`` finished against the loopback FakeServer; ``batch/`` a RUN_DIR
holding a Batch API batch submitted but not collected yet (its request file is in ``batch/batch/``), and
``batch_collected_labels.jsonl`` what 0.1.0 made of it once collected. Both labeled ``items.jsonl`` under
``sop.yaml`` (a copy of the bundled customer_feedback_intent SOP) with gpt-4o-mini; the fake answers the label
named after ``label=`` in an item's text.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import prelabel
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

HERE = Path(__file__).resolve().parent
SOP, ITEMS = "sop.yaml", "items.jsonl"  # relative: run.json names them as given, not where they were made


def by_text(request: RequestRecord) -> Reply:
    text = request.item_text or ""
    return Reply.answer(text.split("label=", 1)[1].split()[0] if "label=" in text else None)


def main() -> None:
    assert prelabel.__version__ == "0.1.0", prelabel.__version__
    os.chdir(HERE)
    for name in ("online", "batch", "batch_collected"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    options = {"model": "gpt-4o-mini", "api_key": "sk-test", "concurrency": 1}
    with FakeServer(FakeModel(default=by_text)) as server:
        prelabel.run(SOP, ITEMS, "online", base_url=server.url, **options)
    with FakeServer(FakeModel(default=by_text)) as server:
        prelabel.submit_batch(SOP, ITEMS, "batch", base_url=server.url,
                              **options)  # fmt: skip
        shutil.copytree(HERE / "batch", HERE / "batch_collected")
        prelabel.collect_batch(HERE / "batch_collected", api_key="sk-test", base_url=server.url)
    shutil.copy(HERE / "batch_collected" / "labels.jsonl", HERE / "batch_collected_labels.jsonl")
    shutil.rmtree(HERE / "batch_collected")
    for lock in HERE.glob("*/.lock"):  # made again by whoever opens the ledger
        lock.unlink()
    print(f"made with prelabel {prelabel.__version__} from {prelabel.__file__}", file=sys.stderr)


if __name__ == "__main__":
    main()
