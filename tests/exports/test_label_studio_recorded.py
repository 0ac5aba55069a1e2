"""The files recorded from a real Label Studio (tests/data/vendor_exports/, scripts/labelstudio_roundtrip.py):
their inputs are today's ``prelabel export``, they parse, and they hold what the recording says it did — so a
re-record that loses an annotation, a skipped task, the ground truth or a re-annotation fails here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from ls_recording import (
    RECORDED,
    annotations,
    check_adjudication,
    check_project,
    check_reader,
    load_script,
    read_export,
    recording,
    votes,
)

import prelabel
from helpers import check_golden

PROJECTS = ("customer_feedback_intent", "seller_content_risk", "flat_single_label")


def test_the_inputs_are_todays_label_studio_export(
    ls_inputs: Callable[[Path], dict[str, Path]], tmp_path: Path
) -> None:
    """``PRELABEL_UPDATE_GOLDEN=1`` rewrites them; then re-record (tests/data/vendor_exports/README.md)."""
    fresh = tmp_path / "inputs"
    assert set(ls_inputs(fresh)) == set(PROJECTS)
    for path in sorted(fresh.rglob("*.*")):
        name = str(path.relative_to(fresh))
        check_golden(RECORDED, name, path.read_text(encoding="utf-8"))


def test_the_recording_covers_every_project_and_user() -> None:
    record = recording()
    assert record["label_studio"].startswith("1.")
    assert set(record["projects"]) == set(PROJECTS)
    emails = set(record["users"].values())
    assert {"annotator1@example.com", "annotator2@example.com", "annotator3@example.com"} <= emails
    assert {"adjudicator@example.com", "prelabel@example.com"} <= emails
    controls = {name: (p["control"], p["multi_label"]) for name, p in record["projects"].items()}
    assert controls == {
        "customer_feedback_intent": ("Taxonomy", False),
        "seller_content_risk": ("Taxonomy", True),
        "flat_single_label": ("Choices", False),
    }


@pytest.mark.parametrize("project", PROJECTS)
def test_annotations_csv_holds_every_case_the_readers_must_handle(project: str) -> None:
    frame = annotations(project=project)
    counts = recording()["projects"][project]
    per_user = frame[frame["gold"] == 0].groupby("annotator").size().to_dict()
    assert per_user == {
        "annotator1@example.com": 11,
        "annotator2@example.com": 12,
        "annotator3@example.com": 11,
    }
    assert int(frame["cancelled"].sum()) == counts["cancelled"] == 1
    assert int(frame["gold"].sum()) == counts["ground_truth"] == 1
    assert frame[frame["gold"] == 1]["annotator"].tolist() == ["prelabel@example.com"]
    twice = frame[frame["superseded"] == 1]
    assert len(twice) == counts["superseded"] == 1
    again = frame[
        (frame["item_id"] == twice["item_id"].iloc[0]) & (frame["annotator"] == twice["annotator"].iloc[0])
    ]
    assert len(again) == 2 and again.index[-1] == frame.index[-1]  # the re-annotation is the last one made
    assert (frame["lead_time"] > 0).all()
    assert len(frame) - counts["cancelled"] == counts["annotations"] == counts["server_total_annotations"]
    assert counts["unannotated"] == 1 and counts["tasks"] == 12
    table = votes(project=project).pivot(index="item_id", columns="annotator", values="label")
    disagreeing = table.nunique(axis=1) > 1
    assert 0 < disagreeing.sum() < len(table)  # some agree, some disagree


@pytest.mark.parametrize("project", PROJECTS)
def test_annotations_csv_is_the_scripts_plan(project: str) -> None:
    """What the recording did is the plan the script makes from the recorded tasks and config."""
    script = load_script("labelstudio_roundtrip")
    where = RECORDED / project
    tasks = json.loads((where / "tasks.json").read_text(encoding="utf-8"))
    control = script.controls((where / "label_config.xml").read_text(encoding="utf-8"))["label"]
    planned = [script._row(project, p) for p in script.plan_annotations(tasks, control)]
    expected = pd.DataFrame(planned).astype({"item_id": str})
    assert annotations(project=project).to_dict("records") == expected.to_dict("records")


@pytest.mark.parametrize("project", PROJECTS)
def test_every_export_file_holds_the_recorded_annotations(project: str) -> None:
    check_project(RECORDED, project)


def test_the_adjudication_export_holds_the_recorded_decisions() -> None:
    check_adjudication(RECORDED)
    decisions = pd.read_csv(RECORDED / "adjudications.csv", dtype=str)
    assert set(decisions["sop_unclear"]) == {"yes", "no"}
    assert decisions["ruling"].str.len().min() > 0
    assert (
        recording()["adjudication"]["decided"] == len(decisions) == recording()["adjudication"]["tasks"] - 1
    )


def test_a_lost_annotation_fails_the_check(tmp_path: Path) -> None:
    """The check is not vacuous: an export missing one annotation (or with one changed) fails it."""
    import shutil

    copy = tmp_path / "label_studio"
    shutil.copytree(RECORDED, copy)
    path = copy / "customer_feedback_intent" / "snapshot.json"
    tasks = json.loads(path.read_text(encoding="utf-8"))
    next(task for task in tasks if len(task["annotations"]) > 1)["annotations"].pop()
    path.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"snapshot\.json"):
        check_project(copy, "customer_feedback_intent")
    path = copy / "flat_single_label" / "export.csv"
    path.write_text(path.read_text(encoding="utf-8").replace('"spam"', '"ham"', 1), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"export\.csv"):
        check_project(copy, "flat_single_label")


def _reference_reader(path: Path) -> pd.DataFrame:
    """The smallest reader of a recorded export: each annotator's latest (highest id) annotation per task,
    skipped and (where marked) ground-truth annotations left out. Stands in for prelabel's readers."""
    latest: dict[tuple[str, str], tuple[int, str]] = {}
    for task in read_export(path):
        if "annotations" in task:  # JSON: tasks with their annotations
            rows = [
                (str(task["data"]["item_id"]), a["completed_by"], a["id"], a["result"])
                for a in task["annotations"]
                if not a["was_cancelled"] and not a["ground_truth"]
            ]
        elif task.get("annotator") not in (None, ""):  # JSON_MIN, CSV: one row per annotation
            rows = [(str(task["item_id"]), task["annotator"], task["annotation_id"], task["label"])]
        else:
            rows = []
        for item_id, who, number, value in rows:
            who = who["email"] if isinstance(who, dict) else str(who)
            if isinstance(value, list) and value and "from_name" in value[0]:
                value = [r["value"] for r in value if r["from_name"] == "label"]
            key = (item_id, who)
            if key not in latest or int(number) > latest[key][0]:
                latest[key] = (int(number), ";".join(_leaves(value)))
    rows = [{"item_id": i, "annotator": w, "label": label} for (i, w), (_, label) in latest.items()]
    return pd.DataFrame(rows)


