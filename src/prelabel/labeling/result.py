"""``LabelResult``: one line of ``labels.jsonl`` (docs/reference/formats.md), and a DataFrame view of many.

>>> r = LabelResult(item_id="a1", status="ok", label="product.damaged", rationale="broken on arrival",
...                 cited_rules=["R2"], confidence=0.9, model="gpt-4o-mini", sop_id="demo", sop_version="1",
...                 prompt_hash="sha256:0", template="classify.v1", attempts=1)
>>> list(r.model_dump())[:4]
['item_id', 'status', 'label', 'labels']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from prelabel.llm.usage import Usage

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INVALID_ITEM",
    "OPTIONAL_FIELDS",
    "PROB_DIGITS",
    "SAMPLE_FIELDS",
    "ErrorInfo",
    "LabelResult",
    "Status",
    "failed_exit_code",
    "to_dataframe",
]

Status = Literal["ok", "abstained", "error"]
#: The self-consistency fields (``samples`` K >= 2): left out of the JSON line when they are ``None``, so a
#: line without samples is exactly what it was before they existed.
SAMPLE_FIELDS = ("samples", "agreement", "entropy", "failed_samples")
#: Every optional field: the sample fields, the label's token probability (``logprobs``) and what was masked;
#: each is left out of the JSON line when it is ``None``.
OPTIONAL_FIELDS = (*SAMPLE_FIELDS, "label_prob", "masked")
#: Digits kept of ``label_prob``: probabilities near 1 matter to routing thresholds.
PROB_DIGITS = 6
#: The error type of an item that is bad input (no id or text, unreadable, too large): no model was asked.
INVALID_ITEM = "invalid_item"


def failed_exit_code(error_types: Iterable[str]) -> int:
    """The exit code of a command none of whose answers can be used (``run``: every item an error; ``diff``:
    no item answered under both versions; ``gaps``: the one answer failed): 2 when every failure is bad
    input (``invalid_item``), else 3 (the model gave no usable answer).

        >>> failed_exit_code(["invalid_item"]), failed_exit_code(["invalid_item", "invalid_output"])
        (2, 3)
    """
    types = set(error_types)
    return 2 if types and types <= {INVALID_ITEM} else 3


class ErrorInfo(BaseModel):
    """Why an item has no label: a short ``type``, a one-line ``message`` and the model's last raw output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    message: str
    last_output: str | None = None


class LabelResult(BaseModel):
    """The outcome for one item: a validated answer (``ok``/``abstained``) or an error record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str | None
    status: Status
    label: str | None = None
    labels: list[str] | None = None
    rationale: str | None = None
    cited_rules: list[str] = []
    confidence: float | None = None
    samples: dict[str, int] | None = None
    """Self-consistency: how many samples gave each answer (a label, or a label set joined with ``;`` in SOP
    order), most common first."""
    agreement: float | None = Field(default=None, ge=0.0, le=1.0)
    """The majority answer's share of the samples that answered."""
    entropy: float | None = Field(default=None, ge=0.0, le=1.0)
    """Shannon entropy of ``samples``, divided by its maximum ``ln(n)`` for n answers (0: all agree)."""
    failed_samples: int | None = Field(default=None, ge=0)
    """Samples that ended in an error (present on every line of a run with samples)."""
    label_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    """The probability of the label's tokens (``logprobs``): ``exp`` of the summed token log-probabilities;
    the lowest over the labels for multi-label answers; with samples, the mean over the majority's samples."""
    masked: dict[str, int] | None = None
    """Personal data replaced in the item's text before it was sent: occurrences per placeholder name
    (``{"PHONE": 2, "EMAIL": 1}``); absent when nothing was masked."""
    error: ErrorInfo | None = None
    model: str
    sop_id: str
    sop_version: str
    prompt_hash: str
    template: str
    attempts: int = Field(default=0, ge=0)
    usage: Usage = Usage()
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True unless this is an error record."""
        return self.status != "error"

    def to_json(self) -> str:
        """This result as one compact JSON line (no trailing newline); unset optional fields are left out."""
        unset = {name for name in OPTIONAL_FIELDS if getattr(self, name) is None}
        data = self.model_dump(mode="json", exclude=unset)
        return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))


_COLUMNS = [
    "item_id",
    "status",
    "label",
    "labels",
    "rationale",
    "cited_rules",
    "confidence",
    "error_type",
    "error_message",
    "model",
    "sop_id",
    "sop_version",
    "prompt_hash",
    "template",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "latency_s",
]


def to_dataframe(results: Iterable[LabelResult]) -> pd.DataFrame:
    """One row per result; ``usage`` and ``error`` are flattened into columns (and the sample fields and
    ``label_prob`` are columns after ``confidence`` when any result has them)."""
    import pandas as pd

    rows = []
    sampled = scored = False
    for r in results:
        sampled = sampled or r.failed_samples is not None
        scored = scored or r.label_prob is not None
        row = r.model_dump(exclude={"usage", "error"})
        row.update(r.usage.model_dump())
        row["error_type"] = r.error.type if r.error else None
        row["error_message"] = r.error.message if r.error else None
        rows.append(row)
    at = _COLUMNS.index("confidence") + 1
    extra = [*(SAMPLE_FIELDS if sampled else ()), *(["label_prob"] if scored else [])]
    columns = [*_COLUMNS[:at], *extra, *_COLUMNS[at:]]
    return pd.DataFrame(rows, columns=columns)
