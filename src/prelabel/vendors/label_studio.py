"""Reading Label Studio's exports of annotated tasks, as Label Studio writes them.

- JSON (``exportType=JSON``; Label Studio's ``data_export`` serializers): a list of tasks, each with ``id``,
  ``data`` (prelabel's ``item_id``, ``text``, ...), ``project``, ``predictions`` (prelabel's carry
  ``model_version`` ``prelabel:<sop>@<version>:...``) and ``annotations``: ``result`` (regions with
  ``from_name``, ``type``, ``value``), ``completed_by`` (a user id, or ``{id, email, ...}``),
  ``was_cancelled``, ``ground_truth``, ``lead_time``, ``created_at``, ``updated_at``.
- JSON_MIN (label-studio-converter ``convert_to_json_min``): one flat record per annotation: the task's
  data keys, ``id`` (the task), the control name (``label``) holding the prettified value — a choice as
  text, several choices as ``{"choices": [...]}``, taxonomy paths as ``[{"taxonomy": [[...]]}]`` — and
  ``annotator`` (email, or the user id), ``annotation_id``, ``created_at``, ``updated_at``, ``lead_time``.
  The converter leaves cancelled annotations out; a task nobody annotated is a record without them.
- CSV (the converter's ``csv2``): the same columns, sorted; lists and objects as JSON text.

A taxonomy path becomes its leaf (the last value: prelabel's config uses label ids as values).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prelabel.inputs.tables import read_table
from prelabel.vendors.labels import Annotation, Found, sop_of
from prelabel.vendors.names import LS_CONTROL

__all__ = ["annotator_of", "label_values", "read", "read_csv"]


def label_values(value: Any) -> list[str]:
    """The label values of a ``label`` result: a ``choices``/``taxonomy`` value dict (JSON), or the
    converter's prettified value (text, such a dict, a list of them, or that as JSON text in a CSV)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                return label_values(json.loads(text))
            except json.JSONDecodeError:
                pass
        return [text]
    if isinstance(value, list):
        return [v for part in value for v in label_values(part)]
    if isinstance(value, dict):
        if "taxonomy" in value:
            return [str(path[-1]) for path in value["taxonomy"] if path]
        if "choices" in value:
            return [str(c) for c in value["choices"]]
        return []
    return [str(value)]


def annotator_of(completed_by: Any) -> str | None:
    """The annotator: the user's email when the export has it, else the user id as text."""
    if isinstance(completed_by, dict):
        found = completed_by.get("email") or completed_by.get("id")
        return None if found in (None, "") else str(found)
    return None if completed_by in (None, "") else str(completed_by)


def _number(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _result_labels(result: list[dict[str, Any]]) -> list[str] | None:
    values = [v for r in result if r.get("from_name") == LS_CONTROL for v in label_values(r.get("value"))]
    return values or None


def _task(found: Found, task: dict[str, Any]) -> None:
    task_id = str(task.get("id"))
    data = task.get("data") or {}
    item_id = _text(data.get("item_id"))
    if task.get("project") is not None:
        found.projects[task_id] = str(task["project"])
    for prediction in task.get("predictions") or []:
        version = sop_of(prediction.get("model_version")) if isinstance(prediction, dict) else None
        if version:
            found.versions[task_id] = version
    annotations = task.get("annotations", task.get("completions")) or []
    if not annotations:
        found.unannotated.append(task_id)
    for a in annotations:
        cancelled = bool(a.get("was_cancelled") or a.get("skipped"))
        found.annotations.append(
            Annotation(
                task=task_id,
                item_id=item_id,
                annotator=annotator_of(a.get("completed_by")),
                labels=_result_labels(a.get("result") or []),
                gold=bool(a.get("ground_truth")),
                lead_time=_seconds(a.get("lead_time")),
                created_at=_text(a.get("created_at")),
                updated_at=_text(a.get("updated_at")),
                not_a_vote="cancelled" if cancelled else "",
                order=_number(a.get("id")),
            )
        )


def _flat(found: Found, record: dict[str, Any]) -> None:
    """One JSON_MIN record or CSV row (an annotation, or a task nobody annotated)."""
    task_id = str(record.get("id"))
    if _text(record.get("annotation_id")) is None:
        found.unannotated.append(task_id)
        return
    found.annotations.append(
        Annotation(
            task=task_id,
            item_id=_text(record.get("item_id")),
            annotator=_text(record.get("annotator")),
            labels=label_values(record.get(LS_CONTROL)) or None,
            lead_time=_seconds(record.get("lead_time")),
            created_at=_text(record.get("created_at")),
            updated_at=_text(record.get("updated_at")),
            order=_number(record.get("annotation_id")),
        )
    )


def read(payload: list[dict[str, Any]], kind: str) -> Found:
    """A parsed JSON (``label-studio``) or JSON_MIN (``label-studio-min``) export."""
    if kind == "label-studio":
        found = Found(kind, columns=("gold", "lead_time", "created_at"))
        for task in payload:
            _task(found, task)
        found.n_tasks = len(payload)
        return found
    found = Found(kind, columns=("lead_time", "created_at"))
    for record in payload:
        _flat(found, record)
    found.n_tasks = len({str(r.get("id")) for r in payload})
    return found


def read_csv(path: Path) -> Found:
    """A CSV export (its cells as text)."""
    frame = read_table(path, "Label Studio CSV export")
    found = Found("label-studio-csv", columns=("lead_time", "created_at"))
    records = frame.to_dict("records")
    for record in records:
        _flat(found, record)
    found.n_tasks = len({str(r.get("id")) for r in records})
    return found
