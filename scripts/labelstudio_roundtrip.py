"""Round trip through a real Label Studio: import prelabel's tasks, annotate them as three people, export what
Label Studio exports; then adjudicate candidates and export the decisions. Records the files the offline tests
read (tests/data/vendor_exports/label_studio/; see the README there).

Opt-in, like scripts/labelstudio_import.py: Label Studio lives in its own environment (1.23 needs
``sentry-sdk<3`` to start)::

    python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio 'sentry-sdk<3' requests   # 1.23.2

Re-record (from the repository root)::

    PRELABEL_UPDATE_GOLDEN=1 PYTHONPATH=src pytest tests/exports/test_label_studio_recorded.py -k inputs
    D=tests/data/vendor_exports/label_studio
    /tmp/ls/bin/python scripts/labelstudio_roundtrip.py --out $D $D/customer_feedback_intent/tasks.json \\
        $D/seller_content_risk/tasks.json $D/flat_single_label/tasks.json \\
        --adjudicate $D/adjudication/tasks.json
    PYTHONPATH=src pytest tests/exports/test_label_studio_recorded.py

The first line rewrites the inputs (each ``tasks.json`` + ``label_config.xml`` is ``prelabel export --format
label-studio`` of the synthetic run ``tests/exports/conftest.py:write_run`` makes with seed 0 and 12 items);
the adjudication input is ``prelabel export CMP_DIR --format label-studio --candidates`` of a ``prelabel
compare`` of that run with the recorded ``customer_feedback_intent/snapshot.json`` (the recorded votes; the
opt-in test makes it so, in-process, between the two halves of its round trip). Or run the opt-in test, which
does all of it against a fresh server in a temporary directory:
``LABEL_STUDIO_BIN=/tmp/ls/bin/label-studio pytest -m labelstudio_server``.

What it does, on one server (started by scripts/_labelstudio.py):

1. signs up three annotators and an adjudicator through the signup form (each then works with the API token
   Label Studio gives them);
2. per ``tasks.json`` (and ``label_config.xml`` beside it; the project is named after the directory): creates
   the project, imports the tasks, and annotates through the API as each annotator with real results on the
   ``label`` control (``choices`` or ``taxonomy``, as the config says) and a ``lead_time``, by a fixed plan
   (`plan_annotations`): all three agree on most tasks and disagree on some; annotator 3 skips one task
   (``was_cancelled``); annotator 2 annotates one task twice (the later annotation is the vote); the admin
   adds one ``ground_truth`` annotation; the last task gets no annotation;
3. exports every task twice, beside the inputs: as the Export button does (``GET
   /api/projects/{id}/export?exportType=JSON|JSON_MIN|CSV&download_all_tasks=true``; annotators are user ids)
   to ``<name>/export.json``, ``export_min.json``, ``export.csv``; and through the snapshot API (``POST
   /api/projects/{id}/exports/`` with every annotation and ``completed_by`` expanded, converted, downloaded;
   annotators have their email) to ``<name>/snapshot.json``, ``snapshot_min.json``, ``snapshot.csv``. JSON_MIN
   and CSV leave out skipped annotations and do not mark ground truth (Label Studio's converter);
4. with ``--adjudicate CANDIDATES/tasks.json`` (and its ``label_config.xml``: controls ``label``,
   ``sop_unclear`` yes/no and ``ruling``): creates that project, imports, and decides every task but the last
   as the adjudicator (label, SOP unclear or not, ruling text), then exports JSON to ``<dir>/export.json``
   and ``<dir>/snapshot.json``;
5. writes what it did: ``annotations.csv`` (one row per annotation: project, item_id, annotator, label —
   ``;`` between labels of a multi-label answer — gold, lead_time, cancelled, superseded),
   ``adjudications.csv`` (item_id, adjudicator, label, sop_unclear, ruling, lead_time) and ``recording.json``
   (Label Studio version, users by id — the ``export*`` files name annotators by id only —, per-project
   counts, seconds taken, the server's peak resident memory).

Prints one JSON line (the summary) and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# _labelstudio.py beside this file, also when the file is loaded by path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _labelstudio import ADMIN, Server, dumps

__all__ = ["ADJUDICATOR", "ANNOTATORS", "EXPORTS", "Control", "plan_annotations", "roundtrip"]

ANNOTATORS = ("annotator1@example.com", "annotator2@example.com", "annotator3@example.com")
ADJUDICATOR = "adjudicator@example.com"
PASSWORD = "prelabel-roundtrip-1"
#: Label Studio export type -> the recorded file's name: ``export*`` from ``GET /api/projects/{id}/export``
#: (what the Export button downloads; annotators as user ids), ``snapshot*`` from the snapshot API with the
#: annotators expanded (emails).
EXPORTS = {"JSON": "export.json", "JSON_MIN": "export_min.json", "CSV": "export.csv"}
SNAPSHOTS = {"JSON": "snapshot.json", "JSON_MIN": "snapshot_min.json", "CSV": "snapshot.csv"}
ANNOTATION_COLUMNS = (
    "project",
    "item_id",
    "annotator",
    "label",
    "gold",
    "lead_time",
    "cancelled",
    "superseded",
)
ADJUDICATION_COLUMNS = ("item_id", "adjudicator", "label", "sop_unclear", "ruling", "lead_time")
CONTROL, SOP_UNCLEAR, RULING = "label", "sop_unclear", "ruling"  # prelabel/vendors/names.py


@dataclass
class Control:
    """A control of a labeling config: its tag, target, whether it takes several values, and its values
    (``Taxonomy``: root-to-leaf paths of the leaves; ``Choices``: one-element paths)."""

    name: str
    tag: str
    to_name: str
    multiple: bool = False
    paths: list[list[str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The result ``type``: the tag in lower case."""
        return self.tag.lower()

    def result(self, labels: list[str], rid: str) -> dict[str, Any]:
        """A result holding ``labels`` (leaf values) as Label Studio's editor writes it."""
        by_leaf = {path[-1]: path for path in self.paths}
        if self.tag == "Taxonomy":
            value: dict[str, Any] = {"taxonomy": [by_leaf[label] for label in labels]}
        elif self.tag == "Choices":
            value = {"choices": list(labels)}
        else:  # TextArea
            value = {"text": list(labels)}
        return {
            "id": rid,
            "from_name": self.name,
            "to_name": self.to_name,
            "type": self.kind,
            "value": value,
            "origin": "manual",
        }


