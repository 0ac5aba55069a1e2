"""The answer model built from an SOP: what the model must return for one item.

Fields come in the order the model should produce them: ``rationale`` first (reason before answering), then
``label`` (a ``Literal`` of the SOP's answer ids) or, for multi-label SOPs, ``labels`` (a non-empty list of
unique leaf ids), then ``cited_rules`` (ids of the SOP's rules and edge cases) and ``confidence`` in [0, 1].

Case and whitespace variants of ids (``" Product.Damaged "``) are normalised before validation; anything
else fails validation, so instructor re-asks the model.

    >>> from prelabel import bundled_sop, response_model
    >>> Answer = response_model(bundled_sop("customer_feedback_intent"))
    >>> list(Answer.model_fields)
    ['rationale', 'label', 'cited_rules', 'confidence']
    >>> Answer.model_validate(
    ...     {"rationale": "broken", "label": " Product.Damaged ", "cited_rules": ["r2"], "confidence": 0.9}
    ... ).label
    'product.damaged'
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from prelabel.sop.spec import SOP

__all__ = ["answer_labels", "response_model", "schema_name"]

_CACHE: dict[str, type[BaseModel]] = {}
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


class _AnswerBase(BaseModel):
    """Base of every generated answer model (strict: unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def schema_name(sop: SOP) -> str:
    """A class/schema name valid for every provider (``^[a-zA-Z0-9_-]{1,64}$``)."""
    return ("Answer_" + _NAME_OK.sub("_", sop.id))[:64]


def _key(value: str) -> str:
    return "".join(value.split()).casefold()


def _normaliser(allowed: tuple[str, ...]) -> Any:
    """A ``before`` validator mapping case/whitespace variants of allowed ids onto the ids themselves."""
    lookup = {_key(v): v for v in allowed}

    def one(value: Any) -> Any:
        return lookup.get(_key(value), value) if isinstance(value, str) else value

    def normalise(cls: type[BaseModel], value: Any) -> Any:
        if isinstance(value, list):
            return [one(v) for v in value]
        return one(value)

    return normalise


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) < len(values):
        raise ValueError("labels must not repeat")
    return values


def _build(sop: SOP) -> type[BaseModel]:
    answers = sop.answer_ids
    citable = sop.citable_ids
    fields: dict[str, Any] = {
        "rationale": (
            str,
            Field(description="Short reasoning that applies the SOP to the item, written before the label."),
        )
    }
    validators: dict[str, Any] = {}
    label_type: Any = Literal[answers]
    if sop.multi_label:
        fields["labels"] = (
            list[label_type],
            Field(min_length=1, description="Every label that applies (ids marked [answer]); no repeats."),
        )
        validators["_norm_labels"] = field_validator("labels", mode="before")(_normaliser(answers))
        validators["_unique_labels"] = field_validator("labels")(lambda cls, v: _unique(v))
        alone = [i for i in sop.leaf_ids if sop.label_index[i].exclusive]
        alone += [sop.abstain.label] if sop.abstain.allowed else []
        if alone:

            def _alone(cls: type[BaseModel], value: list[str]) -> list[str]:
                single = [v for v in value if v in alone]
                if single and len(value) > 1:
                    raise ValueError(f"'{single[0]}' must be the only label when used (abstain or exclusive)")
                return value

            validators["_exclusive_alone"] = field_validator("labels")(_alone)
    else:
        fields["label"] = (
            label_type,
            Field(description="The one label that applies (an id marked [answer])."),
        )
        validators["_norm_label"] = field_validator("label", mode="before")(_normaliser(answers))
    if citable:
        cited: Any = list[Literal[citable]]  # type: ignore[valid-type]
        fields["cited_rules"] = (
            cited,
            Field(default_factory=list, description="Ids of the SOP rules and edge cases relied on."),
        )
        validators["_norm_cited"] = field_validator("cited_rules", mode="before")(_normaliser(citable))
    else:
        fields["cited_rules"] = (
            list[str],
            Field(default_factory=list, max_length=0, description="Always empty: this SOP has no rules."),
        )
    validators["_dedupe_cited"] = field_validator("cited_rules")(lambda cls, v: _dedupe(v))
    fields["confidence"] = (float, Field(ge=0.0, le=1.0, description="Confidence in the label, from 0 to 1."))
    model: type[BaseModel] = create_model(
        schema_name(sop),
        __base__=_AnswerBase,
        __doc__=f"Answer for one item under SOP {sop.id} {sop.version}.",
        __validators__=validators,
        **fields,
    )
    return model


def response_model(sop: SOP) -> type[BaseModel]:
    """The pydantic answer model for ``sop`` (one class per SOP content hash, cached)."""
    model = _CACHE.get(sop.sha256)
    if model is None:
        model = _CACHE[sop.sha256] = _build(sop)
    return model


def answer_labels(answer: BaseModel) -> list[str]:
    """The label ids of a validated answer, as a list (one id for single-label SOPs)."""
    if "labels" in type(answer).model_fields:
        return list(answer.labels)  # type: ignore[attr-defined]
    return [answer.label]  # type: ignore[attr-defined]
