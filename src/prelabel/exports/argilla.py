"""Argilla 2.x: records with suggestions, and the dataset settings built from the SOP.

The export is one JSON file, ``{"settings": ..., "records": [...]}``. Each record has the shape of
``argilla.Record.to_dict()``: ``fields`` (text), ``metadata`` (item id, language, scalar item metadata: a
``meta`` key named ``item_id`` or ``language`` is exported as ``meta_item_id``/``meta_language``) and
``suggestions`` keyed by question name (``label`` or ``labels``, and ``rationale``) with ``value``,
``score`` (confidence) and ``agent`` (``prelabel:<sop>@<version>:<model>:<prompt-hash>``). `to_argilla`
turns the file into ``argilla`` objects to push (needs ``pip install 'prelabel[argilla]'``).

    >>> import prelabel
    >>> settings = argilla_settings(prelabel.bundled_sop("seller_content_risk"))
    >>> [q["name"] for q in settings["questions"]], settings["questions"][0]["type"]
    (['labels', 'rationale'], 'multi_label_selection')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prelabel._jsonio import write_text
from prelabel.errors import InputError
from prelabel.exports.candidates import Candidates
from prelabel.exports.exporter import Exporter
from prelabel.exports.records import RunExport, model_version, prediction_status
from prelabel.sop.spec import SOP
from prelabel.vendors.names import RULING, SOP_UNCLEAR, UNCLEAR_VALUES, argilla_question

if TYPE_CHECKING:
    import argilla as rg

__all__ = [
    "RESERVED_METADATA",
    "Argilla",
    "adjudication_settings",
    "argilla_records",
    "argilla_settings",
    "guidelines",
    "to_argilla",
    "write_adjudication",
    "write_argilla",
]


def guidelines(sop: SOP) -> str:
    """The SOP as Markdown annotation guidelines: instructions, label definitions and rules."""
    lines = [f"# {sop.title} ({sop.id}@{sop.version})", "", sop.instructions.strip(), "", "## Labels"]
    for label_id, label in sop.label_index.items():
        depth = label_id.count(".")
        lines.append(f"{'  ' * depth}- **{label_id}**: {label.definition.strip()}")
    if sop.rules:
        lines += ["", "## Rules", *[f"- **{r.id}**: {r.text.strip()}" for r in sop.rules]]
    return "\n".join(lines).strip() + "\n"


def _label_question(sop: SOP) -> dict[str, Any]:
    labels = {leaf: sop.label_index[leaf].name or leaf for leaf in sop.leaf_ids}
    kind = "multi_label_selection" if sop.multi_label else "label_selection"
    return {"name": argilla_question(sop), "type": kind, "labels": labels, "required": True}


def argilla_settings(sop: SOP, metadata: list[str] | None = None) -> dict[str, Any]:
    """Dataset settings: a text field, the label question (SOP leaves), a rationale question, metadata."""
    return {
        "guidelines": guidelines(sop),
        "fields": [{"name": "text", "type": "text"}],
        "questions": [_label_question(sop), {"name": "rationale", "type": "text", "required": False}],
        "metadata": [{"name": name, "type": "terms"} for name in ["item_id", "language", *(metadata or [])]],
    }


#: Record metadata prelabel sets from the item itself: an item's ``meta`` key of the same name is exported as
#: ``meta_<key>`` (with a warning), never in its place.
RESERVED_METADATA = frozenset({"item_id", "language"})


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and not isinstance(value, bool)


def argilla_records(run: RunExport) -> tuple[list[dict[str, Any]], list[str]]:
    """One record per result line whose item is known, and the metadata keys used (besides id/language)."""
    assert run.sop is not None
    question = argilla_question(run.sop)
    records: list[dict[str, Any]] = []
    keys: set[str] = set()
    clashed: list[str] = []
    for row in run.rows:
        item = run.items.get(str(row["item_id"]))
        if item is None:
            run.skip("item not found in the items file", row["item_id"])
            continue
        if not item.text:
            run.skip("item has no text (Argilla export carries text fields only)", item.id)
            continue
        meta = {k: v for k, v in item.meta.items() if _scalar(v)}
        if RESERVED_METADATA & meta.keys():
            clashed.append(item.id)
            meta = {(f"meta_{k}" if k in RESERVED_METADATA else k): v for k, v in meta.items()}
        keys |= meta.keys()
        reserved = {"item_id": item.id, **({"language": item.language} if item.language else {})}
        metadata = {**meta, **reserved}  # the reserved keys win: no item can claim another's id
        suggestions: dict[str, Any] = {}
        if prediction_status(row, run.sop) is None:
            agent = model_version(row)
            value = list(row["labels"]) if run.sop.multi_label else row["label"]
            suggestions[question] = {"value": value, "score": row.get("confidence"), "agent": agent}
            if row.get("rationale"):
                suggestions["rationale"] = {"value": row["rationale"], "score": None, "agent": agent}
        records.append(
            {"id": item.id, "fields": {"text": item.text}, "metadata": metadata, "suggestions": suggestions}
        )
    if clashed:
        examples = ", ".join(clashed[:5]) + (", ..." if len(clashed) > 5 else "")
        run.warnings.append(
            f"{len(clashed)} items have meta keys named like Argilla metadata prelabel sets "
            f"({', '.join(sorted(RESERVED_METADATA))}): exported as meta_<key> ({examples})"
        )
    return records, sorted(keys - RESERVED_METADATA)


#: Adjudication records: the fields shown beside the item, and the metadata read back with the decision.
ADJUDICATION_FIELDS = ("candidate", "votes", "model", "rules", "draft")
ADJUDICATION_METADATA = ("item_id", "language", "sop", "rule_ids")


def adjudication_settings(sop: SOP) -> dict[str, Any]:
    """Settings of adjudication records: the item and its context as fields; the right label, "Is the SOP
    unclear on this item?" (``sop_unclear``: yes/no) and the ruling text as questions."""
    unclear = {value: value for value in UNCLEAR_VALUES}
    return {
        "guidelines": "# Adjudication\n\nDecide the right label, whether the SOP is unclear on the item, and "
        "write the ruling the SOP should state.\n\n" + guidelines(sop),
        "fields": [{"name": name, "type": "text"} for name in ("text", *ADJUDICATION_FIELDS)],
        "questions": [
            _label_question(sop),
            {"name": SOP_UNCLEAR, "type": "label_selection", "labels": unclear, "required": True},
            {"name": RULING, "type": "text", "required": False},
        ],
        "metadata": [{"name": name, "type": "terms"} for name in ADJUDICATION_METADATA],
    }


