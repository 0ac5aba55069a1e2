"""The run ledger: resume without re-sending, refusal of a foreign RUN_DIR, one process at a time, migrations.

Each promise about `prelabel run` on an existing RUN_DIR (docs/promises.md) names one of these tests.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry
from prelabel.labeling.ledger import MIGRATIONS, Ledger
from prelabel.runs import run_dir as run_dir_module
from prelabel.runs.run_dir import RunDir
from prelabel.testing import FakeModel, Reply

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
ITEMS = [{"id": f"i{n}", "text": f"parcel {n} never arrived"} for n in range(6)]


def labels(run_dir: Path) -> list[dict[str, object]]:
    text = (run_dir / "labels.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def run(
    run_dir: Path, fake: FakeModel, items: Sequence[Mapping[str, Any]] = ITEMS, **options: object
) -> prelabel.RunSummary:
    return prelabel.run(
        SOP_PATH, items, run_dir, client=fake.async_client(), retry=fast_retry(2), max_reasks=0, **options
    )


def asked_ids(fake: FakeModel) -> list[str]:
    """The item ids the fake was asked about (each prompt carries the item's text)."""
    asked = []
    for record in fake.requests:
        user = record.body["messages"][-1]["content"]
        asked += [item["id"] for item in ITEMS if item["text"] in str(user)]
    return asked


def test_a_rerun_sends_nothing_for_finished_items(tmp_path: Path) -> None:
    first = FakeModel()
    summary = run(tmp_path, first)
    assert summary.counts["ok"] == 6 and summary.labeled_now == 6 and summary.resumed == 0
    again = FakeModel()
    summary = run(tmp_path, again)
    assert again.requests == []
    assert summary.resumed == 6 and summary.labeled_now == 0 and summary.counts["total"] == 6
    assert [line["item_id"] for line in labels(tmp_path)] == [item["id"] for item in ITEMS]


def test_error_items_are_retried_unless_told_not_to(tmp_path: Path) -> None:
    broken = FakeModel([Reply.raw("not json")] * 1, default=Reply.answer())  # the first item fails
    run(tmp_path, broken, concurrency=1)
    assert [line["status"] for line in labels(tmp_path)].count("error") == 1
    kept = FakeModel()
    run(tmp_path, kept, retry_errors=False)
    assert kept.requests == []
    fixed = FakeModel()
    summary = run(tmp_path, fixed)
    assert len(fixed.requests) == 1 and summary.counts["error"] == 0


def test_a_changed_item_is_labeled_again_and_a_shorter_input_drops_the_tail(tmp_path: Path) -> None:
    run(tmp_path, FakeModel())
    changed = [dict(item) for item in ITEMS[:4]]
    changed[2]["text"] = "the mug arrived in pieces"
    fake = FakeModel()
    summary = run(tmp_path, fake, items=changed)
    assert len(fake.requests) == 1 and "mug" in str(fake.requests[0].body["messages"][-1]["content"])
    assert summary.counts["total"] == 4
    assert [line["item_id"] for line in labels(tmp_path)] == ["i0", "i1", "i2", "i3"]


def test_a_rerun_says_exactly_what_it_kept_what_changed_and_what_left_the_input(tmp_path: Path) -> None:
    """Issue 21: one item changed and two dropped were counted as kept. Now: kept, sent again because it
    changed, and set aside (not in this input: its paid answer stays in run.db)."""
    run(tmp_path, FakeModel())
    changed = [dict(item) for item in ITEMS[:4]]
    changed[2]["text"] = "the mug arrived in pieces"
    fake = FakeModel()
    summary = run(tmp_path, fake, items=changed)
    assert (summary.resumed, summary.changed, summary.labeled_now, summary.set_aside) == (3, 1, 1, 2)
    assert summary.counts["total"] == 4 and [line["item_id"] for line in labels(tmp_path)] == [
        "i0", "i1", "i2", "i3"
    ]  # fmt: skip
    again = run(tmp_path, FakeModel(), items=changed)  # nothing changed since
    assert (again.resumed, again.changed, again.set_aside) == (4, 0, 2)


def test_answers_of_items_dropped_from_the_input_are_not_bought_again(tmp_path: Path) -> None:
    """A shorter input, then the full one again: the dropped items' answers come back from run.db, and so
    does the answer to an item's earlier text when the text changes back; tokens are counted once."""
    first = run(tmp_path, FakeModel())
    before = labels(tmp_path)
    changed = [dict(item) for item in ITEMS[:3]]
    changed[1]["text"] = "the mug arrived in pieces"
    fake = FakeModel()
    shorter = run(tmp_path, fake, items=changed)
    assert len(fake.requests) == 1 and shorter.set_aside == 3 and len(labels(tmp_path)) == 3
    fake = FakeModel()
    full = run(tmp_path, fake)
    assert fake.requests == [] and (full.resumed, full.changed, full.set_aside) == (6, 0, 0)
    assert labels(tmp_path) == before  # the very answers first bought, in input order
    # run.json counts what the RUN_DIR paid for: 6 answers, then 1; nothing twice, nothing lost
    assert shorter.usage.prompt_tokens > first.usage.prompt_tokens and full.usage == shorter.usage


def test_a_shifted_input_is_not_labeled_again(tmp_path: Path) -> None:
    """An item removed from the top (or one inserted) shifts every position: answers follow their items."""
    run(tmp_path, FakeModel())
    fake = FakeModel()
    summary = run(tmp_path, fake, items=ITEMS[1:])
    assert fake.requests == [] and summary.resumed == 5 and summary.set_aside == 1
    assert [line["item_id"] for line in labels(tmp_path)] == [item["id"] for item in ITEMS[1:]]
    new = {"id": "new", "text": "a parcel that is new"}
    fake = FakeModel()
    summary = run(tmp_path, fake, items=[new, *ITEMS])
    assert len(fake.requests) == 1 and summary.resumed == 6 and summary.set_aside == 0
    assert [line["item_id"] for line in labels(tmp_path)] == ["new", *(item["id"] for item in ITEMS)]


def test_a_meta_only_change_is_not_labeled_again_but_a_new_text_or_id_is(tmp_path: Path) -> None:
    run(tmp_path, FakeModel(), items=[{**item, "meta": {"batch": 1}} for item in ITEMS])
    # meta (and a CSV's other columns) never reach the prompt: the answers stand
    moved: list[dict[str, Any]] = [{**item, "meta": {"batch": 2}, "market": "TH"} for item in ITEMS]
    fake = FakeModel()
    summary = run(tmp_path, fake, items=moved)
    assert fake.requests == [] and summary.resumed == 6
    moved[1]["id"] = "renamed"  # labels.jsonl must name it: asked again
    moved[4]["text"] = "the mug arrived in pieces"
    fake = FakeModel()
    summary = run(tmp_path, fake, items=moved)
    assert len(fake.requests) == 2 and summary.labeled_now == 2 and summary.resumed == 4
    assert [line["item_id"] for line in labels(tmp_path)] == ["i0", "renamed", "i2", "i3", "i4", "i5"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"model": "gpt-4.1-mini"}, "model"),
        ({"rationale_language": "th"}, "rationale_language"),
    ],
)
def test_a_run_dir_made_with_other_settings_is_refused(
    tmp_path: Path, change: dict[str, str], named: str
) -> None:
    run(tmp_path, FakeModel(), model="gpt-4o-mini")
    fake = FakeModel()
    with pytest.raises(prelabel.InputError, match=rf"other settings \({named}: .*--restart") as caught:
        run(tmp_path, fake, **{"model": "gpt-4o-mini", **change})
    assert "\n" not in str(caught.value) and fake.requests == []
    summary = run(tmp_path, fake, restart=True, **{"model": "gpt-4o-mini", **change})  # fresh start
    assert summary.labeled_now == 6


