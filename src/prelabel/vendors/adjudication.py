"""Reading adjudicated tasks back: the tool's export of ``prelabel export CMP_DIR --candidates`` as rulings.

Label Studio (the JSON export) and Argilla (records with responses, as `prelabel.vendors.argilla` reads
them). A task's decision is the adjudicator's latest submitted annotation (Label Studio: not cancelled,
latest ``updated_at``; Argilla: the last submitted response) holding a label: its label control
(``label``/``labels``), "is the SOP unclear on this item?" (``sop_unclear``: yes/no) and the ruling text
(``ruling``). Each becomes a `prelabel.sop.rulings.Ruling` carrying the item (``item_id``, text, language)
and the SOP rules the task showed (``rule_ids``). ``sop_unclear`` left unanswered counts as "yes" when the
adjudicator wrote a ruling, else "no".

    >>> import prelabel
    >>> sop = prelabel.bundled_sop("customer_feedback_intent")
    >>> label = {"taxonomy": [["product", "product.damaged"]]}
    >>> result = [{"from_name": "label", "type": "taxonomy", "value": label},
    ...           {"from_name": "ruling", "type": "textarea", "value": {"text": ["Damage first."]}}]
    >>> task = {"id": 7, "data": {"item_id": "a1", "text": "late and broken", "rule_ids": "R1"},
    ...         "annotations": [{"id": 1, "completed_by": {"id": 3, "email": "lead@vendor.test"},
    ...                          "was_cancelled": False, "result": result}]}
    >>> ruling, = adjudicated([task], sop, "adjudicated.json").rulings
    >>> ruling.label, ruling.sop_unclear, ruling.rules, ruling.adjudicator, ruling.source
    (('product.damaged',), True, ('R1',), 'lead@vendor.test', 'adjudicated.json#task 7')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.sop.rulings import Ruling
from prelabel.sop.spec import SOP
from prelabel.vendors.argilla import records_of
from prelabel.vendors.argilla import responses as argilla_responses
from prelabel.vendors.label_studio import annotator_of, label_values
from prelabel.vendors.labels import load_export
from prelabel.vendors.names import LS_CONTROL, RULING, SOP_UNCLEAR, argilla_question

__all__ = ["Adjudicated", "adjudicated", "read_adjudication", "read_rulings"]


@dataclass
class Adjudicated:
    """The rulings of an adjudication export, and the tasks nobody decided."""

    rulings: list[Ruling]
    n_tasks: int
    undecided: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: rulings read, tasks without a decision."""
        left = f"; {len(self.undecided)} tasks without a decision" if self.undecided else ""
        return f"{len(self.rulings)} rulings from {self.n_tasks} adjudication tasks{left}"


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("text", "")
    if isinstance(value, list):
        return "\n".join(str(v) for v in value if v is not None).strip()
    return "" if value is None else str(value).strip()


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value or "").split(";") if part.strip())


def _unclear(answer: list[str], ruling: str) -> bool:
    return answer[0].strip().lower() == "yes" if answer else bool(ruling)


def _ruling(
    sop: SOP,
    task: str,
    data: dict[str, Any],
    decision: tuple[list[str], list[str], str, str | None],
    where: str,
) -> Ruling:
    labels, unclear, text, who = decision
    known = set(sop.answer_ids)
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise InputError(
            f"{where}: task {task}: label {', '.join(unknown)} is not in SOP {sop.id}@{sop.version}"
        )
    if len(labels) > 1 and not sop.multi_label:
        raise InputError(f"{where}: task {task}: {len(labels)} labels for the single-label SOP {sop.id}")
    item_id = data.get("item_id")
    if item_id in (None, ""):
        raise InputError(f"{where}: task {task}: no item_id (not a task of prelabel export --candidates?)")
    language = data.get("language")
    return Ruling(
        item_id=str(item_id),
        text=str(data.get("text") or ""),
        label=tuple(labels),
        ruling=text,
        sop_unclear=_unclear(unclear, text),
        rules=_ids(data.get("rule_ids")),
        language=str(language) if language else None,
        source=f"{where}#task {task}",
        adjudicator=who,
    )


