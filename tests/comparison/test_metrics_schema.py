"""Typed comparator results: attribute access, strict records, ``metrics.json`` keeping its keys and order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest

import prelabel
from prelabel.comparison.metrics_schema import AnnotatorAgreement, Figures, LevelFigures, SliceLeafFigures

DATA = Path(__file__).resolve().parent.parent / "data" / "compare"
SOP = prelabel.bundled_sop("customer_feedback_intent")

_SKIPPED = (
    "$.skipped: annotations_without_item_id annotations_empty annotations_not_in_sop annotations_abstained "
    "annotations_duplicate model_rows_without_item_id model_rows_duplicate model_rows_truncated "
    "items_model_error items_model_abstained items_model_label_missing items_model_label_not_in_sop "
    "items_without_human_label items_without_valid_human_label items_without_model_label items_majority_tied"
)
_PER_ANNOTATOR = "per_annotator[]: annotator n_labels n_compared agreement kappa"
_PER_LABEL = "per_label[]: label precision recall f1 support predicted"
#: Issue 23 added ``vendor_qa`` (versioned: ``vendor_qa.version``): gold, agreement and throughput per agent.
_VENDOR_QA = {
    "$.vendor_qa: version aggregate gold_items n_gold_items target_accuracy fast_seconds duration_source "
    "rules agents",
    "$.vendor_qa.gold_items: rows file sop_tests",
    "$.vendor_qa.rules: gold_accuracy flagged consensus_agreement throughput",
    "$.vendor_qa.agents[]: level name vendor market n_labels n_gold gold_correct gold_accuracy gold_low "
    "gold_high items_per_gold n_vs_consensus consensus_agree consensus_agreement kappa n_timed "
    "items_per_hour median_seconds fast_share below_target flagged",
}

#: Every object of ``metrics.json`` written for the fixture files, as "path: keys in order" (recorded from the
#: dict-based comparator before the figures became typed records; issues 13 and 14 added pairwise agreement,
#: the n beside each figure, definitions, abstained annotations, ties and certainty counts; issue 18 added
#: ``provenance``: the models and SOP versions of the results, and the smoke-model flag and note; issue 22
#: ``sources``: the files read, for ``export CMP_DIR --candidates``).
GOLDEN_COMPARE = {
    "$: task sop provenance summary counts skipped skipped_examples notes definitions model_vs_majority "
    "model_vs_annotators levels humans slices ambiguity sources vendor_qa",
    "$.sources: results humans humans_format",
    *_VENDOR_QA,
    "$.provenance: models sop_versions smoke_model note",
    "$.provenance.models: ",  # the fixture's lines name no model nor SOP: both empty
    "$.provenance.sop_versions: ",
    "$.ambiguity: confident_threshold kinds certainty_unknown confidence_out_of_range",
    "$.ambiguity.kinds: sop_ambiguity inherent_ambiguity label_error",
    "$.definitions: percent_agreement pairwise_agreement ties abstentions certainty",
    "$.counts: model_rows human_items human_annotations annotators compared_items",
    "$.humans: n_items n_annotators n_annotations n_items_paired percent_agreement pairwise_agreement "
    "fleiss_kappa krippendorff_alpha per_annotator",
    f"$.humans.{_PER_ANNOTATOR}",
    "$.levels[]: level leaf n accuracy kappa macro_f1 weighted_f1 per_label n_tied_excluded",
    "$.levels[]: level n_tied_excluded n accuracy kappa confusion macro_f1 weighted_f1 per_label",
    "$.levels[].confusion: labels matrix",
    f"$.levels[].{_PER_LABEL}",
    "$.model_vs_annotators[]: annotator n agreement kappa",
    "$.model_vs_majority: n accuracy kappa confusion macro_f1 weighted_f1 per_label n_tied_excluded",
    "$.model_vs_majority.confusion: labels matrix",
    f"$.model_vs_majority.{_PER_LABEL}",
    _SKIPPED,
    "$.skipped_examples: items_without_human_label",
    "$.slices: market",
    "$.slices.market[]: value n_items percent_agreement pairwise_agreement fleiss_kappa krippendorff_alpha "
    "n_compared n_vs_majority accuracy macro_f1 kappa_vs_majority per_label levels per_annotator",
    "$.slices.market[].levels[]: level leaf n accuracy macro_f1 kappa",
    "$.slices.market[].levels[]: level n_tied_excluded n accuracy kappa macro_f1 weighted_f1",
    f"$.slices.market[].{_PER_ANNOTATOR}",
    f"$.slices.market[].{_PER_LABEL}",
    "$.sop: id version sha256",
    "$.summary: n_compared n_vs_majority accuracy macro_f1 kappa_vs_majority n_human_paired "
    "percent_agreement pairwise_agreement fleiss_kappa krippendorff_alpha n_disagreements n_candidates",
}
GOLDEN_AGREEMENT = {
    "$: n_items n_annotators n_annotations n_items_paired percent_agreement pairwise_agreement fleiss_kappa "
    "krippendorff_alpha per_annotator slices task skipped skipped_examples notes definitions vendor_qa",
    *_VENDOR_QA,
    "$.definitions: percent_agreement pairwise_agreement abstentions",
    f"$.{_PER_ANNOTATOR}",
    _SKIPPED,
    "$.skipped_examples: ",
    "$.slices: market",
    "$.slices.market[]: value n_items percent_agreement pairwise_agreement fleiss_kappa krippendorff_alpha "
    "per_annotator",
    f"$.slices.market[].{_PER_ANNOTATOR}",
}


def shapes(value: Any, path: str = "$") -> set[str]:
    """Each JSON object's path and its keys, in order (list elements share the path ``[]``)."""
    out: set[str] = set()
    if isinstance(value, dict):
        out.add(f"{path}: {' '.join(value)}")
        for key, item in value.items():
            out |= shapes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            out |= shapes(item, f"{path}[]")
    return out


