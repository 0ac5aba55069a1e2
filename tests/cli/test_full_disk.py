"""A full disk (issue 21, item 6): exit 2 and one line naming the file, ``run.json`` marked aborted when it
still fits, no half-written file left, the earlier output whole, and the same command completes once there is
room again. The disk fills at chosen points: mid ``labels.jsonl``, mid export, the ledger's commit."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest

import prelabel
from helpers import full_disk, run_cli
from prelabel.labeling.ledger import Ledger
from prelabel.testing import FakeModel, FakeServer

Capture = pytest.CaptureFixture[str]
SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))
NO_ROOM = "no space left on device writing {path}; free space and rerun the same command"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-full-disk-test")


def items_file(tmp_path: Path, n: int, name: str = "items.jsonl") -> Path:
    path = tmp_path / name
    rows = [json.dumps({"id": f"i{k}", "text": f"order {k} never arrived, where is it?"}) for k in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run(capsys: Capture, server: FakeServer, items: Path, out: Path) -> tuple[int, str, str]:
    return run_cli(capsys, "run", SOP, str(items), "-o", str(out), "--base-url", server.url)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def test_a_full_disk_mid_labels_jsonl_keeps_the_earlier_file_and_the_rerun_completes(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer, fake: FakeModel
) -> None:
    out = tmp_path / "run"
    assert run(capsys, server, items_file(tmp_path, 3), out)[0] == 0
    before = (out / "labels.jsonl").read_bytes()
    more = items_file(tmp_path, 5, "more.jsonl")
    with monkeypatch.context() as disk:
        full_disk(disk, "labels.jsonl", room=100)  # the disk fills after the first 100 characters
        code, stdout, stderr = run(capsys, server, more, out)
    assert code == 2, stderr
    kept = f"5 finished items are kept in {out / 'run.db'}"
    *notes, last = stderr.splitlines()  # the rerun's note on what it resumes, then the one error line
    assert last == f"error: {NO_ROOM.format(path=out / 'labels.jsonl')}: {kept}"
    assert [line[:9] for line in notes] == ["resuming "] and stdout == ""
    assert (out / "labels.jsonl").read_bytes() == before  # whole, the earlier run's
    assert leftovers(out) == []
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "aborted" and info["error"].startswith("no space left on device writing")
    assert len(fake.requests) == 5  # the 2 new items were labeled, and stay in the ledger
    code, stdout, stderr = run(capsys, server, more, out)
    assert code == 0, stderr
    assert "labeled 5 items (5 already done, not sent again)" in stdout
    assert len((out / "labels.jsonl").read_text(encoding="utf-8").splitlines()) == 5
    assert len(fake.requests) == 5  # nothing sent again


def test_a_disk_too_full_for_run_json_too_leaves_both_files_as_they_were(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer
) -> None:
    out = tmp_path / "run"
    assert run(capsys, server, items_file(tmp_path, 2), out)[0] == 0
    before = {name: (out / name).read_bytes() for name in ("labels.jsonl", "run.json")}
    with monkeypatch.context() as disk:
        full_disk(disk, "labels.jsonl", "run.json")
        code, _, stderr = run(capsys, server, items_file(tmp_path, 4, "more.jsonl"), out)
    assert code == 2 and len(stderr.splitlines()) == 2, stderr  # the resume note, the error
    error = f"error: {NO_ROOM.format(path=out / 'labels.jsonl')}: 4 finished items are kept"
    assert stderr.splitlines()[1].startswith(error)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert leftovers(out) == []


def test_a_full_disk_when_the_ledger_commits_a_result(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer, fake: FakeModel
) -> None:
    """SQLite reports a full disk (SQLITE_FULL: here the database may not grow past a few pages)."""
    opened = Ledger._prepare

    def small_disk(self: Ledger) -> None:
        opened(self)
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count = {pages + 3}")

    out, items = tmp_path / "run", items_file(tmp_path, 60)
    with monkeypatch.context() as disk:
        disk.setattr(Ledger, "_prepare", small_disk)
        code, _, stderr = run(capsys, server, items, out)
    assert code == 2, stderr
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    kept = info["counts"]["ok"]
    assert 0 < kept < 60 and info["status"] == "aborted"
    db = out / "run.db"
    assert stderr == f"error: {NO_ROOM.format(path=db)}: {kept} finished items are kept in {db}\n"
    assert len((out / "labels.jsonl").read_text(encoding="utf-8").splitlines()) == kept
    assert leftovers(out) == []
    with sqlite3.connect(db) as ledger:
        assert ledger.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    sent = len(fake.requests)
    code, stdout, stderr = run(capsys, server, items, out)
    assert code == 0, stderr
    assert f"({kept} already done, not sent again)" in stdout
    assert len(fake.requests) - sent == 60 - kept  # only what the ledger did not hold is sent


@pytest.mark.parametrize(
    ("fmt", "name", "full"), [("csv", "out.csv", "out.csv"), ("jsonl", "out.jsonl", "out.jsonl")]
)
def test_a_full_disk_mid_export_leaves_no_file_and_the_next_export_needs_no_force(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer, fmt: str, name: str,
    full: str,
) -> None:  # fmt: skip
    out = tmp_path / "run"
    assert run(capsys, server, items_file(tmp_path, 6), out)[0] == 0
    target = tmp_path / "exports" / name
    command = ("export", str(out), "--format", fmt, "-o", str(target))
    with monkeypatch.context() as disk:
        full_disk(disk, full, room=40)
        code, _, stderr = run_cli(capsys, *command)
    assert (code, stderr) == (2, f"error: {NO_ROOM.format(path=target)}\n")
    assert list(target.parent.iterdir()) == []  # no truncated file to block the next export
    code, _, stderr = run_cli(capsys, *command)
    assert code == 0, stderr
    assert len(target.read_text(encoding="utf-8").splitlines()) >= 6


def test_a_label_studio_export_writes_both_files_or_neither(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer
) -> None:
    out = tmp_path / "run"
    assert run(capsys, server, items_file(tmp_path, 3), out)[0] == 0
    target = tmp_path / "ls" / "tasks.json"
    command = ("export", str(out), "--format", "label-studio", "-o", str(target))
    with monkeypatch.context() as disk:
        full_disk(disk, "label_config.xml", room=10)
        code, _, stderr = run_cli(capsys, *command)
    assert (code, stderr) == (2, f"error: {NO_ROOM.format(path=target.parent / 'label_config.xml')}\n")
    assert list(target.parent.iterdir()) == []  # tasks.json was not left alone either
    assert run_cli(capsys, *command)[0] == 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["label_config.xml", "tasks.json"]


def test_an_os_error_from_any_command_is_one_line_and_exit_2(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's one place for write failures: an ``OSError`` a writer raised itself (not through the helper)
    is the same line as the helper's, never ``OSError: [Errno 28]`` with exit 1."""

    def no_room(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "g.html"))

    monkeypatch.setattr(prelabel, "write_guideline", no_room)
    code, _, stderr = run_cli(capsys, "doc", SOP, "-o", str(tmp_path / "g.html"))
    assert (code, stderr) == (2, f"error: {NO_ROOM.format(path=tmp_path / 'g.html')}\n")
