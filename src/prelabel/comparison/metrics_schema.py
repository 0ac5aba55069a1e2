"""Typed results of the comparator: what `prelabel.compare` and `prelabel.agreement` return.

``model_dump(mode="json")`` of `ComparisonMetrics` and `AgreementMetrics` is exactly ``metrics.json``. Field
order is the file's key order. A field with a default is an optional part, written only when it was given
(``confusion`` for single-label tasks, ``exact_match`` and ``jaccard`` for multi-label ones, ...), while an
undefined figure (one annotator, one class) is a given ``None``, written as ``null``.

    >>> Figures(n=0, accuracy=None, kappa=None, macro_f1=None, weighted_f1=None).model_dump()
    {'n': 0, 'accuracy': None, 'kappa': None, 'macro_f1': None, 'weighted_f1': None}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, field_validator, model_serializer

from prelabel._jsonio import write_json, writing
from prelabel.comparison.report_dir import METRICS_FILE

__all__ = [
    "DEFINITIONS",
    "VENDOR_QA_VERSION",
    "AgentQuality",
    "Aggregation",
    "AgreementMetrics",
    "Ambiguity",
    "AnnotatorAgreement",
    "AnnotatorEstimate",
    "AnnotatorVsModel",
    "ComparisonMetrics",
    "Confusion",
    "Counts",
    "Figures",
    "HumanAgreement",
    "LabelAgreement",
    "LabelFigures",
    "LeafFigures",
    "LevelFigures",
    "MajorityFigures",
    "Provenance",
    "Skipped",
    "SliceAgreement",
    "SliceLeafFigures",
    "SliceMetrics",
    "SopRef",
    "Summary",
    "Task",
    "VendorQA",
    "given",
]

Task = Literal["single_label", "multi_label"]

#: How the figures are defined and what they leave out: ``definitions`` in ``metrics.json``.
DEFINITIONS = {
    "percent_agreement": "mean, over items with >= 2 human annotations, of the majority answer's share "
    "(Röttger et al. 2022); two annotators who disagree score 0.5",
    "pairwise_agreement": "mean, over items with >= 2 human annotations, of the share of agreeing pairs of "
    "annotations (Fleiss' observed agreement); two annotators who disagree score 0.0",
    "ties": "items whose human majority is tied are left out of the figures against the majority "
    "(accuracy, F1, kappa vs majority, confusion matrix; skipped.items_majority_tied) and kept in all others",
    "abstentions": "an abstention is not an answer on either side: a model abstention leaves the item out "
    "(skipped.items_model_abstained), a human one leaves that annotation out (skipped.annotations_abstained)",
    "certainty": "share of samples agreeing with the answer, else its confidence in [0, 1]; unknown when "
    "neither (never sure; scored as certainty 0 within its kind, so a wider human split still ranks higher)",
}


class _Record(BaseModel):
    """Strict base: unknown fields fail, non-finite floats become ``None``, unset optional parts left out."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    @model_serializer(mode="wrap")
    def _given_parts(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields, given = type(self).model_fields, self.model_fields_set
        return {k: v for k, v in data.items() if k in given or k not in fields or fields[k].is_required()}


def given(record: BaseModel) -> dict[str, Any]:
    """The fields of ``record`` that were given, as attributes (to build a larger record from it)."""
    return {name: getattr(record, name) for name in record.model_fields_set}


class AnnotatorAgreement(_Record):
    """One annotator against the consensus of the other annotators on the same items."""

    annotator: str
    n_labels: int
    n_compared: int
    agreement: float | None
    kappa: float | None


class AnnotatorVsModel(_Record):
    """The model against one annotator: agreement and Cohen's κ over the items both labeled."""

    annotator: str
    n: int
    agreement: float | None
    kappa: float | None


class LabelAgreement(_Record):
    """Multi-label: one label's present/absent agreement among humans."""

    label: str
    percent_agreement: float | None
    pairwise_agreement: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None


class LabelFigures(_Record):
    """Model vs human majority for one label: precision, recall, F1, support and times predicted."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


class Confusion(_Record):
    """Confusion matrix: rows are the human majority, columns the model, both over ``labels``."""

    labels: list[str]
    matrix: list[list[int]]


class Figures(_Record):
    """Model vs a reference answer over ``n`` items: accuracy, κ, F1 (``exact_match``, ``jaccard`` and
    ``micro_f1`` for multi-label tasks)."""

    n: int
    accuracy: float | None
    kappa: float | None
    exact_match: float | None = None
    jaccard: float | None = None
    micro_f1: float | None = None
    confusion: Confusion | None = None
    macro_f1: float | None
    weighted_f1: float | None
    per_label: list[LabelFigures] | None = None


class MajorityFigures(Figures):
    """Model vs the human majority at the leaves; items with a tied majority are left out and counted."""

    n_tied_excluded: int


class _TreeLevel(_Record):
    level: int
    leaf: bool = False
    n_tied_excluded: int


class _Leaf(_Record):
    level: int
    leaf: bool


class LevelFigures(Figures, _TreeLevel):
    """Model vs human majority at one tree level above the leaves (labels rolled up to that level)."""


class LeafFigures(MajorityFigures, _Leaf):
    """Model vs human majority at the leaves, the last of ``levels``."""


class SliceLeafFigures(_Leaf):
    """Within a slice: model vs human majority at the leaves."""

    n: int
    accuracy: float | None
    macro_f1: float | None
    kappa: float | None


class _SliceHead(_Record):
    value: str
    n_items: int
    percent_agreement: float | None
    pairwise_agreement: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None


class SliceAgreement(_SliceHead):
    """One value of a slice column: agreement among humans on its items."""

    per_annotator: list[AnnotatorAgreement]


class SliceMetrics(_SliceHead):
    """One value of a slice column: agreement among humans and the model against them on its items."""

    n_compared: int
    n_vs_majority: int
    accuracy: float | None
    macro_f1: float | None
    kappa_vs_majority: float | None
    per_label: list[LabelFigures]
    levels: list[LevelFigures | SliceLeafFigures]
    per_annotator: list[AnnotatorAgreement]


class AnnotatorEstimate(_Record):
    """What an annotator model estimates about one annotator: ``accuracy`` (the mean posterior probability
    of the answers they gave), and the model's own parameter: Dawid-Skene's ``confusion`` matrix (rows: the
    true answer, columns: the answer given, over `Aggregation.labels`), GLAD's ``skill``, MACE's
    ``competence``."""

    annotator: str
    n_labels: int
    accuracy: float | None
    confusion: list[list[float]] | None = None
    skill: float | None = None
    competence: float | None = None


class Aggregation(_Record):
    """How the human consensus was formed when not by majority vote (``--aggregate``): the model, the items
    with a consensus, how many of those differ from their untied majority, and the per-annotator estimates."""

    method: str
    labels: list[str]
    n_items: int
    n_changed: int
    per_annotator: list[AnnotatorEstimate]


class HumanAgreement(_Record):
    """Agreement among human annotators (``per_label`` for multi-label tasks only; ``aggregation`` when the
    consensus is an annotator model's)."""

    n_items: int
    n_annotators: int
    n_annotations: int
    n_items_paired: int
    percent_agreement: float | None
    pairwise_agreement: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    per_annotator: list[AnnotatorAgreement]
    per_label: list[LabelAgreement] | None = None
    aggregation: Aggregation | None = None


class Skipped(_Record):
    """How many annotations, model rows and items were left out of the figures, and why.

    ``model_rows_truncated``: a last ``labels.jsonl`` line cut off (as after a crash), skipped with a warning.
    ``annotations_abstained``: human abstentions (the SOP's abstain label, or the label of the model's
    abstained rows), left out like the model's (``items_model_abstained``). ``items_majority_tied``: compared
    items whose human majority is tied, left out of the figures against the majority only.
    """

    annotations_without_item_id: int
    annotations_empty: int
    annotations_not_in_sop: int
    annotations_abstained: int
    annotations_duplicate: int
    model_rows_without_item_id: int
    model_rows_duplicate: int
    model_rows_truncated: int = 0
    items_model_error: int
    items_model_abstained: int
    items_model_label_missing: int
    items_model_label_not_in_sop: int
    items_without_human_label: int
    items_without_valid_human_label: int
    items_without_model_label: int
    items_majority_tied: int


#: The version of ``metrics.json``'s ``vendor_qa`` part (a new field bumps it; `prelabel qa` reads 1).
VENDOR_QA_VERSION = 1


class AgentQuality(_Record):
    """One annotator, vendor or market (``level``) in one batch: accuracy against gold with its Wilson
    interval, agreement and Cohen's κ with the consensus, throughput. Counts are of votes (gold annotations
    are the key, not votes); a figure without data is ``None``.

    ``n_gold``/``gold_correct``: their votes on gold items, and the right ones; ``items_per_gold``: votes per
    gold check (``n_labels / n_gold``). ``n_vs_consensus``/``consensus_agree``: their votes on items with a
    consensus to compare with (majority: the *other* annotators' untied majority; a model: its consensus).
    ``n_timed``: votes with a duration; ``fast_share``: the share of those under ``fast_seconds``.
    ``below_target``: accuracy below ``target_accuracy``; ``flagged``: its Wilson upper bound is too.
    """

    level: Literal["annotator", "vendor", "market"]
    name: str
    vendor: str | None
    market: str | None
    n_labels: int
    n_gold: int
    gold_correct: int
    gold_accuracy: float | None
    gold_low: float | None
    gold_high: float | None
    items_per_gold: float | None
    n_vs_consensus: int
    consensus_agree: int
    consensus_agreement: float | None
    kappa: float | None
    n_timed: int
    items_per_hour: float | None
    median_seconds: float | None
    fast_share: float | None
    below_target: bool | None
    flagged: bool | None


class VendorQA(_Record):
    """Vendor QA of one batch (``metrics.json``'s ``vendor_qa``, read by `prelabel.qa`): where gold came
    from (gold items per source), the settings, the rules the figures follow, and one `AgentQuality` row
    per annotator, vendor and market."""

    version: int
    aggregate: str
    gold_items: dict[str, int]
    n_gold_items: int
    target_accuracy: float | None
    fast_seconds: float
    duration_source: str | None
    rules: dict[str, str]
    agents: list[AgentQuality]


def _save(metrics: BaseModel, directory: str | Path) -> dict[str, Path]:
    path = Path(directory) / METRICS_FILE
    with writing(path):  # creates ``directory``; an OSError is one "cannot write" line
        write_json(path, metrics.model_dump(mode="json"))
    return {"metrics": path}


class AgreementMetrics(HumanAgreement):
    """What `prelabel.agreement` returns (its ``model_dump(mode="json")`` is ``metrics.json``)."""

    slices: dict[str, list[SliceAgreement]]
    task: Task
    skipped: Skipped
    skipped_examples: dict[str, list[str]]
    notes: list[str]
    definitions: dict[str, str]
    vendor_qa: VendorQA | None = None

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write ``directory/metrics.json`` (created if missing); returns ``{"metrics": path}``."""
        return _save(self, directory)


class SopRef(_Record):
    """The SOP a comparison checked labels against."""

    id: str
    version: str
    sha256: str


class Provenance(_Record):
    """Which models and SOP versions produced the results read (result rows per model and per
    ``sop_id@sop_version``, as the rows record them), and whether any is the bundled smoke model (``note``:
    what its results are worth). Built by `prelabel.comparison.provenance.provenance`."""

    models: dict[str, int]
    sop_versions: dict[str, int]
    smoke_model: bool
    note: str | None


class Summary(_Record):
    """Headline figures of a comparison, each beside the number of items it is computed on.

    ``n_vs_majority``: the compared items whose human majority is not tied (accuracy, F1, κ vs majority);
    ``n_human_paired``: the items with at least two human annotations (agreement among humans).
    """

    n_compared: int
    n_vs_majority: int
    accuracy: float | None
    macro_f1: float | None
    micro_f1: float | None = None
    kappa_vs_majority: float | None
    n_human_paired: int
    percent_agreement: float | None
    pairwise_agreement: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    n_disagreements: int
    n_candidates: int


class Counts(_Record):
    """Sizes of the inputs and of what was compared."""

    model_rows: int
    human_items: int
    human_annotations: int
    annotators: int
    compared_items: int


class Ambiguity(_Record):
    """The certainty threshold used to sort disagreements, how many there are of each kind, and how many
    compared answers have an unknown certainty (never taken as sure) or a confidence outside [0, 1]."""

    confident_threshold: float
    kinds: dict[str, int]
    certainty_unknown: int
    confidence_out_of_range: int


class Sources(_Record):
    """The files a comparison read (absolute paths), written when they were files: ``prelabel export
    CMP_DIR --candidates`` finds the run, its items and SOP, and the human votes through them."""

    results: str | None = None
    humans: str | None = None
    #: How the human labels were read: ``table`` or a vendor export's format (see ``--humans-format``).
    humans_format: str | None = None


class ComparisonMetrics(_Record):
    """What `prelabel.Comparison.metrics` holds (its ``model_dump(mode="json")`` is ``metrics.json``)."""

    task: Task
    sop: SopRef | None
    provenance: Provenance
    summary: Summary
    counts: Counts
    skipped: Skipped
    skipped_examples: dict[str, list[str]]
    notes: list[str]
    #: Written only when there are some: results of another SOP or of several versions, a cut-off line.
    warnings: list[str] = []
    definitions: dict[str, str]
    model_vs_majority: MajorityFigures
    model_vs_annotators: list[AnnotatorVsModel]
    levels: list[LevelFigures | LeafFigures]
    humans: HumanAgreement
    slices: dict[str, list[SliceMetrics]]
    ambiguity: Ambiguity
    #: Written when the results and human labels were files.
    sources: Sources | None = None
    vendor_qa: VendorQA | None = None

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write ``directory/metrics.json`` (created if missing); returns ``{"metrics": path}``."""
        return _save(self, directory)