def controls(config: str) -> dict[str, Control]:
    """The named controls of a labeling config XML."""
    found = {}
    for node in ET.fromstring(config).iter():
        if node.tag not in {"Taxonomy", "Choices", "TextArea"} or not node.get("name"):
            continue
        if node.tag == "Taxonomy":
            multiple = node.get("maxUsages") != "1"
        else:
            multiple = node.get("choice") == "multiple"
        control = Control(node.get("name", ""), node.tag, node.get("toName", ""), multiple)
        control.paths = _leaf_paths(node, []) if node.tag != "TextArea" else []
        found[control.name] = control
    return found


def _leaf_paths(node: ET.Element, above: list[str]) -> list[list[str]]:
    paths = []
    for child in node.findall("Choice"):
        path = [*above, child.get("value", "")]
        paths += _leaf_paths(child, path) if child.findall("Choice") else [path]
    return paths


@dataclass
class Planned:
    """One annotation the recording makes."""

    item_id: str
    annotator: str
    labels: list[str]
    lead_time: float
    gold: bool = False
    cancelled: bool = False
    superseded: bool = False


def _predicted(task: dict[str, Any]) -> list[str]:
    """The leaf labels of the task's prediction on the label control (none without a prediction)."""
    for prediction in task.get("predictions", []):
        for result in prediction.get("result", []):
            if result.get("from_name") != CONTROL:
                continue
            value = result.get("value", {})
            return list(value.get("choices", [])) + [path[-1] for path in value.get("taxonomy", [])]
    return []