def _leaves(value: object) -> list[str]:
    if isinstance(value, str) and value.startswith("["):
        value = json.loads(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [leaf for part in value for leaf in _leaves(part)]
    assert isinstance(value, dict)
    return [path[-1] for path in value.get("taxonomy", [])] + list(value.get("choices", []))


def test_check_reader_holds_a_reader_against_every_export_file() -> None:
    """`check_reader` is what prelabel's readers of Label Studio exports will be held to (one call)."""
    check_reader(_reference_reader)
    with pytest.raises(AssertionError, match="customer_feedback_intent"):  # a reader that loses a vote
        check_reader(lambda path: _reference_reader(path).iloc[1:])


def _project_sop(path: Path) -> prelabel.SOP:
    own = path.parent / "sop.yaml"
    return prelabel.load_sop(own) if own.is_file() else prelabel.bundled_sop(path.parent.name)


@pytest.mark.parametrize("votes", [True, False])
def test_prelabels_reader_gives_the_votes_of_every_recorded_export(votes: bool) -> None:
    """prelabel's reader (detected format, the project's SOP) on every file recorded from Label Studio."""

    def read(path: Path) -> pd.DataFrame:
        frame = prelabel.read_human_labels(path, sop=_project_sop(path), votes=votes)
        return frame if votes or "gold" not in frame else frame[~frame["gold"].fillna(False).astype(bool)]

    check_reader(read)
