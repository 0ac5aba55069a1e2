"""Exports and ``gaps`` pair results with the texts the run labeled, or stop with one line (issue 21, item 1).

Before, ``export`` and ``gaps`` paired results with items by id alone: an items file edited after the run,
or another file with the same ids (an old ``run.json`` read from another folder, or ``--items``), exported
the old label beside the new text and sent unrelated texts to the model. Now each paired item is checked
against the digest the run's ledger recorded for it. The flat exports also say when they have no text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from helpers import run_cli
from prelabel.testing import FakeModel, Reply

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
ITEMS = [
    {"id": "a", "text": "where is my parcel", "language": "en"},
    {"id": "b", "text": "no idea what this is", "language": "en"},
    {"id": "c", "text": "the mug is broken", "language": "en"},
]


def write_items(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path/project`` holding sop.yaml, items.jsonl and a run ``run`` of them (the current dir)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(SOP_PATH, root / "sop.yaml")
    write_items(root / "items.jsonl", ITEMS)
    monkeypatch.chdir(root)
    fake = FakeModel(default=Reply.answer("needs_review", confidence=0.4))  # abstains: gaps picks them
    prelabel.run("sop.yaml", "items.jsonl", "run", client=fake.async_client())
    return root


def edited_message(source: Path | str, item_id: str) -> str:
    return (
        f"{source}: item '{item_id}' is not the one the run labeled (its text, language or images differ "
        "from what run.db recorded); pass the items file the run used with --items, or rerun `prelabel run` "
        "on this file to label it again"
    )


@pytest.mark.parametrize("fmt", ["label-studio", "argilla", "csv", "jsonl"])
def test_an_items_file_edited_after_the_run_is_refused(
    fmt: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_items(project / "items.jsonl", [ITEMS[0], {**ITEMS[1], "text": "a new text"}, ITEMS[2]])
    code, stdout, err = run_cli(capsys, "export", "run", "-f", fmt, "-o", str(project / "out" / "x"))
    assert code == 2 and stdout == ""
    assert err.strip().splitlines() == [f"error: {edited_message((project / 'items.jsonl').resolve(), 'b')}"]
    assert not (project / "out").exists()


def test_a_changed_language_is_a_changed_item(project: Path) -> None:
    write_items(project / "items.jsonl", [ITEMS[0], ITEMS[1], {**ITEMS[2], "language": "de"}])
    with pytest.raises(prelabel.InputError, match="item 'c' is not the one the run labeled"):
        prelabel.export("run", "csv", "x.csv")


def test_another_file_with_the_same_ids_is_refused(project: Path) -> None:
    other = write_items(project / "other.jsonl", [{**i, "text": f"other {i['id']}"} for i in ITEMS])
    with pytest.raises(prelabel.InputError) as refused:
        prelabel.export("run", "label-studio", "tasks.json", items=other)
    assert str(refused.value) == edited_message(other, "a")


def test_an_old_run_json_read_from_another_folder_with_other_items_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run.json written before paths were recorded absolute, read from a folder holding another
    items.jsonl with the same ids: the other texts are not exported beside the run's labels."""
    info = json.loads((project / "run" / "run.json").read_text(encoding="utf-8"))
    info["sop"]["path"], info["items_source"] = "sop.yaml", "items.jsonl"
    (project / "run" / "run.json").write_text(json.dumps(info), encoding="utf-8")
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SOP_PATH, elsewhere / "sop.yaml")
    write_items(elsewhere / "items.jsonl", [{**i, "text": f"unrelated {i['id']}"} for i in ITEMS])
    monkeypatch.chdir(elsewhere)
    with pytest.raises(prelabel.InputError) as refused:
        prelabel.export(project / "run", "label-studio", "tasks.json")
    assert str(refused.value) == edited_message((elsewhere / "items.jsonl").resolve(), "a")
    assert not (elsewhere / "tasks.json").exists()


def test_sources_resolve_the_same_from_any_folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    write_items(elsewhere / "items.jsonl", [{**i, "text": f"unrelated {i['id']}"} for i in ITEMS])
    monkeypatch.chdir(elsewhere)
    prelabel.export(project / "run", "label-studio", "tasks.json")
    tasks = json.loads((elsewhere / "tasks.json").read_text(encoding="utf-8"))
    assert [t["data"]["text"] for t in tasks] == [i["text"] for i in ITEMS]


def test_items_reordered_or_added_or_with_new_meta_still_pair(project: Path) -> None:
    """Pairing is by id, checked by digest: order, extra items and ``meta`` (never shown to the model) do
    not matter."""
    reordered = [{**ITEMS[2], "meta": {"market": "DE"}}, {"id": "z", "text": "new"}, ITEMS[0], ITEMS[1]]
    write_items(project / "items.jsonl", reordered)
    summary = prelabel.export("run", "label-studio", "tasks.json")
    tasks = json.loads(Path("tasks.json").read_text(encoding="utf-8"))
    assert summary.n_exported == 3 and [t["data"]["text"] for t in tasks] == [i["text"] for i in ITEMS]
    assert not list((project / "run").glob("run.db-*"))  # reading the ledger leaves no WAL files behind


def test_gaps_refuses_edited_items_before_any_request(project: Path) -> None:
    write_items(project / "items.jsonl", [{**i, "text": f"unrelated {i['id']}"} for i in ITEMS])
    fake = FakeModel()
    with pytest.raises(prelabel.InputError) as refused:
        prelabel.find_gaps("run", client=fake.async_client())
    assert str(refused.value) == edited_message((project / "items.jsonl").resolve(), "a")
    assert fake.requests == []


def test_gaps_sends_the_runs_texts(project: Path) -> None:
    fake = FakeModel(default=Reply.raw(json.dumps({"rationale": "nothing in common", "groups": []})))
    gaps = prelabel.find_gaps("run", client=fake.async_client())
    assert gaps.considered == {"abstained": 3} and gaps.warnings == []
    (request,) = fake.requests
    sent = request.body["messages"][-1]["content"]
    assert all(f"[{i['id']}] (answered needs_review) {i['text']}" in sent for i in ITEMS)


def test_a_csv_export_without_an_items_file_says_what_is_missing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "items.jsonl").unlink()
    code, stdout, err = run_cli(capsys, "export", "run", "-f", "csv", "-o", "labels.csv")
    assert code == 0 and "exported 3 items as csv" in stdout
    missing = (project / "items.jsonl").resolve()
    assert err.strip().splitlines() == [
        f"warning: run.json names no readable items file ({missing} is not there): the export has no text "
        "or language columns; pass --items FILE to add them"
    ]
    assert "text" not in pd.read_csv("labels.csv").columns


def test_csv_rows_missing_from_the_items_file_are_warned_and_counted(project: Path) -> None:
    fewer = write_items(project / "fewer.jsonl", ITEMS[:1])
    summary = prelabel.export("run", "csv", "labels.csv", items=fewer)
    assert summary.warnings == [
        "2 result lines have no item in the items file: their text and language are empty (b, c)"
    ]
    frame = pd.read_csv("labels.csv", keep_default_na=False)
    assert list(frame["text"]) == ["where is my parcel", "", ""]


def test_results_without_their_ledger_are_exported_with_a_warning(project: Path) -> None:
    copy = project / "copy"
    copy.mkdir()
    for name in ("labels.jsonl", "run.json"):
        shutil.copy(project / "run" / name, copy / name)
    summary = prelabel.export(copy, "csv", "labels.csv")
    assert summary.warnings == [
        f"{copy}: no run.db beside the results: the items cannot be checked against what the run labeled"
    ]