def plan_annotations(tasks: list[dict[str, Any]], control: Control) -> list[Planned]:
    """The fixed plan, in the order the annotations are made: per task, annotators 1-3 (agreeing with the
    model's label, or a fixed leaf when there is none; annotator 2 disagrees on every 4th task, annotator 3 on
    every 3rd); annotator 3 skips task 5; annotator 2 first answers task 1 wrongly and re-annotates it last;
    the admin's ground truth on task 0; the last task stays unannotated."""
    leaves = [path[-1] for path in control.paths]
    plan: list[Planned] = []
    redo: Planned | None = None
    for k, task in enumerate(tasks[:-1]):
        item_id = str(task["data"]["item_id"])
        base = _predicted(task) or [leaves[(3 * k) % len(leaves)]]
        base = base if control.multiple else base[:1]
        other = [leaf for leaf in leaves if leaf not in base][(5 * k) % (len(leaves) - len(base))]
        alt = [other] if not control.multiple or k % 2 else [*base, other]

        def lead(user: int, k: int = k) -> float:
            return round(4.0 + 1.25 * k + 2.5 * user, 2)

        plan.append(Planned(item_id, ANNOTATORS[0], base, lead(0)))
        if k == 1:
            plan.append(Planned(item_id, ANNOTATORS[1], alt, lead(1), superseded=True))
            redo = Planned(item_id, ANNOTATORS[1], base, lead(1) + 3.0)
        else:
            plan.append(Planned(item_id, ANNOTATORS[1], alt if k % 4 == 3 else base, lead(1)))
        if k == 5:
            plan.append(Planned(item_id, ANNOTATORS[2], [], lead(2), cancelled=True))
        else:
            plan.append(Planned(item_id, ANNOTATORS[2], alt if k % 3 == 2 else base, lead(2)))
        if k == 0:
            plan.append(Planned(item_id, ADMIN, base, lead(3), gold=True))
    if redo is not None:
        plan.append(redo)
    return plan


def _annotate(ls: Server, api: Any, task_id: int, result: list[dict[str, Any]], **fields: Any) -> None:
    body = {"result": result, **fields}
    response = api.post(f"{ls.url}/api/tasks/{task_id}/annotations/", json=body, timeout=60)
    if not response.ok:
        raise RuntimeError(f"annotating task {task_id}: {response.status_code} {response.text[:300]}")


def _task_ids(ls: Server, project: int) -> dict[str, int]:
    return {str(task["data"]["item_id"]): int(task["id"]) for task in ls.read_tasks(project)}


def _save_exports(
    ls: Server, project: int, where: Path, exports: dict[str, str], snapshots: dict[str, str]
) -> list[str]:
    files = {exports[kind]: ls.export(project, kind) for kind in exports}
    snapshot = ls.snapshot(project, list(snapshots))
    files |= {snapshots[kind]: snapshot[kind] for kind in snapshots}
    for name, body in files.items():
        if name.endswith(".json"):
            json.loads(body)  # a JSON export must parse; raise here rather than record garbage
        (where / name).write_bytes(body)
    return list(files)


def _record_project(
    ls: Server, users: dict[str, Any], tasks_path: Path
) -> tuple[dict[str, Any], list[Planned]]:
    where = tasks_path.parent
    config = (where / "label_config.xml").read_text(encoding="utf-8")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    control = controls(config)[CONTROL]
    project = ls.create_project(f"prelabel {where.name}", config)
    ls.import_tasks(project, tasks)
    ids = _task_ids(ls, project)
    plan = plan_annotations(tasks, control)
    for n, planned in enumerate(plan):
        result = [] if planned.cancelled else [control.result(planned.labels, f"r{n}")]
        fields: dict[str, Any] = {"lead_time": planned.lead_time}
        if planned.cancelled:
            fields["was_cancelled"] = True
        if planned.gold:
            fields["ground_truth"] = True
        _annotate(ls, users[planned.annotator], ids[planned.item_id], result, **fields)
    saved = _save_exports(ls, project, where, EXPORTS, SNAPSHOTS)
    info = ls.project(project)
    counts = {
        "project_id": project,
        "control": control.tag,
        "multi_label": control.multiple,
        "tasks": len(tasks),
        "annotations": sum(not p.cancelled for p in plan),
        "cancelled": sum(p.cancelled for p in plan),
        "ground_truth": sum(p.gold for p in plan),
        "superseded": sum(p.superseded for p in plan),
        "unannotated": len({str(t["data"]["item_id"]) for t in tasks} - {p.item_id for p in plan}),
        "server_total_annotations": info.get("total_annotations_number"),
        "files": saved,
    }
    return counts, plan


