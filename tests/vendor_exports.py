"""Vendor exports built from one set of annotations, shaped as the tools write them.

- Label Studio JSON: the task and annotation fields of Label Studio's ``data_export`` serializers
  (HumanSignal/label-studio ``label_studio/data_export/serializers.py``: ``AnnotationSerializer`` with
  ``completed_by`` as ``{id, email, first_name, last_name}``, or the bare user id) — tasks as prelabel's
  ``label-studio`` export imports them (``data.item_id``, a prediction with ``model_version``).
- JSON_MIN and CSV: made from that JSON by label-studio-sdk's own converter (``label_studio_sdk.converter
  .Converter.convert_to_json_min`` / ``convert_to_csv``, what Label Studio runs for those export types).
- Argilla: records made with the argilla SDK and written by its own ``to_list(flatten=...)`` (``to_disk``'s
  ``records.json`` is ``to_list(flatten=False)``).
- The long CSV ``item_id,annotator,label`` of the same votes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import prelabel
from helpers import quiet_import
from prelabel.exports.label_studio import label_config

USERS = {"ann_a": 11, "ann_b": 12, "ann_c": 13, "lead": 14}
STAMP = "2026-12-0{day}T1{hour}:00:00.000000Z"


@dataclass
class Vote:
    """One annotation: who labeled which item with what (a list for multi-label SOPs)."""

    item_id: str
    user: str
    label: str | list[str]
    gold: bool = False
    cancelled: bool = False
    lead_time: float = 12.5
    hour: int = 0
    status: str = "submitted"  # Argilla
    extra: dict[str, Any] = field(default_factory=dict)


def _labels(vote: Vote) -> list[str]:
    return vote.label if isinstance(vote.label, list) else [vote.label]


def _value(sop: prelabel.SOP, labels: list[str]) -> tuple[str, dict[str, Any]]:
    if any(label.children for label in sop.labels):
        return "taxonomy", {"taxonomy": [sop.ancestors(label) or [label] for label in labels]}
    return "choices", {"choices": labels}


def _result(sop: prelabel.SOP, labels: list[str], n: int) -> list[dict[str, Any]]:
    kind, value = _value(sop, labels)
    return [
        {
            "id": f"r{n}",
            "type": kind,
            "value": value,
            "origin": "manual",
            "to_name": "text",
            "from_name": "label",
        }
    ]


def ls_tasks(
    sop: prelabel.SOP,
    votes: list[Vote],
    *,
    texts: dict[str, str] | None = None,
    project: int = 7,
    email: bool = True,
    version: str | None = None,
    unannotated: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """A Label Studio JSON export: one task per item (in first-seen order), its annotations in order."""
    order = list(dict.fromkeys([*[v.item_id for v in votes], *unannotated]))
    tasks: list[dict[str, Any]] = []
    version = version or f"prelabel:{sop.id}@{sop.version}:gpt-4o-mini:abababababab"
    n = 0
    for k, item in enumerate(order, 1):
        task_id = 100 + k
        annotations = []
        for vote in (v for v in votes if v.item_id == item):
            n += 1
            user = USERS[vote.user]
            who: Any = {"id": user, "email": f"{vote.user}@vendor.test", "first_name": "", "last_name": ""}
            stamp = STAMP.format(day=1 + k % 8, hour=vote.hour)
            annotations.append(
                {
                    "id": 1000 + n,
                    "completed_by": who if email else user,
                    "result": [] if vote.cancelled else _result(sop, _labels(vote), n),
                    "was_cancelled": vote.cancelled,
                    "ground_truth": vote.gold,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "draft_created_at": None,
                    "lead_time": vote.lead_time,
                    "prediction": {},
                    "result_count": 0,
                    "unique_id": str(uuid.UUID(int=n)),
                    "import_id": None,
                    "last_action": None,
                    "bulk_created": False,
                    "task": task_id,
                    "project": project,
                    "updated_by": user,
                    "parent_prediction": 500 + k,
                    "parent_annotation": None,
                    "last_created_by": None,
                }
            )
        kind, value = _value(sop, [sop.leaf_ids[0]])
        prediction = {
            "id": 500 + k,
            "result": [{"from_name": "label", "to_name": "text", "type": kind, "value": value}],
            "model_version": version,
            "created_ago": "1 day",
            "score": 0.8,
            "cluster": None,
            "neighbors": None,
            "mislabeling": 0.0,
            "created_at": "2026-12-01T09:00:00.000000Z",
            "updated_at": "2026-12-01T09:00:00.000000Z",
            "model": None,
            "model_run": None,
            "task": task_id,
            "project": project,
        }
        tasks.append(
            {
                "id": task_id,
                "annotations": annotations,
                "file_upload": "tasks.json",
                "drafts": [],
                "predictions": [prediction],
                "data": {
                    "item_id": item,
                    "text": (texts or {}).get(item, f"text of {item}"),
                    "language": "en",
                    "meta": {},
                },
                "meta": {},
                "created_at": "2026-12-01T09:00:00.000000Z",
                "updated_at": "2026-12-01T09:00:00.000000Z",
                "inner_id": k,
                "total_annotations": sum(not a["was_cancelled"] for a in annotations),
                "cancelled_annotations": sum(a["was_cancelled"] for a in annotations),
                "total_predictions": 1,
                "comment_count": 0,
                "unresolved_comment_count": 0,
                "last_comment_updated_at": None,
                "project": project,
                "updated_by": None,
                "comment_authors": [],
            }
        )
    return tasks


def write_json(path: Path, payload: Any) -> Path:
    """``payload`` as JSON (Label Studio writes its exports indented)."""
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _converter(sop: prelabel.SOP) -> Any:
    converter = quiet_import("label_studio_sdk.converter")
    return converter.Converter(config=label_config(sop), project_dir=None, download_resources=False)


def ls_min(sop: prelabel.SOP, tasks_json: Path, out: Path) -> Path:
    """JSON_MIN of ``tasks_json``, written by label-studio-sdk's converter."""
    _converter(sop).convert_to_json_min(str(tasks_json), str(out.parent / "min"), is_dir=False)
    (out.parent / "min" / "result.json").replace(out)
    return out