def test_a_changed_sop_is_refused(tmp_path: Path) -> None:
    sop = tmp_path / "sop.yaml"
    sop.write_text(SOP_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "run"
    prelabel.run(sop, ITEMS, out, client=FakeModel().async_client())
    sop.write_text(sop.read_text(encoding="utf-8").replace("version: ", "version: 9", 1), encoding="utf-8")
    with pytest.raises(prelabel.InputError, match="sop_sha256"):
        prelabel.run(sop, ITEMS, out, client=FakeModel().async_client())


def test_a_second_process_on_the_same_run_dir_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, {"model": "m"}):
        with pytest.raises(prelabel.InputError, match="another prelabel process is using"):
            Ledger.open(tmp_path, {"model": "m"})
        fake = FakeModel()
        with pytest.raises(prelabel.InputError, match="another prelabel process"):
            run(tmp_path, fake)
        assert fake.requests == []
    with Ledger.open(tmp_path, {"model": "m"}) as ledger:  # released on close
        assert ledger.integrity() == "ok"


def test_an_unwritable_or_full_run_dir_fails_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(out: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_dir_module, "probe_writable", full)
    fake = FakeModel()
    with pytest.raises(prelabel.InputError, match=r"cannot write the run directory \(the disk is full"):
        run(tmp_path / "run", fake)
    assert fake.requests == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(prelabel.InputError, match="exists and is not a directory"):
        run(blocker, fake)


def test_migrations_upgrade_an_old_ledger_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    old = sqlite3.connect(RunDir(tmp_path).db, isolation_level=None)
    old.executescript(MIGRATIONS[0])
    old.execute("PRAGMA user_version = 1")
    old.close()
    with Ledger.open(tmp_path, {"model": "m"}) as ledger:
        assert ledger.schema_version == len(MIGRATIONS)
        tables = {row[0] for row in ledger._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "items", "batches"} <= tables
    newer = sqlite3.connect(RunDir(tmp_path).db, isolation_level=None)
    newer.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    newer.close()
    with pytest.raises(prelabel.InputError, match="newer prelabel"):
        Ledger.open(tmp_path, {"model": "m"})


def test_bad_rows_are_kept_as_error_records_in_order(tmp_path: Path) -> None:
    items: list[dict[str, str]] = [ITEMS[0], {"text": "no id"}, ITEMS[1], ITEMS[1]]
    summary = run(tmp_path, FakeModel(), items=items)
    statuses = [(line["item_id"], line["status"]) for line in labels(tmp_path)]
    assert len(statuses) == 4 and statuses[0] == ("i0", "ok") and statuses[1][1] == "error"
    assert summary.counts == {"total": 4, "ok": 2, "abstained": 0, "error": 2}
