"""``RunDir`` and the sources ``run.json`` records: one writer (absolute paths), one reader, one message.

Before issue 19, ``prelabel run`` recorded paths as typed and ``--batch-api`` resolved ones, and ``export``
and ``gaps`` read them with different rules and messages.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import prelabel
from prelabel.labeling.ledger import Ledger
from prelabel.runs.run_dir import RunDir
from prelabel.runs.sources import RunSources, recorded
from prelabel.testing import FakeModel, Reply

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
ITEMS = [{"id": "a", "text": "where is my parcel"}, {"id": "b", "text": "the mug is broken"}]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path/project`` with ``sop.yaml`` and ``items.jsonl``, the current directory."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(SOP_PATH, root / "sop.yaml")
    (root / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def test_run_json_records_absolute_sources_that_work_from_any_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prelabel.run("sop.yaml", "items.jsonl", "runs/a", client=FakeModel().async_client())  # typed relative
    info = json.loads((project / "runs" / "a" / "run.json").read_text(encoding="utf-8"))
    assert info["sop"]["path"] == str((project / "sop.yaml").resolve())
    assert info["items_source"] == str((project / "items.jsonl").resolve())
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run_dir = project / "runs" / "a"
    summary = prelabel.export(run_dir, "label-studio", "tasks.json")  # needs the SOP and the items
    assert summary.n_exported == len(ITEMS)
    fake = FakeModel()
    assert prelabel.find_gaps(run_dir, client=fake.async_client()).considered == {} and fake.requests == []


def test_a_batch_job_records_its_sources_by_the_same_rule(project: Path) -> None:
    client = FakeModel().async_client()
    prelabel.submit_batch("sop.yaml", "items.jsonl", "runs/b", client=client)
    with Ledger.open(project / "runs" / "b", None) as ledger:
        job = ledger.batches()[0].job
    assert (job["sop"], job["items"]) == (recorded("sop.yaml"), recorded("items.jsonl"))
    assert Path(job["items"]).is_absolute()


def test_a_run_from_python_objects_records_no_path(tmp_path: Path) -> None:
    sop = prelabel.load_sop(SOP_PATH)
    prelabel.run(sop, ITEMS, tmp_path / "run", client=FakeModel().async_client())
    info = RunDir(tmp_path / "run").read_info()
    assert info is not None and info["sop"]["path"] is None and info["items_source"] == "<list>"
    sources = RunSources.of(tmp_path / "run")
    assert (sources.sop, sources.items) == (None, None)
    with pytest.raises(prelabel.InputError, match=r"run\.json names no readable items file; pass the items"):
        sources.items_file()


def _old_run(project: Path) -> Path:
    """A RUN_DIR whose run.json holds paths as typed (what ``prelabel run`` wrote before issue 19)."""
    run_dir = project / "old"
    prelabel.run("sop.yaml", "items.jsonl", run_dir, client=FakeModel().async_client())
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    info["sop"]["path"], info["items_source"] = "sop.yaml", "items.jsonl"
    (run_dir / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return run_dir


def test_an_old_run_json_with_relative_paths_is_read_against_the_current_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _old_run(project)
    assert RunSources.of(run_dir).items == project / "items.jsonl"
    assert prelabel.export(run_dir, "label-studio", "tasks.json").n_exported == len(ITEMS)
    monkeypatch.chdir(project.parent)  # the relative paths now name nothing: export and gaps say the same
    missing = project.parent / "sop.yaml"
    expected = (
        f"{run_dir}: run.json names no readable SOP file ({missing} is not there); pass the SOP with --sop"
    )
    with pytest.raises(prelabel.InputError) as from_export:
        prelabel.export(run_dir, "label-studio", "tasks.json")
    with pytest.raises(prelabel.InputError) as from_gaps:
        prelabel.find_gaps(run_dir)
    assert str(from_export.value) == str(from_gaps.value) == expected


def test_a_missing_file_given_instead_is_named_with_its_flag(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prelabel.run("sop.yaml", "items.jsonl", "run", client=FakeModel().async_client())
    expected = "nope.jsonl: no such items file (given with --items)"
    with pytest.raises(prelabel.InputError) as from_export:
        prelabel.export("run", "label-studio", "tasks.json", items="nope.jsonl")
    with pytest.raises(prelabel.InputError) as from_gaps:
        prelabel.find_gaps("run", items="nope.jsonl")
    assert str(from_export.value) == str(from_gaps.value) == expected


def test_labels_jsonl_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.write_labels(['{"item_id": "a"}', '{"item_id": "b"}']) == 2
    assert run.labels.read_text(encoding="utf-8") == '{"item_id": "a"}\n{"item_id": "b"}\n'

    def cut_short() -> Iterator[str]:
        yield '{"item_id": "c"}'
        raise OSError("disk gone")

    with pytest.raises(prelabel.OutputError, match=r"cannot write .*labels\.jsonl: disk gone"):
        run.write_labels(cut_short())
    assert run.labels.read_text(encoding="utf-8") == '{"item_id": "a"}\n{"item_id": "b"}\n'  # as it was
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_run_json_reading_and_the_lock(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.read_info() is None
    run.info.write_text("[1]", encoding="utf-8")
    with pytest.raises(prelabel.InputError, match=r"run\.json: expected a JSON object"):
        run.read_info()
    held = run.lock()
    with pytest.raises(prelabel.InputError, match="another prelabel process"):
        run.lock()
    held.release()
    run.lock().release()
    assert RunDir.of(run.labels).path == tmp_path and RunDir.of(tmp_path).path == tmp_path


def test_a_restart_puts_every_run_file_aside_and_back(tmp_path: Path) -> None:
    """``--restart`` with an unreachable endpoint puts the earlier run back, file for file."""
    out = tmp_path / "run"
    prelabel.run(SOP_PATH, ITEMS, out, client=FakeModel(default=Reply.answer()).async_client())
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name in RunDir.run_files()}
    assert {RunDir.LABELS, RunDir.INFO, RunDir.DB} <= set(before)
    refused = FakeModel(default=Reply.error(401, "bad key")).async_client()
    with pytest.raises(prelabel.EndpointError):
        prelabel.run(SOP_PATH, ITEMS, out, client=refused, restart=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before
    assert not RunDir(out).aside.exists()