def ls_csv(sop: prelabel.SOP, tasks_json: Path, out: Path) -> Path:
    """CSV of ``tasks_json``, written by label-studio-sdk's converter."""
    _converter(sop).convert_to_csv(str(tasks_json), str(out), is_dir=False, sep=",")
    return out


def argilla_records(
    sop: prelabel.SOP, votes: list[Vote], *, flatten: bool, version: str | None = None
) -> list[dict[str, Any]]:
    """Records with responses as argilla 2.x writes them (``to_list``), one per item."""
    rg = quiet_import("argilla")
    generic = quiet_import("argilla.records._io")
    question = "labels" if sop.multi_label else "label"
    agent = version or f"prelabel:{sop.id}@{sop.version}:gpt-4o-mini:abababababab"
    records = []
    for item in dict.fromkeys(v.item_id for v in votes):
        responses = [
            rg.Response(
                question,
                _labels(v) if sop.multi_label else _labels(v)[0],
                user_id=uuid.uuid5(uuid.NAMESPACE_DNS, v.user),
                status=v.status,
            )
            for v in votes
            if v.item_id == item
        ]
        suggestion = rg.Suggestion(
            question, [sop.leaf_ids[0]] if sop.multi_label else sop.leaf_ids[0], agent=agent
        )
        records.append(
            rg.Record(
                id=item,
                fields={"text": f"text of {item}"},
                metadata={"item_id": item, "language": "en"},
                responses=responses,
                suggestions=[suggestion],
            )
        )
    return generic.GenericIO.to_list(records, flatten=flatten)


def argilla_user(name: str) -> str:
    """The Argilla user id the records give ``name``."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name))


def long_csv(path: Path, votes: list[Vote], *, annotator: str = "email") -> Path:
    """The same votes as ``item_id,annotator,label`` (annotators named as the export names them)."""
    lines = ["item_id,annotator,label"]
    for v in votes:
        who = {"email": f"{v.user}@vendor.test", "argilla": argilla_user(v.user), "id": str(USERS[v.user])}
        lines.append(f"{v.item_id},{who[annotator]},{';'.join(_labels(v))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