def test_metrics_json_keeps_its_keys_and_their_order(tmp_path: Path) -> None:
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP)
    written = json.loads(cmp.save(tmp_path, html=False)["metrics"].read_text(encoding="utf-8"))
    assert shapes(written) == GOLDEN_COMPARE
    assert written == cmp.metrics.model_dump(mode="json")


def test_agreement_metrics_json_keeps_its_keys(tmp_path: Path) -> None:
    metrics = prelabel.agreement(DATA / "humans.csv")
    assert shapes(metrics.model_dump(mode="json")) == GOLDEN_AGREEMENT


def test_figures_are_read_as_typed_attributes() -> None:
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP)
    metrics: prelabel.ComparisonMetrics = cmp.metrics
    assert metrics.summary.n_compared == 8
    assert metrics.skipped.items_model_error == 1
    assert metrics.sop is not None and metrics.sop.id == "customer_feedback_intent"
    assert metrics.model_vs_majority.confusion is not None
    assert metrics.levels[-1].leaf and metrics.levels[-1].accuracy == metrics.summary.accuracy
    assert [row.value for row in metrics.slices["market"]] == ["ID", "TH", "VN"]
    assert isinstance(metrics.slices["market"][0].levels[-1], SliceLeafFigures)
    agreement: prelabel.AgreementMetrics = prelabel.agreement(DATA / "humans.csv")
    assert (agreement.n_items, agreement.n_annotators) == (10, 3)
    assert agreement.fleiss_kappa == metrics.humans.fleiss_kappa
    assert {row.annotator for row in agreement.per_annotator} == {"ann_a", "ann_b", "ann_c"}


def test_multi_label_parts_are_written_only_for_multi_label_tasks() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    a, b = "prohibited.weapons", "misleading.pricing"  # different parents: level 1 has two labels too
    humans = pd.DataFrame(
        {
            "item_id": ["1", "1", "2", "2", "3", "3"],
            "annotator": ["x", "y"] * 3,
            "label": [a, f"{a};{b}", b, b, f"{a};{b}", f"{b};{a}"],
        }
    )
    results = pd.DataFrame({"item_id": ["1", "2", "3"], "labels": [[a], [a], [a, b]], "confidence": 0.9})
    dumped = prelabel.compare(results, humans, sop=sop).metrics.model_dump(mode="json")
    vs = dumped["model_vs_majority"]
    assert list(vs) == [
        "n", "accuracy", "kappa", "exact_match", "jaccard", "micro_f1", "macro_f1", "weighted_f1",
        "per_label", "n_tied_excluded",
    ]  # fmt: skip
    assert "micro_f1" in dumped["summary"]
    assert [row["label"] for row in dumped["humans"]["per_label"]] == [a, b]


def test_records_are_strict_and_write_undefined_figures_as_null() -> None:
    with pytest.raises(pydantic.ValidationError, match="extra"):
        AnnotatorAgreement(annotator="x", n_labels=1, n_compared=0, agreement=None, kappa=None, typo=1)
    row = AnnotatorAgreement(annotator="x", n_labels=1, n_compared=0, agreement=float("nan"), kappa=None)
    assert row.agreement is None
    empty = Figures(n=0, accuracy=None, kappa=None, macro_f1=None, weighted_f1=None, per_label=[])
    assert "confusion" not in empty.model_dump() and empty.model_dump()["per_label"] == []
    level = LevelFigures(
        level=1, n_tied_excluded=0, n=0, accuracy=None, kappa=None, macro_f1=None, weighted_f1=None
    )
    assert list(level.model_dump()) == [
        "level",
        "n_tied_excluded",
        "n",
        "accuracy",
        "kappa",
        "macro_f1",
        "weighted_f1",
    ]
