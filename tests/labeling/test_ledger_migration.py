"""RUN_DIRs written by prelabel 0.1.0 (whole-item hashes in ledger schema 3) resume without sending anything.

``tests/data/run_dir_0.1.0/`` was made by 0.1.0's own code (``make_fixture.py`` there): ``online/`` is a
finished run, ``batch/`` a Batch API batch submitted and not collected yet. Each test works on a copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import openai
import pytest

import prelabel
from helpers import fast_retry
from prelabel.inputs.digest import is_item_digest
from prelabel.labeling.ledger import MIGRATIONS
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord
from prelabel.testing.fake_batch import BATCH_HEADER

FIXTURE = Path(__file__).parents[1] / "data" / "run_dir_0.1.0"
SOP, ITEMS = FIXTURE / "sop.yaml", FIXTURE / "items.jsonl"
OPTIONS: dict[str, Any] = {"model": "gpt-4o-mini", "api_key": "sk-test", "retry": fast_retry(2)}


def by_text(request: RequestRecord) -> Reply:
    text = request.item_text or ""
    return Reply.answer(text.split("label=", 1)[1].split()[0] if "label=" in text else None)


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE / name, tmp_path / name))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_items(tmp_path: Path, items: list[dict[str, Any]]) -> Path:
    """The items as a JSONL file (a bad row's reason names its line, as in the fixture's run)."""
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def stored(run_dir: Path) -> tuple[int, list[tuple[str | None, str]]]:
    with sqlite3.connect(run_dir / "run.db") as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        rows = db.execute("SELECT item_id, input_hash FROM items ORDER BY position").fetchall()
    return version, rows


def test_the_fixture_is_what_0_1_0_wrote() -> None:
    version, rows = stored(FIXTURE / "online")
    assert version == 3 and len(rows) == 6 and not any(is_item_digest(digest) for _, digest in rows)
    assert json.loads((FIXTURE / "online" / "run.json").read_text())["prelabel_version"] == "0.1.0"


@pytest.mark.parametrize("retry_errors", [True, False])
def test_an_online_run_of_0_1_0_resumes_without_sending_anything(tmp_path: Path, retry_errors: bool) -> None:
    out = copy("online", tmp_path)
    before = (out / "labels.jsonl").read_text(encoding="utf-8")
    with FakeServer(FakeModel(default=by_text)) as server:
        summary = prelabel.run(SOP, ITEMS, out, base_url=server.url, retry_errors=retry_errors, **OPTIONS)
        assert server.model.requests == []
    after = (out / "labels.jsonl").read_text(encoding="utf-8")
    if retry_errors:  # the bad row is recorded again (no request): the same line but for its latency
        old, new = lines(out / "labels.jsonl"), [json.loads(line) for line in before.splitlines()]
        assert [{**line, "latency_s": 0} for line in old] == [{**line, "latency_s": 0} for line in new]
        assert [line for line in old if line["status"] != "error"] == [
            line for line in new if line["status"] != "error"
        ]
    else:
        assert after == before
    assert summary.labeled_now == (1 if retry_errors else 0) and summary.counts["ok"] == 4
    version, rows = stored(out)  # migrated: every row now holds the one item digest
    assert version == len(MIGRATIONS) and all(is_item_digest(digest) for _, digest in rows)


def test_after_the_migration_a_meta_only_change_is_not_labeled_again(tmp_path: Path) -> None:
    out = copy("online", tmp_path)
    first = FakeModel(default=by_text)
    prelabel.run(SOP, ITEMS, out, client=first.async_client(), **OPTIONS)
    assert first.requests == []
    items = [json.loads(line) for line in ITEMS.read_text(encoding="utf-8").splitlines()]
    items[0]["meta"] = {"market": "VN"}
    items[2]["market"] = "MY"  # another column: meta too
    items[4]["text"] = "the mug arrived in pieces label=product.damaged"
    fake = FakeModel(default=by_text)
    changed = write_items(tmp_path, items)
    summary = prelabel.run(SOP, changed, out, client=fake.async_client(), retry_errors=False, **OPTIONS)
    assert [r.item_text for r in fake.requests] == [items[4]["text"]] and summary.resumed == 5
    assert [line["label"] for line in lines(out / "labels.jsonl")][4] == "product.damaged"


def test_a_changed_item_in_a_0_1_0_run_is_labeled_again(tmp_path: Path) -> None:
    out = copy("online", tmp_path)
    items = [json.loads(line) for line in ITEMS.read_text(encoding="utf-8").splitlines()]
    items[1]["text"] = "the glass arrived whole label=praise_other.praise"
    fake = FakeModel(default=by_text)
    changed = write_items(tmp_path, items)
    prelabel.run(SOP, changed, out, client=fake.async_client(), retry_errors=False, **OPTIONS)
    assert [r.item_text for r in fake.requests] == [items[1]["text"]]
    assert lines(out / "labels.jsonl")[1]["label"] == "praise_other.praise"


def test_a_batch_submitted_by_0_1_0_is_collected_without_sending_anything_online(tmp_path: Path) -> None:
    out = copy("batch", tmp_path)
    fake = FakeModel(default=by_text)
    with FakeServer(fake) as server:  # the batch API as 0.1.0 left it: the request file uploaded, a batch
        api = openai.OpenAI(base_url=server.url, api_key="sk-test")
        with (out / "batch" / "requests-001.jsonl").open("rb") as requests:
            uploaded = api.files.create(file=requests, purpose="batch")
        made = api.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        shown = prelabel.batch_status(out, api_key="sk-test", base_url=server.url)
        assert shown.batches[0].batch_id == made.id
        done = prelabel.collect_batch(out, sop=SOP, items=ITEMS, base_url=server.url, **OPTIONS)
    assert (done.answered, done.sent_online) == (5, 0)
    assert [r for r in fake.requests if BATCH_HEADER not in r.headers] == []
    expected = lines(FIXTURE / "batch_collected_labels.jsonl")  # what 0.1.0 wrote when it collected it
    got = lines(out / "labels.jsonl")
    assert [{**line, "latency_s": 0} for line in got] == [{**line, "latency_s": 0} for line in expected]
    assert all(is_item_digest(digest) for _, digest in stored(out)[1])
