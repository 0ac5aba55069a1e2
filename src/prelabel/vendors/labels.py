"""Human labels from the vendors' tools: a Label Studio or Argilla export as the long frame of human labels.

`read_vendor_labels` reads a file as the tool wrote it (`detect_format` tells which tool and format from the
content; `prelabel.vendors.label_studio` and `prelabel.vendors.argilla` parse each) and returns the long
frame `prelabel.read_human_labels` returns — ``item_id``, ``annotator``, ``label`` — plus, when the export
has them, ``gold`` (Label Studio ``ground_truth``), ``lead_time`` (seconds), ``created_at`` (UTC timestamp)
and ``vendor_task`` (the tool's task or record id). Labels are SOP label ids (taxonomy paths become their
leaf; multi-label answers are ``;``-joined).

What is not a vote is left out, counted and said once in ``frame.attrs``: ``notes`` for what the tools do
on purpose (cancelled or skipped annotations, draft and discarded responses, tasks nobody annotated, gold
annotations), ``warnings`` for what needs a look (labels outside the SOP, tasks of another project or made
for another SOP version, tasks without ``item_id``, a user who annotated a task twice: the latest counts).
``attrs["vendor"]`` holds the counts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prelabel.errors import InputError
from prelabel.sop.spec import SOP

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HUMANS_FORMATS",
    "VENDOR_COLUMNS",
    "VENDOR_FORMATS",
    "Annotation",
    "Found",
    "detect_format",
    "is_json",
    "load_export",
    "read_vendor_labels",
    "sop_of",
]

#: ``--humans-format``: ``auto`` (from the content), ``table`` (CSV/TSV/Parquet, long or wide), or a tool's.
HUMANS_FORMATS = ("auto", "table", "label-studio", "label-studio-min", "label-studio-csv", "argilla")
VENDOR_FORMATS = HUMANS_FORMATS[2:]
#: Columns a vendor export adds to the long frame (never slices; compare leaves them out).
VENDOR_COLUMNS = ("gold", "lead_time", "created_at", "vendor_task")
#: Columns of Label Studio's CSV export (label-studio-converter ``csv2``) that a human-labels table lacks.
LS_CSV_COLUMNS = frozenset({"annotator", "annotation_id", "created_at", "updated_at", "lead_time"})
_VERSION = re.compile(r"^prelabel:([^@:]+)@([^:]+):")
EXPECTED = (
    "expected a Label Studio export (JSON: tasks with 'annotations'; JSON_MIN: records with "
    "'annotator'; CSV) or Argilla records with 'responses'"
)


def sop_of(model_version: Any) -> str | None:
    """``<sop>@<version>`` from a prediction's ``model_version`` / a suggestion's ``agent`` that prelabel
    wrote (``prelabel:<sop>@<version>:<model>:<hash>``); ``None`` for anything else."""
    match = _VERSION.match(str(model_version or ""))
    return f"{match[1]}@{match[2]}" if match else None


@dataclass
class Annotation:
    """One annotation (Label Studio) or response (Argilla) as read, before it is judged a vote."""

    task: str
    item_id: str | None
    annotator: str | None
    #: The label values of the label control/question (``None``: no label in this annotation).
    labels: list[str] | None
    gold: bool = False
    lead_time: float | None = None
    created_at: str | None = None
    updated_at: str | None = None
    #: Why this is not a vote whatever its content (``cancelled``, ``draft``, ``discarded``), or ``""``.
    not_a_vote: str = ""
    #: The annotation's own id, to order two annotations with the same timestamps.
    order: int = 0


@dataclass
class Found:
    """What a reader found in one export: its annotations and, per task, its project and SOP version."""

    format: str
    n_tasks: int = 0
    annotations: list[Annotation] = field(default_factory=list)
    #: Tasks nobody annotated (ids).
    unannotated: list[str] = field(default_factory=list)
    #: task id -> Label Studio project id (when the export has it).
    projects: dict[str, str] = field(default_factory=dict)
    #: task id -> ``<sop>@<version>`` of prelabel's prediction/suggestion on it (when there is one).
    versions: dict[str, str] = field(default_factory=dict)
    #: Columns of `VENDOR_COLUMNS` the format has.
    columns: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def _json(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise InputError(f"{path}: the file is empty; {EXPECTED}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: not valid JSON ({exc.msg}); {EXPECTED}") from None
        return rows
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (cut off?)" if exc.pos >= len(text.rstrip()) else ""
        raise InputError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON{cut} ({exc.msg}); {EXPECTED}"
        ) from None


def _json_kind(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("records"), list):
        payload = payload["records"]  # prelabel's Argilla file, responses added
        return "argilla" if payload and isinstance(payload[0], dict) else None
    if not isinstance(payload, list) or not payload or not all(isinstance(r, dict) for r in payload):
        return None
    first = payload[0]
    if "annotations" in first or "completions" in first or ("data" in first and "id" in first):
        return "label-studio"
    if "annotation_id" in first and "annotator" in first:
        return "label-studio-min"
    if "responses" in first or "fields" in first or any(str(k).endswith(".responses") for k in first):
        return "argilla"
    return None


def _records_path(path: Path) -> Path:
    """An Argilla ``Dataset.to_disk`` directory: its ``records.json``."""
    return path / "records.json" if path.is_dir() else path


def is_json(path: Path) -> bool:
    """Whether ``path`` can only be a vendor export: a JSON/JSONL file, or a directory (Argilla's)."""
    return path.is_dir() or path.suffix.lower() in (".json", ".jsonl", ".ndjson")


def detect_format(path: str | Path) -> str:
    """Which of `HUMANS_FORMATS` (not ``auto``) ``path`` holds, from its content: JSON/JSONL files and
    Argilla ``to_disk`` directories are vendor exports (or an ``InputError`` saying what was expected), a CSV
    with Label Studio's export columns is ``label-studio-csv``, other tables are ``table``."""
    path = Path(path)
    if is_json(path):
        return load_export(path, "auto")[0]
    if path.suffix.lower() in (".csv", ".tsv", ".tab") and path.is_file():
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
        columns = {c.strip().strip('"') for c in header.strip().split("\t" if path.suffix != ".csv" else ",")}
        if LS_CSV_COLUMNS <= columns:
            return "label-studio-csv"
    return "table"


def load_export(path: str | Path, format: str) -> tuple[str, Any]:
    """The format (``format``, or detected when ``auto``) and the parsed content of a JSON export."""
    path = _records_path(Path(path))
    if not path.is_file():
        raise InputError(f"{path}: no such human labels file")
    payload = _json(path)
    kind = _json_kind(payload)
    listed = payload.get("records") if isinstance(payload, dict) else payload
    if isinstance(listed, list) and not listed:
        raise InputError(f"{path}: the export holds no task or record; {EXPECTED}")
    if kind is None or (format != "auto" and kind != format):
        shape = "a JSON object" if isinstance(payload, dict) else f"JSON of {type(payload).__name__}"
        if isinstance(payload, list) and payload and isinstance(payload[0], dict):
            keys = ", ".join(list(payload[0])[:6])
            shape = f"records with keys {keys}"
        wanted = EXPECTED if format == "auto" else f"expected a {format} export"
        raise InputError(f"{path}: not a Label Studio or Argilla export ({shape}); {wanted}")
    return kind, payload


def _unknown(labels: list[str], sop: SOP | None) -> list[str]:
    if sop is None:
        return []
    known = {*sop.label_index, sop.abstain.label}
    return [label for label in labels if label not in known]


def _few(values: Iterable[str], limit: int = 5) -> str:
    listed = list(dict.fromkeys(values))
    return ", ".join(listed[:limit]) + (", ..." if len(listed) > limit else "")


def _when(a: Annotation) -> tuple[str, int]:
    return (a.updated_at or a.created_at or "", a.order)


def _latest(annotations: list[Annotation], warnings: list[str]) -> list[Annotation]:
    """One annotation per (task, user): the latest (``updated_at``, then ``created_at``, then its id)."""
    best: dict[tuple[str, str | None], Annotation] = {}
    twice: list[str] = []
    for a in annotations:
        key = (a.task, a.annotator)
        held = best.get(key)
        if held is not None:
            twice.append(a.task)
            if _when(a) < _when(held):
                continue
        best[key] = a
    if twice:
        warnings.append(
            f"{len(twice)} annotations by a user who annotated the same task again: the latest counts "
            f"(tasks {_few(twice)})"
        )
    kept = {id(a) for a in best.values()}
    return [a for a in annotations if id(a) in kept]


def _by_project(found: Found, path: Path, warnings: list[str]) -> set[str]:
    """The tasks of other projects than the export's (the one most tasks belong to)."""
    counts = Counter(found.projects.values())
    if len(counts) < 2:
        return set()
    (top, n), (_, second) = counts.most_common(2)
    if n == second:
        raise InputError(
            f"{path}: tasks of {len(counts)} Label Studio projects ({_few(sorted(counts))}) in equal "
            "numbers; export one project"
        )
    others = {task for task, project in found.projects.items() if project != top}
    warnings.append(
        f"{len(others)} tasks of other Label Studio projects ({_few(sorted(set(counts) - {top}))}) than "
        f"project {top} ({n} tasks): their annotations are not votes"
    )
    return others


def _by_version(found: Found, sop: SOP | None, warnings: list[str]) -> set[str]:
    """The tasks whose prediction was made for another SOP version than ``sop`` (none without an SOP)."""
    seen = Counter(found.versions.values())
    if sop is None:
        if len(seen) > 1:
            warnings.append(
                f"tasks made for several SOP versions ({_few(sorted(seen))}): pass --sop to keep only "
                "its tasks"
            )
        return set()
    wanted = f"{sop.id}@{sop.version}"
    others = {task for task, version in found.versions.items() if version != wanted}
    if others:
        versions = _few(sorted({found.versions[t] for t in others}))
        warnings.append(
            f"{len(others)} tasks were made for another SOP version ({versions}) than {wanted}: their "
            f"annotations are not votes (tasks {_few(sorted(others))})"
        )
    return others


def _judge(
    found: Found, sop: SOP | None, path: Path
) -> tuple[list[Annotation], list[str], list[str], dict[str, int]]:
    """The votes among ``found``'s annotations, with notes, warnings and counts of what is not a vote."""
    notes, warnings = list(found.notes), list[str]()
    counts: Counter[str] = Counter()
    left_out = _by_project(found, path, warnings) | _by_version(found, sop, warnings)
    votes: list[Annotation] = []
    no_id: list[str] = []
    not_in_sop: list[str] = []
    unknown_labels: Counter[str] = Counter()
    for a in found.annotations:
        if a.task in left_out:
            counts["other_project_or_version"] += 1
        elif a.not_a_vote:
            counts[a.not_a_vote] += 1
        elif not a.labels:
            counts["no_label"] += 1
        elif not a.item_id:
            counts["no_item_id"] += 1
            no_id.append(a.task)
        elif unknown := _unknown(a.labels, sop):
            counts["not_in_sop"] += 1
            not_in_sop.append(a.task)
            unknown_labels.update(unknown)
        else:
            votes.append(a)
    latest = _latest(votes, warnings)
    counts["duplicate"] = len(votes) - len(latest)
    votes = latest
    what = {
        "cancelled": "cancelled (skipped) annotations",
        "draft": "draft responses",
        "discarded": "discarded responses",
        "no_label": "annotations without a label",
    }
    for key, text in what.items():
        if counts[key]:
            notes.append(f"{counts[key]} {text}: not votes")
    if found.unannotated:
        counts["tasks_without_annotations"] = len(found.unannotated)
        notes.append(f"{len(found.unannotated)} tasks without annotations (tasks {_few(found.unannotated)})")
    if no_id:
        warnings.append(
            f"{len(no_id)} annotations on tasks without data.item_id: not votes (tasks {_few(no_id)})"
        )
    if not_in_sop:
        assert sop is not None
        warnings.append(
            f"{len(not_in_sop)} annotations with labels outside SOP {sop.id}@{sop.version} "
            f"({_few(unknown_labels)}): not votes (tasks {_few(not_in_sop)})"
        )
    gold = sum(a.gold for a in votes)
    if gold:
        notes.append(f"{gold} gold (ground_truth) annotations: kept apart, not votes")
    counts["gold"] = gold
    return votes, notes, warnings, {k: int(v) for k, v in counts.items() if v}


def read_vendor_labels(path: str | Path, format: str = "auto", *, sop: SOP | None = None) -> pd.DataFrame:
    """A Label Studio or Argilla export (``format``: one of `VENDOR_FORMATS`, or ``auto``) as the long frame
    of human labels (see the module docstring). ``sop``: labels outside it and tasks made for another
    version of it are not votes (warned)."""
    import pandas as pd

    from prelabel.vendors import argilla, label_studio

    path = Path(path)
    if format == "auto" and not is_json(path) and detect_format(path) == "table":
        raise InputError(f"{path}: not a Label Studio or Argilla export; {EXPECTED}")
    if format == "label-studio-csv" or (format == "auto" and not is_json(path)):
        found = label_studio.read_csv(path)
    else:
        kind, payload = load_export(path, format)
        found = argilla.read(payload, sop) if kind == "argilla" else label_studio.read(payload, kind)
    votes, notes, warnings, counts = _judge(found, sop, path)
    tasks = {task: k for k, task in enumerate(dict.fromkeys(a.task for a in found.annotations))}
    votes.sort(key=lambda a: (tasks[a.task], a.created_at or "", a.order))  # JSON_MIN lists newest first
    rows = {
        "item_id": [a.item_id for a in votes],
        "annotator": [a.annotator or "" for a in votes],
        "label": [";".join(a.labels or []) for a in votes],
    }
    if "gold" in found.columns:
        rows["gold"] = [a.gold for a in votes]
    if "lead_time" in found.columns:
        rows["lead_time"] = [a.lead_time for a in votes]
    if "created_at" in found.columns:
        rows["created_at"] = [a.created_at for a in votes]
    rows["vendor_task"] = [a.task for a in votes]
    frame = pd.DataFrame(rows)
    if "lead_time" in frame:
        frame["lead_time"] = pd.to_numeric(frame["lead_time"], errors="coerce")
    if "created_at" in frame:
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, errors="coerce", format="ISO8601")
    label = {"label-studio": "a Label Studio JSON", "label-studio-min": "a Label Studio JSON_MIN"}
    name = {**label, "label-studio-csv": "a Label Studio CSV", "argilla": "an Argilla"}[found.format]
    notes.insert(
        0,
        f"human labels read from {name} export: {found.n_tasks} tasks, {len(found.annotations)} "
        f"annotations, {len(frame)} votes",
    )
    frame.attrs.update(
        source=str(path),
        notes=notes,
        warnings=warnings,
        vendor={"format": found.format, "tasks": found.n_tasks, "annotations": len(found.annotations),
                "votes": len(frame), "not_votes": counts},
    )  # fmt: skip
    return frame
