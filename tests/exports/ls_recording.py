"""The Label Studio round trip's recording (scripts/labelstudio_roundtrip.py, tests/data/vendor_exports/):
load it, and check that every export file holds what ``annotations.csv`` and ``adjudications.csv`` say.

The checks read Label Studio's files with nothing but ``json`` and ``csv`` (independently of prelabel's
readers), so the recorded files, a fresh recording (the opt-in test) and prelabel's readers can all be held
against them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import load_script

__all__ = ["load_script"]  # scripts/*.py, as tests/helpers.py loads them

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "data" / "vendor_exports" / "label_studio"
#: The recorded export files of each annotated project, and of the adjudication project.
EXPORT_FILES = (
    "export.json",
    "export_min.json",
    "export.csv",
    "snapshot.json",
    "snapshot_min.json",
    "snapshot.csv",
)
ADJUDICATION_FILES = ("export.json", "snapshot.json")
CONTROL, SOP_UNCLEAR, RULING = "label", "sop_unclear", "ruling"

#: One annotation as the checks compare them: item, annotator (email), labels (sorted), gold, cancelled,
#: lead_time.
Key = tuple[str, str, tuple[str, ...], bool, bool, float]


def recording(recorded: Path = RECORDED) -> dict[str, Any]:
    """``recording.json``: Label Studio version, users by id, per-project counts, time and memory."""
    return dict(json.loads((recorded / "recording.json").read_text(encoding="utf-8")))


def annotations(recorded: Path = RECORDED, project: str | None = None) -> pd.DataFrame:
    """``annotations.csv`` (of ``project``): one row per annotation made, in the order made."""
    frame = pd.read_csv(
        recorded / "annotations.csv", dtype={"item_id": str, "label": str}, keep_default_na=False
    )
    return frame if project is None else frame[frame["project"] == project].reset_index(drop=True)


def votes(recorded: Path = RECORDED, project: str = "customer_feedback_intent") -> pd.DataFrame:
    """The human labels of ``project`` in prelabel's long form (``item_id``, ``annotator``, ``label``): each
    annotator's latest annotation per item; skipped and ground-truth annotations are not votes. What a reader
    of the export must give, so ``prelabel compare RUN_DIR export.json`` equals ``compare`` on this frame."""
    frame = annotations(recorded, project)
    kept = frame[(frame["cancelled"] == 0) & (frame["gold"] == 0) & (frame["superseded"] == 0)]
    return kept[["item_id", "annotator", "label"]].reset_index(drop=True)


def _labels(value: Any) -> tuple[str, ...]:
    """The leaf labels of a result value or a JSON_MIN/CSV cell: choices, taxonomy leaves, plain text."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return (value,)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(sorted(label for part in value for label in _labels(part)))
    if isinstance(value, dict) and "taxonomy" in value:
        return tuple(sorted(path[-1] for path in value["taxonomy"]))
    if isinstance(value, dict) and "choices" in value:
        return tuple(sorted(value["choices"]))
    raise AssertionError(f"unexpected label value {value!r}")


def _email(completed_by: Any, users: dict[str, str]) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by["email"])
    return users[str(completed_by)]


def _expected(recorded: Path, project: str, *, minimal: bool) -> Counter[Key]:
    """The annotations of ``annotations.csv`` as keys; ``minimal`` (JSON_MIN, CSV): without skipped ones, gold
    not marked (Label Studio's converter drops and does not mark them)."""
    keys: Counter[Key] = Counter()
    for row in annotations(recorded, project).itertuples():
        if minimal and row.cancelled:
            continue
        labels = tuple(sorted(filter(None, str(row.label).split(";"))))
        gold = bool(row.gold) and not minimal
        keys[
            (str(row.item_id), str(row.annotator), labels, gold, bool(row.cancelled), float(row.lead_time))
        ] += 1
    return keys


def full_export_keys(tasks: list[dict[str, Any]], users: dict[str, str]) -> Counter[Key]:
    """The annotations of a JSON export (``export.json``, ``snapshot.json``) as keys."""
    keys: Counter[Key] = Counter()
    for task in tasks:
        for annotation in task["annotations"]:
            results = [r for r in annotation["result"] if r["from_name"] == CONTROL]
            labels = tuple(sorted(label for r in results for label in _labels(r["value"])))
            key = (
                str(task["data"]["item_id"]),
                _email(annotation["completed_by"], users),
                labels,
                bool(annotation["ground_truth"]),
                bool(annotation["was_cancelled"]),
                float(annotation["lead_time"]),
            )
            keys[key] += 1
    return keys


def minimal_export_keys(rows: list[dict[str, Any]], users: dict[str, str]) -> tuple[Counter[Key], set[str]]:
    """The annotations of a JSON_MIN or CSV export (one row per annotation; a task without any is a row with
    no annotator) as keys, and the items of the rows without an annotator."""
    keys: Counter[Key] = Counter()
    bare = set()
    for row in rows:
        if row.get("annotator") in (None, ""):
            bare.add(str(row["item_id"]))
            continue
        annotator = (
            _email(row["annotator"], users) if "@" not in str(row["annotator"]) else str(row["annotator"])
        )
        key = (
            str(row["item_id"]),
            annotator,
            _labels(row.get(CONTROL)),
            False,
            False,
            float(row["lead_time"]),
        )
        keys[key] += 1
    return keys, bare