def _check_sop(data: dict[str, Any], sop: SOP, where: str, task: str) -> None:
    made_for = str(data.get("sop") or "")
    if made_for and made_for.split("@")[0] != sop.id:
        raise InputError(f"{where}: task {task} adjudicates SOP {made_for}, not {sop.id}")


def _ls_decision(task: dict[str, Any]) -> tuple[list[str], list[str], str, str | None] | None:
    done = [a for a in task.get("annotations") or [] if not (a.get("was_cancelled") or a.get("skipped"))]
    done.sort(key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), str(a.get("id") or "")))
    for annotation in reversed(done):
        result = annotation.get("result") or []
        by_name: dict[str, list[Any]] = {}
        for region in result:
            by_name.setdefault(str(region.get("from_name")), []).append(region.get("value"))
        labels = label_values(by_name.get(LS_CONTROL, []))
        if labels:
            unclear = label_values(by_name.get(SOP_UNCLEAR, []))
            text = "\n".join(_text(v) for v in by_name.get(RULING, [])).strip()
            return labels, unclear, text, annotator_of(annotation.get("completed_by"))
    return None


def _argilla_decision(
    record: dict[str, Any], sop: SOP
) -> tuple[list[str], list[str], str, str | None] | None:
    by_user: dict[str, dict[str, Any]] = {}
    for question in (argilla_question(sop), SOP_UNCLEAR, RULING):
        for value, user, status in argilla_responses(record, question):
            if str(status or "submitted").lower() == "submitted":
                by_user.setdefault(str(user), {})[question] = value
    for user, answers in reversed(list(by_user.items())):
        label = answers.get(argilla_question(sop))
        labels = [str(v) for v in label] if isinstance(label, list) else ([str(label)] if label else [])
        if labels:
            unclear = answers.get(SOP_UNCLEAR)
            return labels, [str(unclear)] if unclear else [], _text(answers.get(RULING)), user
    return None


def adjudicated(payload: Any, sop: SOP, where: str, kind: str = "label-studio") -> Adjudicated:
    """The rulings of a parsed adjudication export (``kind``: ``label-studio`` or ``argilla``)."""
    rulings: list[Ruling] = []
    undecided: list[str] = []
    tasks = records_of(payload) if kind == "argilla" else payload
    for task in tasks:
        if kind == "argilla":
            name = str(task.get("_server_id") or task.get("id"))
            data = {**(task.get("fields") or {}), **(task.get("metadata") or {})} or task
            decision = _argilla_decision(task, sop)
        else:
            name, data, decision = str(task.get("id")), task.get("data") or {}, _ls_decision(task)
        _check_sop(data, sop, where, name)
        if decision is None:
            undecided.append(name)
        else:
            rulings.append(_ruling(sop, name, data, decision, where))
    if not rulings:
        raise InputError(f"no adjudicated decision in {where} ({len(tasks)} tasks, none submitted)")
    return Adjudicated(rulings, len(tasks), undecided)


def read_adjudication(path: str | Path, sop: SOP) -> Adjudicated:
    """An adjudication export (Label Studio JSON, or Argilla records) as rulings, with the tasks left
    undecided. Raises ``InputError`` for a file that is no such export, a task of another SOP, a label
    outside ``sop`` (naming the task), or an export without any decision."""
    kind, payload = load_export(path, "auto")
    if kind not in ("label-studio", "argilla"):
        raise InputError(f"{path}: a {kind} export has no adjudication; export the tasks as JSON")
    return adjudicated(payload, sop, str(path), kind)


def read_rulings(path: str | Path, sop: SOP) -> list[Ruling]:
    """The rulings of an adjudication export (one per decided task); see `read_adjudication`."""
    return read_adjudication(path, sop).rulings
