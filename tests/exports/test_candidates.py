"""``prelabel export CMP_DIR --candidates``: adjudication tasks for the top ambiguity candidates, checked with
label-studio-sdk and the argilla SDK (offline); and their adjudicated exports read back as rulings
(``prelabel.read_rulings``), shaped as Label Studio's JSON export and argilla's ``to_list`` write them."""

from __future__ import annotations

import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import quiet_import, run_cli
from vendor_exports import Vote, argilla_user, ls_tasks, write_json

FEEDBACK = "customer_feedback_intent"


def _compare(make_run, tmp_path: Path, capsys, *, drafts: bool = False) -> tuple[Path, prelabel.SOP]:
    """A run, its human labels as a Label Studio export (the majority never the model's label), compared."""
    sop_path = prelabel.bundled_sop_path(FEEDBACK)
    sop = prelabel.load_sop(sop_path)
    run_dir = make_run(sop_path, n=12)
    rows = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text().splitlines()]
    votes = []
    for row in rows:
        if row["status"] != "ok":
            continue
        other = next(leaf for leaf in sop.leaf_ids if leaf != row["label"])
        votes += [Vote(row["item_id"], "ann_a", other), Vote(row["item_id"], "ann_b", other, hour=1)]
        votes.append(Vote(row["item_id"], "ann_c", row["label"], hour=2))
    humans = write_json(tmp_path / "ls_export.json", ls_tasks(sop, votes))
    code, _, err = run_cli(capsys, "compare", str(run_dir), str(humans), "-o", str(tmp_path / "cmp"))
    assert code == 0, err
    if drafts:
        entry = {
            "id": "DRAFT1",
            "text": "late & broken",
            "label": "product.damaged",
            "ruling": "Damage first.",
        }
        text = "draft: true\nedge_cases:\n- " + json.dumps(entry) + "\n"
        (tmp_path / "cmp" / "draft_edge_cases.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "cmp", sop


def test_label_studio_adjudication_tasks_validate_with_the_sdk(make_run, tmp_path: Path, capsys) -> None:
    cmp_dir, sop = _compare(make_run, tmp_path, capsys, drafts=True)
    out = tmp_path / "adj" / "tasks.json"
    code, stdout, err = run_cli(
        capsys, "export", str(cmp_dir), "--format", "label-studio", "--candidates", "-n", "3", "-o", str(out)
    )
    assert code == 0, err
    assert "exported 3 items as label-studio adjudication tasks" in stdout
    tasks = json.loads(out.read_text(encoding="utf-8"))
    config = (out.parent / "label_config.xml").read_text(encoding="utf-8")
    interface = quiet_import("label_studio_sdk.label_interface").LabelInterface
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = interface(config)
        checked.validate()
        assert all(checked.validate_task({"data": t["data"]}) for t in tasks)
    assert '<Taxonomy name="label" toName="text"' in config and 'value="logistics.late_delivery"' in config
    assert '<Choices name="sop_unclear"' in config and "Is the SOP unclear on this item?" in config
    assert '<TextArea name="ruling"' in config
    first = tasks[0]["data"]
    assert first["sop"] == f"{sop.id}@{sop.version}" and first["candidate"].startswith("#1: ")
    votes = first["votes"].splitlines()
    assert len(votes) == 3 and votes[0].startswith("ann_a@vendor.test: ")
    assert first["model"].startswith(first["votes"].splitlines()[2].split(": ")[1])  # ann_c sided with it
    assert "confidence" in first["model"] and "Because of item" in first["model"]
    assert first["rule_ids"] == "R1" and first["rules"].startswith("R1: ")
    assert first["draft"] == "late & broken → product.damaged: Damage first."
    assert tasks[1]["data"]["draft"] == "(no drafted edge case)"
    assert len({t["data"]["item_id"] for t in tasks}) == 3
    assert first["text"].startswith("item <")


def _adjudicated(
    tasks: list[dict[str, Any]], decisions: dict[int, tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """The tasks as Label Studio's JSON export gives them back once adjudicated (the task index: label,
    sop_unclear, ruling); a cancelled annotation on every other task."""
    sop = prelabel.bundled_sop(FEEDBACK)
    out = []
    for k, task in enumerate(tasks):
        annotations = [
            {"id": 50 + k, "completed_by": 3, "result": [], "was_cancelled": True, "ground_truth": False,
             "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z", "lead_time": 2.0}
        ]  # fmt: skip
        if k in decisions:
            label, unclear, ruling = decisions[k]
            result = [
                {"id": "a", "from_name": "label", "to_name": "text", "type": "taxonomy",
                 "value": {"taxonomy": [sop.ancestors(label)]}, "origin": "manual"},
                {"id": "b", "from_name": "sop_unclear", "to_name": "text", "type": "choices",
                 "value": {"choices": [unclear]}, "origin": "manual"},
                {"id": "c", "from_name": "ruling", "to_name": "text", "type": "textarea",
                 "value": {"text": [ruling]}, "origin": "manual"},
            ]  # fmt: skip
            lead = {"id": 4, "email": "lead@vendor.test", "first_name": "", "last_name": ""}
            stamp = "2026-12-02T10:00:00Z"
            annotations.append(
                {"id": 90 + k, "completed_by": lead, "result": result, "was_cancelled": False,
                 "ground_truth": False, "created_at": stamp, "updated_at": stamp, "lead_time": 30.0}
            )  # fmt: skip
        out.append({"id": 700 + k, "project": 9, "data": task["data"], "annotations": annotations,
                    "predictions": [], "drafts": []})  # fmt: skip
    return out


def test_an_adjudicated_label_studio_export_reads_back_as_rulings(make_run, tmp_path: Path, capsys) -> None:
    cmp_dir, sop = _compare(make_run, tmp_path, capsys)
    out = tmp_path / "adj.json"
    prelabel.export_candidates(cmp_dir, "label-studio", out, top=3)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    decided = {
        0: ("product.damaged", "yes", "Damage is the root issue (R1)."),
        2: ("logistics.late_delivery", "no", ""),
    }
    export = write_json(tmp_path / "adjudicated.json", _adjudicated(tasks, decided))
    found = prelabel.read_adjudication(export, sop)
    assert found.summary() == "2 rulings from 3 adjudication tasks; 1 tasks without a decision"
    first, second = found.rulings
    assert first == prelabel.Ruling(
        item_id=tasks[0]["data"]["item_id"],
        text=tasks[0]["data"]["text"],
        label=("product.damaged",),
        ruling="Damage is the root issue (R1).",
        sop_unclear=True,
        rules=("R1",),
        language="en",
        source=f"{export}#task 700",
        adjudicator="lead@vendor.test",
    )
    assert second.label == ("logistics.late_delivery",) and not second.sop_unclear and second.ruling == ""
    assert prelabel.read_rulings(export, sop) == found.rulings


def test_adjudication_exports_that_decide_nothing_or_outside_the_sop_are_bad_input(
    make_run, tmp_path: Path, capsys
) -> None:
    cmp_dir, sop = _compare(make_run, tmp_path, capsys)
    out = tmp_path / "adj.json"
    prelabel.export_candidates(cmp_dir, "label-studio", out, top=2)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    none = write_json(tmp_path / "none.json", _adjudicated(tasks, {}))
    with pytest.raises(prelabel.InputError) as info:
        prelabel.read_rulings(none, sop)
    assert str(info.value) == f"no adjudicated decision in {none} (2 tasks, none submitted)"
    bad = _adjudicated(tasks, {1: ("product.damaged", "yes", "x")})
    bad[1]["annotations"][1]["result"][0]["value"] = {"taxonomy": [["product", "product.melted"]]}
    with pytest.raises(prelabel.InputError, match=r"task 701: label product\.melted is not in SOP customer"):
        prelabel.read_rulings(write_json(tmp_path / "bad.json", bad), sop)
    other = prelabel.bundled_sop("seller_content_risk")
    with pytest.raises(prelabel.InputError, match="task 700 adjudicates SOP customer_feedback_intent@"):
        prelabel.read_rulings(
            write_json(tmp_path / "ok.json", _adjudicated(tasks, {0: ("product.damaged", "no", "")})), other
        )


def test_argilla_adjudication_records_build_offline_and_read_back(
    make_run, tmp_path: Path, capsys, offline_argilla
) -> None:
    rg = offline_argilla
    cmp_dir, sop = _compare(make_run, tmp_path, capsys)
    out = tmp_path / "adj_argilla.json"
    code, _, err = run_cli(
        capsys, "export", str(cmp_dir), "-f", "argilla", "--candidates", "--top", "2", "-o", str(out)
    )
    assert code == 0, err
    settings, records = prelabel.to_argilla(out)
    assert [q.name for q in settings.questions] == ["label", "sop_unclear", "ruling"]
    assert set(settings.questions["label"].labels) == set(sop.leaf_ids)
    assert set(settings.questions["sop_unclear"].labels) == {"yes", "no"}
    assert rg.Dataset(name="adjudication", settings=settings).settings.questions["ruling"].name == "ruling"
    assert len(records) == 2 and records[0].fields["votes"].count("\n") == 2
    # the adjudicator answers in Argilla; to_list(flatten=True) is what comes back
    lead = uuid.UUID(argilla_user("lead"))
    records[0].responses.add(rg.Response("label", "product.damaged", user_id=lead, status="submitted"))
    records[0].responses.add(rg.Response("sop_unclear", "yes", user_id=lead, status="submitted"))
    records[0].responses.add(rg.Response("ruling", "Damage first.", user_id=lead, status="submitted"))
    records[1].responses.add(rg.Response("label", "product.damaged", user_id=lead, status="draft"))
    generic = quiet_import("argilla.records._io")
    back = write_json(tmp_path / "back.json", generic.GenericIO.to_list(records, flatten=True))
    found = prelabel.read_adjudication(back, sop)
    assert found.undecided == [records[1].id]
    (ruling,) = found.rulings
    assert ruling.label == ("product.damaged",) and ruling.ruling == "Damage first." and ruling.sop_unclear
    assert ruling.adjudicator == str(lead) and ruling.rules == ("R1",) and ruling.item_id == records[0].id


def test_candidates_need_a_compare_report_and_an_adjudicating_format(
    make_run, tmp_path: Path, capsys
) -> None:
    cmp_dir, _ = _compare(make_run, tmp_path, capsys)
    run_dir = tmp_path / f"run_{FEEDBACK}"
    code, _, err = run_cli(
        capsys, "export", str(run_dir), "-f", "label-studio", "--candidates", "-o", "x.json"
    )
    assert code == 2 and err.strip().endswith("(expected a prelabel compare report directory)")
    code, _, err = run_cli(capsys, "export", str(cmp_dir), "-f", "csv", "--candidates", "-o", "x.csv")
    assert code == 2 and "format csv has no adjudication tasks (formats that do: " in err
    assert not Path("x.csv").exists() and not Path("x.json").exists()
