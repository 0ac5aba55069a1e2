"""Reading Argilla 2.x records with responses, as the SDK writes them.

- ``Dataset.to_disk(DIR)`` (``DIR/records.json``) and ``dataset.records.to_list(flatten=False)``: records as
  ``Record.to_dict()`` gives them: ``id``, ``fields``, ``metadata`` (prelabel's ``item_id``),
  ``suggestions`` (``{question: {value, score, agent}}``, prelabel's agent ``prelabel:<sop>@<version>:...``),
  ``responses`` (``{question: [{value, user_id}]}``), ``status`` and ``_server_id``. Argilla 2.8's
  ``to_dict`` leaves the response status out: such responses are read as submitted (a note says so).
- ``to_list(flatten=True)``: fields and metadata as top-level keys, and per question ``Q.responses``,
  ``Q.responses.users``, ``Q.responses.status`` (``submitted``/``draft``/``discarded``) and
  ``Q.suggestion.agent``.
- prelabel's own export file (``{"settings": ..., "records": [...]}``) with responses added.

The label question is ``label`` (``labels`` for multi-label SOPs; `prelabel.vendors.names.argilla_question`).
The annotator is the response's ``user_id`` (Argilla exports carry no email).
"""

from __future__ import annotations

from typing import Any

from prelabel.sop.spec import SOP
from prelabel.vendors.labels import Annotation, Found, sop_of
from prelabel.vendors.names import argilla_question

__all__ = ["read", "records_of", "responses"]

_NOT_VOTES = {"draft": "draft", "discarded": "discarded"}


def records_of(payload: Any) -> list[dict[str, Any]]:
    """The records of a parsed export (a list, or prelabel's ``{"settings", "records"}`` file)."""
    return payload["records"] if isinstance(payload, dict) else payload


def _question(records: list[dict[str, Any]], sop: SOP | None) -> str:
    if sop is not None:
        return argilla_question(sop)
    for record in records:
        answered = record.get("responses") or {}
        for name in ("label", "labels"):
            if name in answered or f"{name}.responses" in record:
                return name
    return "label"


def _values(value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def responses(record: dict[str, Any], question: str) -> list[tuple[Any, Any, Any]]:
    """``(value, user_id, status)`` per response to ``question`` (status ``None``: not in the export)."""
    if isinstance(record.get("responses"), dict):
        given = record["responses"].get(question) or []
        return [(r.get("value"), r.get("user_id"), r.get("status")) for r in given]
    values = record.get(f"{question}.responses") or []
    users = record.get(f"{question}.responses.users") or [None] * len(values)
    statuses = record.get(f"{question}.responses.status") or [None] * len(values)
    return list(zip(values, users, statuses, strict=False))


def _agent(record: dict[str, Any], question: str) -> Any:
    suggestion = (record.get("suggestions") or {}).get(question)
    return (
        suggestion.get("agent")
        if isinstance(suggestion, dict)
        else record.get(f"{question}.suggestion.agent")
    )


def read(payload: Any, sop: SOP | None) -> Found:
    """A parsed Argilla export."""
    records = records_of(payload)
    question = _question(records, sop)
    found = Found("argilla", n_tasks=len(records))
    no_status = 0
    for record in records:
        task = str(record.get("_server_id") or record.get("id"))
        nested = record.get("metadata")
        metadata: dict[str, Any] = nested if isinstance(nested, dict) else record
        item_id = metadata.get("item_id", record.get("id"))
        version = sop_of(_agent(record, question))
        if version:
            found.versions[task] = version
        given = responses(record, question)
        if not given:
            found.unannotated.append(task)
        for order, (value, user, status) in enumerate(given):
            no_status += status is None
            found.annotations.append(
                Annotation(
                    task=task,
                    item_id=None if item_id in (None, "") else str(item_id),
                    annotator=None if user in (None, "") else str(user),
                    labels=_values(value),
                    not_a_vote=_NOT_VOTES.get(str(status or "submitted").lower(), ""),
                    order=order,
                )
            )
    if no_status:
        found.notes.append(
            f"{no_status} Argilla responses carry no status (Record.to_dict leaves it out): read as "
            "submitted; export with records.to_list(flatten=True) to leave drafts and discarded responses out"
        )
    return found
