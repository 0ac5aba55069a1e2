"""Labeling on Ray Data: a local Ray cluster (2 CPUs) against the loopback server labels 20,000 items exactly
once despite an actor killed mid-run, and the answers equal a single-process ``prelabel run``'s."""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import ray
import ray.data

import prelabel
from prelabel.integrations.ray import ANSWER_COLUMNS, BLOCKS, label
from prelabel.labeling.result import LabelResult
from prelabel.testing import FakeModel, FakeServer, Reply
from prelabel.testing._replies import RequestRecord

SOP = prelabel.bundled_sop_path("customer_feedback_intent")
LEAVES = sorted(prelabel.bundled_sop("customer_feedback_intent").leaf_ids)
N = 20_000
CONCURRENCY = 8


def answer(record: RequestRecord) -> Reply:
    """A label and confidence that depend on the item's text only, as a deterministic model's would."""
    text = record.item_text or ""
    if "broken-item" in text:
        return Reply.raw("not json at all")  # an error record after the re-asks, as in prelabel run
    h = zlib.crc32(text.encode())
    return Reply.answer(LEAVES[h % len(LEAVES)], confidence=round(0.5 + (h % 50) / 100, 2))


class CountingModel(FakeModel):
    """The fake model, counting requests instead of keeping them (20,000 request bodies hold ~1.5 GB)."""

    def __init__(self) -> None:
        super().__init__(default=answer)
        self.count = 0

    def next_reply(self, record: RequestRecord) -> Reply:
        with self._lock:
            self.count += 1
        return answer(record)


class KillOnce:
    """A result sink factory that ends the actor's process once (while ``marker`` exists), ``after``
    results into a batch: what an OOM kill or a lost node does to a Ray actor mid-run."""

    def __init__(self, marker: Path, after: int) -> None:
        self.marker, self.after = marker, after

    def __call__(self, out: Path) -> KillOnce:
        self.seen = 0
        return self

    def write(self, index: int, result: LabelResult) -> None:
        self.seen += 1
        if self.seen == self.after and self.marker.exists():
            self.marker.unlink()
            os._exit(1)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=150 * 1024 * 1024,
        runtime_env={"env_vars": {"PRELABEL_CACHE_DIR": os.environ.get("PRELABEL_CACHE_DIR", "")}},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def items(n: int) -> list[dict[str, str]]:
    texts = ["where is my parcel", "arrived broken", "charged twice", "fake logo", "great shop"]
    return [
        {"id": f"i{k:05d}", "text": "broken-item" if k % 997 == 5 else f"{texts[k % 5]} #{k}", "market": "id"}
        for k in range(n)
    ]


def test_ray_job_labels_every_item_exactly_once_despite_a_killed_actor(tmp_path: Path, cluster: None) -> None:
    rows = items(N)
    fake = CountingModel()
    marker = tmp_path / "kill-once"
    marker.touch()
    with FakeServer(fake) as server:
        options = prelabel.LabelOptions(
            model="gpt-4o-mini", base_url=server.url, api_key="k", concurrency=CONCURRENCY, max_reasks=0
        )
        ds = ray.data.from_items(rows, override_num_blocks=8)
        out = label(ds, SOP, options, out_dir=tmp_path / "ray", batch_size=2500, sink=KillOnce(marker, 300))
        got = out.to_pandas()
    ray_requests = fake.count
    # the single-process run, with the same deterministic model answering in-process
    prelabel.run(SOP, rows, tmp_path / "single", options, client=CountingModel().async_client())
    assert not marker.exists(), "the actor was never killed: the test proves nothing"
    assert len(got) == N and got["id"].is_unique and set(got["id"]) == {r["id"] for r in rows}
    # one result per item: the killed batch resumed from its ledger; only requests in flight were repeated
    assert N <= ray_requests <= N + CONCURRENCY
    assert len(list((tmp_path / "ray" / BLOCKS).iterdir())) == -(-N // 2500)
    lines = (tmp_path / "single" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    single = pd.DataFrame([json.loads(line) for line in lines]).set_index("item_id")  # floats exactly
    got = got.set_index("id").loc[single.index]
    assert (got["market"] == "id").all()  # the dataset's own columns are kept
    for column in ("status", "label", "confidence", "rationale"):
        left, right = got[column].astype(object), single[column].astype(object)
        assert left.where(left.notna(), None).tolist() == right.where(right.notna(), None).tolist(), column
    errors = got[got["status"] == "error"]
    assert len(errors) == len([r for r in rows if r["text"] == "broken-item"]) > 0
    assert set(errors["error_type"]) == {t["type"] for t in single["error"].dropna()}
    assert set(ANSWER_COLUMNS) <= set(got.columns) | {"id"}


def test_rerun_on_the_same_out_dir_resumes_without_requests(tmp_path: Path, cluster: None) -> None:
    rows = items(300)
    fake = FakeModel(default=answer)
    with FakeServer(fake) as server:
        options = prelabel.LabelOptions(model="gpt-4o-mini", base_url=server.url, api_key="k", max_reasks=0)
        first = label(ray.data.from_items(rows), SOP, options, out_dir=tmp_path / "o", batch_size=100)
        first_rows = first.to_pandas()
        before = len(fake.requests)
        again = label(ray.data.from_items(rows), SOP, options, out_dir=tmp_path / "o", batch_size=100)
        again_rows = again.to_pandas()
    errors = sum(r["text"] == "broken-item" for r in rows)
    # every answer came from the batches' ledgers; error records are retried, as a rerun of prelabel run does
    assert errors and before == 300 and len(fake.requests) == before + errors
    assert (again_rows["status"] == "error").sum() == errors
    first_rows, again_rows = (f.sort_values("id").reset_index(drop=True) for f in (first_rows, again_rows))
    pd.testing.assert_frame_equal(first_rows, again_rows)


def test_bad_arguments_are_input_errors(tmp_path: Path, cluster: None) -> None:
    ds = ray.data.from_items([{"id": "a", "text": "x", "label": "y"}])
    with pytest.raises(prelabel.InputError, match="already has answer column"):
        label(ds, SOP, out_dir=tmp_path, model="gpt-4o-mini")
    with pytest.raises(prelabel.InputError, match="at least 1"):
        label(ds, SOP, out_dir=tmp_path, actors=0, model="gpt-4o-mini")