def read_export(path: Path) -> list[dict[str, Any]]:
    """A JSON export's list, or a CSV export's rows."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    return list(json.loads(text))


def check_project(recorded: Path, project: str) -> None:
    """Every export file of ``project`` holds exactly the annotations ``annotations.csv`` lists, every task,
    and (JSON_MIN/CSV) a bare row for each task without annotations."""
    record = recording(recorded)
    users, counts = record["users"], record["projects"][project]
    where = recorded / project
    sent = json.loads((where / "tasks.json").read_text(encoding="utf-8"))
    items = {str(task["data"]["item_id"]) for task in sent}
    annotated = set(annotations(recorded, project)["item_id"])
    unannotated = items - annotated
    assert len(unannotated) == counts["unannotated"]
    for name in EXPORT_FILES:
        rows = read_export(where / name)
        if name.endswith("_min.json") or name.endswith(".csv"):
            keys, bare = minimal_export_keys(rows, users)
            assert keys == _expected(recorded, project, minimal=True), f"{project}/{name}"
            expected_bare = unannotated | {i for i in annotated if _only_skipped(recorded, project, i)}
            assert bare == expected_bare, f"{project}/{name}"
        else:
            assert {str(task["data"]["item_id"]) for task in rows} == items, f"{project}/{name}"
            assert len(rows) == counts["tasks"]
            assert full_export_keys(rows, users) == _expected(recorded, project, minimal=False), (
                f"{project}/{name}"
            )


def _only_skipped(recorded: Path, project: str, item_id: str) -> bool:
    frame = annotations(recorded, project)
    return bool((frame[frame["item_id"] == item_id]["cancelled"] == 1).all())


def check_adjudication(recorded: Path) -> None:
    """The adjudication project's exports hold exactly the decisions ``adjudications.csv`` lists (label,
    SOP unclear, ruling, lead time) and the undecided task without an annotation."""
    users = recording(recorded)["users"]
    decisions = pd.read_csv(recorded / "adjudications.csv", dtype=str, keep_default_na=False)
    expected = {
        (row.item_id, row.adjudicator, row.label, row.sop_unclear, row.ruling, float(row.lead_time))
        for row in decisions.itertuples()
    }
    sent = json.loads((recorded / "adjudication" / "tasks.json").read_text(encoding="utf-8"))
    for name in ADJUDICATION_FILES:
        tasks = read_export(recorded / "adjudication" / name)
        assert len(tasks) == len(sent), name
        got = set()
        for task in tasks:
            for annotation in task["annotations"]:
                by_control = {r["from_name"]: r["value"] for r in annotation["result"]}
                got.add(
                    (
                        str(task["data"]["item_id"]),
                        _email(annotation["completed_by"], users),
                        ";".join(_labels(by_control[CONTROL])),
                        ";".join(_labels(by_control[SOP_UNCLEAR])),
                        "".join(by_control[RULING]["text"]),
                        float(annotation["lead_time"]),
                    )
                )
        assert got == expected, name
        assert sum(not task["annotations"] for task in tasks) == len(sent) - len(expected), name


def check_recording(recorded: Path = RECORDED) -> None:
    """`check_project` for every recorded project and `check_adjudication`."""
    for project in recording(recorded)["projects"]:
        check_project(recorded, project)
    if recording(recorded).get("adjudication"):
        check_adjudication(recorded)


def expected_votes(recorded: Path, project: str, name: str) -> pd.DataFrame:
    """The votes a reader of ``<project>/<name>`` can give (``item_id``, ``annotator``, ``label``, sorted):
    `votes`, with the annotators as the file names them (``export*``: user ids; ``snapshot*``: emails), and in
    JSON_MIN/CSV the ground truth as a vote too (those formats do not mark it)."""
    frame = annotations(recorded, project)
    minimal = name.endswith("_min.json") or name.endswith(".csv")
    kept = frame[(frame["cancelled"] == 0) & (frame["superseded"] == 0) & ((frame["gold"] == 0) | minimal)]
    kept = kept[["item_id", "annotator", "label"]].copy()
    kept["label"] = kept["label"].map(lambda cell: ";".join(sorted(cell.split(";"))))
    if name.startswith("export"):
        ids = {email: uid for uid, email in recording(recorded)["users"].items()}
        kept["annotator"] = kept["annotator"].map(ids)
    return kept.sort_values(["item_id", "annotator"]).reset_index(drop=True)


def check_reader(read: Any, recorded: Path = RECORDED) -> None:
    """``read(path) -> DataFrame`` (item_id, annotator, label; ``;`` between the labels of a multi-label
    answer) gives `expected_votes` for every recorded export file of every project, e.g.
    ``check_reader(lambda p: prelabel.read_human_labels(p, sop=...))``."""
    for project in recording(recorded)["projects"]:
        for name in EXPORT_FILES:
            got = read(recorded / project / name)[["item_id", "annotator", "label"]].astype(str)
            got["label"] = got["label"].map(lambda cell: ";".join(sorted(cell.split(";"))))
            got = got.sort_values(["item_id", "annotator"]).reset_index(drop=True)
            pd.testing.assert_frame_equal(
                got, expected_votes(recorded, project, name), obj=f"{project}/{name}"
            )