def write_adjudication(candidates: Candidates, out: Path) -> list[Path]:
    """Write ``{"settings": ..., "records": [...]}``: one adjudication record per candidate."""
    records = []
    for task in candidates.tasks:
        data = task.data(candidates.sop)
        if not data["text"]:
            raise InputError(f"item {task.item.id} has no text (Argilla adjudication shows text fields only)")
        fields = {name: data[name] for name in ("text", *ADJUDICATION_FIELDS)}
        metadata = {name: data[name] for name in ADJUDICATION_METADATA if data[name]}
        records.append({"id": task.item.id, "fields": fields, "metadata": metadata})
    payload = {"settings": adjudication_settings(candidates.sop), "records": records}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    return [out]


def write_argilla(run: RunExport, out: Path) -> list[Path]:
    """Write ``{"settings": ..., "records": [...]}`` to ``out``."""
    assert run.sop is not None
    records, keys = argilla_records(run)
    payload = {"settings": argilla_settings(run.sop, keys), "records": records}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    return [out]


class Argilla(Exporter):
    """``--format argilla``: `write_argilla`."""

    name = "argilla"
    description = "Argilla 2.x records with suggestions, and the dataset settings, in one JSON file"
    suffix = ".json"
    needs_sop = needs_items = predictions = adjudication = True

    def export(self, run: RunExport, out: Path) -> list[Path]:
        """Write the records and the settings."""
        return write_argilla(run, out)

    def export_candidates(self, candidates: Candidates, out: Path) -> list[Path]:
        """Write the adjudication records and their settings."""
        return write_adjudication(candidates, out)


def _import_argilla() -> Any:
    try:
        import argilla
    except ImportError:
        raise InputError("the Argilla SDK is not installed: run `pip install 'prelabel[argilla]'`") from None
    return argilla


def to_argilla(path: str | Path) -> tuple[rg.Settings, list[rg.Record]]:
    """An Argilla export file as ``argilla.Settings`` and ``argilla.Record`` objects, ready to push::

        settings, records = to_argilla("argilla.json")   # needs an rg.Argilla client (env or explicit)
        dataset = rg.Dataset(name="prelabels", settings=settings); dataset.create()
        dataset.records.log(records)

    Raises ``InputError`` naming the extra when ``argilla`` is not installed.
    """
    rg = _import_argilla()
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    spec = payload["settings"]
    questions: list[Any] = []
    for q in spec["questions"]:
        if q["type"] == "text":
            questions.append(rg.TextQuestion(name=q["name"], required=q["required"]))
        else:
            kind = rg.MultiLabelQuestion if q["type"] == "multi_label_selection" else rg.LabelQuestion
            questions.append(kind(name=q["name"], labels=q["labels"], required=q["required"]))
    settings = rg.Settings(
        guidelines=spec["guidelines"],
        fields=[rg.TextField(name=f["name"]) for f in spec["fields"]],
        questions=questions,
        metadata=[rg.TermsMetadataProperty(name=m["name"]) for m in spec["metadata"]],
    )
    return settings, [rg.Record.from_dict(r) for r in payload["records"]]
