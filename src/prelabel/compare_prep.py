"""Cleaning and aligning the comparator's inputs, counting everything skipped and why.

Nothing is dropped silently: every annotation or model row left out of the figures is counted in ``skipped``
(with a few offending values in ``examples``), and the counts go into ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from prelabel import interrater as irr
from prelabel.labelspace import LabelSpace

__all__ = ["MAX_SLICE_VALUES", "Prepared", "prepare_humans", "prepare_results"]

#: Slice columns with more distinct values than this are not sliced (a note says so).
MAX_SLICE_VALUES = 50
_HUMAN_SKIPS = ("annotations_empty", "annotations_not_in_sop", "annotations_duplicate")
_MODEL_SKIPS = (
    "model_rows_duplicate",
    "items_model_error",
    "items_model_abstained",
    "items_model_label_missing",
    "items_model_label_not_in_sop",
    "items_without_human_label",
    "items_without_valid_human_label",
    "items_without_model_label",
)


@dataclass
class Prepared:
    """Aligned inputs: human `Ratings` over answer codes, and the model's answer per human item."""

    space: LabelSpace
    names: list[str]
    ratings: irr.Ratings
    slices: dict[str, np.ndarray]
    text: np.ndarray | None
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    certainty: np.ndarray = field(default_factory=lambda: np.empty(0))
    confidence: np.ndarray = field(default_factory=lambda: np.empty(0))
    row: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    results: pd.DataFrame | None = None

    @property
    def compared(self) -> np.ndarray:
        """Mask of items with both a usable model answer and at least one human answer."""
        return (self.model >= 0) & (self.ratings.n_raters > 0)

    @property
    def n_compared(self) -> int:
        """Number of compared items."""
        return int(self.compared.sum()) if len(self.model) else 0

    @cached_property
    def majority(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per item: human majority answer code, its share, and whether it is tied."""
        return irr.majority(self.ratings.counts)

    def counts(self, n_results: int) -> dict[str, int]:
        """Sizes of the inputs and of what was compared."""
        return {
            "model_rows": n_results,
            "human_items": self.ratings.n_items,
            "human_annotations": len(self.ratings.item),
            "annotators": len(self.ratings.annotators),
            "compared_items": self.n_compared,
        }

    def per_label_agreement(self) -> list[dict[str, Any]]:
        """Multi-label: each label's present/absent Fleiss' κ and Krippendorff's α among humans."""
        classes, member = self.space.binarize(self.names)
        present = self.ratings.counts @ member.astype(np.int32)
        raters = self.ratings.n_raters
        rows = []
        for j, label in enumerate(classes):
            table = np.column_stack([present[:, j], raters - present[:, j]])
            rows.append({"label": label, **irr.summary(table)})
        return rows


def _note_examples(values: pd.Series, limit: int = 10) -> list[str]:
    return [str(v) for v in values.value_counts().index[:limit]]


def _sorted_answers(space: LabelSpace, answers: set[str]) -> list[str]:
    order = {label: i for i, label in enumerate(space.sop.label_index)} if space.sop else {}
    return sorted(answers, key=lambda a: ([order.get(m, len(order)) for m in space.members(a)], a))


def prepare_humans(frame: pd.DataFrame, space: LabelSpace, model_answers: list[Any]) -> Prepared:
    """Canonicalise and check human answers; build `Ratings` whose codes also cover the model's answers."""
    skipped = dict.fromkeys(_HUMAN_SKIPS, 0)
    examples: dict[str, list[str]] = {}
    notes: list[str] = []
    answers = space.canonical_series(frame["label"])
    item_code, items = pd.factorize(frame["item_id"])
    empty = (answers == "").to_numpy()
    skipped["annotations_empty"] = int(empty.sum())
    uniques = pd.unique(answers[~empty])
    bad = {a for a in uniques if space.unknown(a)}
    invalid = answers.isin(bad).to_numpy() if bad else np.zeros(len(answers), dtype=bool)
    if bad:
        skipped["annotations_not_in_sop"] = int(invalid.sum())
        unknown = pd.Series([m for a in answers[invalid] for m in space.unknown(a)], dtype=object)
        examples["annotations_not_in_sop"] = _note_examples(unknown)
    keep = ~(empty | invalid)
    model_ok = {str(a) for a in model_answers if a and not space.unknown(str(a))}
    names = _sorted_answers(space, {str(a) for a in uniques if a not in bad} | model_ok)
    annotator_code, annotators = pd.factorize(frame["annotator"], sort=True)
    label_code = pd.Index(names).get_indexer(answers)
    if len(frame):
        key = pd.Series(item_code.astype(np.int64) * max(len(annotators), 1) + annotator_code)
        duplicate = key.duplicated(keep="last").to_numpy() & keep
        skipped["annotations_duplicate"] = int(duplicate.sum())
        if duplicate.any():
            examples["annotations_duplicate"] = _note_examples(frame["item_id"][duplicate])
            notes.append("an annotator labeled the same item twice: the last label is used")
        keep &= ~duplicate
    ratings = irr.Ratings(
        pd.Index(items), pd.Index(annotators), np.asarray(names, dtype=object),
        item_code[keep], annotator_code[keep], label_code[keep],
    )  # fmt: skip
    first = np.full(len(items), 0, dtype=np.int64)
    first[item_code[::-1]] = np.arange(len(item_code))[::-1]
    slices: dict[str, np.ndarray] = {}
    for column in frame.columns:
        if column in ("item_id", "annotator", "label", "text"):
            continue
        values = frame[column].astype(object).to_numpy()[first]
        n_values = len(pd.unique(values))
        if n_values > MAX_SLICE_VALUES:
            notes.append(
                f"column '{column}' has {n_values} values (> {MAX_SLICE_VALUES}): not used as a slice"
            )
        else:
            slices[column] = values
    text = frame["text"].astype(object).to_numpy()[first] if "text" in frame.columns else None
    return Prepared(space, names, ratings, slices, text, skipped, examples, notes)


def _samples_certainty(space: LabelSpace, samples: list[str], answer: str) -> float:
    given = [space.canonical(s) for s in samples]
    if not space.multi_label:
        return sum(g == answer for g in given) / len(given)
    mine = set(space.members(answer))
    scores = []
    for g in given:
        theirs = set(space.members(g))
        scores.append(len(mine & theirs) / len(mine | theirs) if mine | theirs else 1.0)
    return float(np.mean(scores))


def prepare_results(prep: Prepared, res: pd.DataFrame, answers: pd.Series) -> None:
    """Align model rows to human items: fill the per-item model arrays of ``prep`` and its skip counts."""
    skipped = dict.fromkeys(_MODEL_SKIPS, 0)
    duplicate = res["item_id"].duplicated(keep="last").to_numpy()
    skipped["model_rows_duplicate"] = int(duplicate.sum())
    if duplicate.any():
        prep.examples["model_rows_duplicate"] = _note_examples(res["item_id"][duplicate])
        prep.notes.append("the model results repeat some item ids: the last row of each is used")
    status = res["status"].to_numpy()
    code = pd.Index(prep.names).get_indexer(answers)
    abstain = prep.space.sop.abstain.label if prep.space.sop and prep.space.sop.abstain.allowed else None
    is_error = ~np.isin(status, ["ok", "abstained"])
    is_abstained = (status == "abstained") | ((answers == abstain).to_numpy() if abstain else False)
    is_missing = (answers == "").to_numpy() & ~is_error & ~is_abstained
    is_unknown = (code < 0) & ~is_missing & ~is_error & ~is_abstained
    for key, mask in (
        ("items_model_error", is_error),
        ("items_model_abstained", is_abstained & ~is_error),
        ("items_model_label_missing", is_missing),
        ("items_model_label_not_in_sop", is_unknown),
    ):
        skipped[key] = int((mask & ~duplicate).sum())
    if is_unknown.any():
        prep.examples["items_model_label_not_in_sop"] = _note_examples(answers[is_unknown])
    usable = ~(duplicate | is_error | is_abstained | is_missing | is_unknown)
    pos = prep.ratings.items.get_indexer(res["item_id"])
    skipped["items_without_human_label"] = int(((pos < 0) & ~duplicate).sum())
    if skipped["items_without_human_label"]:
        prep.examples["items_without_human_label"] = _note_examples(res["item_id"][(pos < 0) & ~duplicate])
    n = prep.ratings.n_items
    prep.model = np.full(n, -1, dtype=np.int64)
    prep.row = np.full(n, -1, dtype=np.int64)
    take = usable & (pos >= 0)
    prep.model[pos[take]] = code[take]
    present = (pos >= 0) & ~duplicate
    prep.row[pos[present]] = np.flatnonzero(present)
    no_human = (prep.ratings.n_raters == 0) & (prep.model >= 0)
    skipped["items_without_valid_human_label"] = int(no_human.sum())
    prep.model[no_human] = -1
    skipped["items_without_model_label"] = int(((prep.row < 0) & (prep.ratings.n_raters > 0)).sum())
    confidence = res["confidence"].to_numpy(dtype=np.float64)
    prep.confidence = np.full(n, np.nan)
    prep.confidence[pos[take]] = confidence[take]
    prep.certainty = np.clip(np.where(np.isnan(prep.confidence), 1.0, prep.confidence), 0.0, 1.0)
    if prep.n_compared and np.isnan(prep.confidence[prep.compared]).any():
        prep.notes.append("some model rows carry no confidence: their answers are taken as confident")
    with_samples = np.flatnonzero(prep.compared & (prep.row >= 0))
    samples = res["samples"].to_numpy()
    for i in with_samples[[s is not None and len(s) > 0 for s in samples[prep.row[with_samples]]]]:
        prep.certainty[i] = _samples_certainty(prep.space, samples[prep.row[i]], prep.names[prep.model[i]])
    prep.results = res
    prep.skipped.update(skipped)