def _adjudicate(ls: Server, api: Any, tasks_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    where = tasks_path.parent
    config = (where / "label_config.xml").read_text(encoding="utf-8")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    found = controls(config)
    missing = {CONTROL, SOP_UNCLEAR, RULING} - set(found)
    if missing:
        raise RuntimeError(f"{where / 'label_config.xml'}: no control named {sorted(missing)}")
    project = ls.create_project(f"prelabel adjudication {where.name}", config)
    ls.import_tasks(project, tasks)
    ids = _task_ids(ls, project)
    leaves = [path[-1] for path in found[CONTROL].paths]
    rows = []
    for k, task in enumerate(tasks[:-1]):  # the last candidate stays undecided
        item_id = str(task["data"]["item_id"])
        label = _predicted(task)[:1] or [leaves[(2 * k + 1) % len(leaves)]]
        unclear = "yes" if k % 2 == 0 else "no"
        ruling = (
            f"Item {item_id}: the SOP does not say which label wins here; label it {label[0]}."
            if unclear == "yes"
            else f"Item {item_id}: the SOP is clear; {label[0]} by its definition."
        )
        lead_time = round(20.0 + 3.5 * k, 2)
        result = [
            found[CONTROL].result(label, f"a{k}"),
            found[SOP_UNCLEAR].result([unclear], f"u{k}"),
            found[RULING].result([ruling], f"t{k}"),
        ]
        _annotate(ls, api, ids[item_id], result, lead_time=lead_time)
        rows.append(
            {
                "item_id": item_id,
                "adjudicator": ADJUDICATOR,
                "label": ";".join(label),
                "sop_unclear": unclear,
                "ruling": ruling,
                "lead_time": lead_time,
            }
        )
    saved = _save_exports(ls, project, where, {"JSON": "export.json"}, {"JSON": "snapshot.json"})
    counts = {"project_id": project, "tasks": len(tasks), "decided": len(rows), "files": saved}
    return counts, rows


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _row(project: str, planned: Planned) -> dict[str, Any]:
    return {
        "project": project,
        "item_id": planned.item_id,
        "annotator": planned.annotator,
        "label": ";".join(planned.labels),
        "gold": int(planned.gold),
        "lead_time": planned.lead_time,
        "cancelled": int(planned.cancelled),
        "superseded": int(planned.superseded),
    }


def roundtrip(
    tasks_paths: list[Path],
    out: Path,
    adjudicate: Path | Callable[[Path], Path] | None = None,
    label_studio: str | None = None,
) -> dict[str, Any]:
    """Record the round trip (see the module docstring) into ``out``; returns the summary. ``adjudicate``: the
    adjudication tasks, or a function that makes them from ``out`` once the projects are exported (the
    opt-in test compares the fresh exports and exports the candidates in between)."""
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    with Server(label_studio) as ls:
        users = {ADMIN: ls.api}
        for email in (*ANNOTATORS, ADJUDICATOR):
            users[email] = ls.signup(email, PASSWORD)[1]
        projects, rows = {}, []
        for tasks_path in tasks_paths:
            name = tasks_path.parent.name
            projects[name], plan = _record_project(ls, users, tasks_path)
            rows += [_row(name, planned) for planned in plan]
        adjudication: dict[str, Any] | None = None
        if adjudicate is not None:
            tasks = adjudicate(out) if callable(adjudicate) else adjudicate
            adjudication, decisions = _adjudicate(ls, users[ADJUDICATOR], tasks)
            (out / "adjudications.csv").write_text(_csv(ADJUDICATION_COLUMNS, decisions), encoding="utf-8")
        version = ls.version()
        user_ids = ls.user_ids()
        start_seconds = ls.start_seconds
    summary = {
        "label_studio": version,
        "users": {str(uid): email for uid, email in sorted(user_ids.items())},
        "projects": projects,
        "adjudication": adjudication,
        "seconds": round(time.monotonic() - started, 1),
        "server_start_seconds": round(start_seconds, 1),
        "peak_rss_mb": round(ls.peak_rss_kb / 1024),
    }
    (out / "annotations.csv").write_text(_csv(ANNOTATION_COLUMNS, rows), encoding="utf-8")
    (out / "recording.json").write_text(dumps(summary), encoding="utf-8")
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tasks", nargs="+", type=Path, help="tasks.json files (label_config.xml beside each)")
    parser.add_argument("--out", type=Path, required=True, help="where annotations.csv and recording.json go")
    parser.add_argument(
        "--adjudicate", type=Path, help="adjudication tasks.json (label_config.xml beside it)"
    )
    parser.add_argument(
        "--label-studio", help="the label-studio command (default: see scripts/_labelstudio.py)"
    )
    args = parser.parse_args(argv)
    summary = roundtrip(args.tasks, args.out, args.adjudicate, args.label_studio)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
