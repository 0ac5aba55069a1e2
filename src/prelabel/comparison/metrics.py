"""Model-vs-human figures (scikit-learn): per label, per tree level, per annotator and per slice.

The reference is the human majority answer; items whose majority is tied are left out of these figures (and
counted in ``n_tied_excluded`` and ``skipped.items_majority_tied``), while κ against each annotator uses every
compared annotation. Each set of figures carries the number of items it is computed on (``n``).

Every figure is computed from a contingency table of (reference, predicted) answer codes: scikit-learn gets
the distinct pairs with their counts as ``sample_weight``, which yields exactly the figures of the item-level
arrays at a cost that does not grow with the number of items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, jaccard_score, precision_recall_fscore_support

from prelabel.comparison import interrater as irr
from prelabel.comparison.annotators import per_annotator
from prelabel.comparison.metrics_schema import (
    AnnotatorAgreement,
    AnnotatorVsModel,
    Confusion,
    Figures,
    LabelFigures,
    LeafFigures,
    LevelFigures,
    MajorityFigures,
    SliceAgreement,
    SliceLeafFigures,
    SliceMetrics,
    given,
)
from prelabel.comparison.prep import Prepared
from prelabel.comparison.semantics import LabelSpace, majority

__all__ = [
    "ModelFigures",
    "RolledLevel",
    "annotator_rows",
    "model_metrics",
    "roll_counts",
    "rolled_levels",
    "slice_agreement",
    "slice_metrics",
    "tree_levels",
    "versus",
]


def roll_counts(counts: np.ndarray, mapping: np.ndarray, n_out: int) -> np.ndarray:
    """Merge count-table columns: column ``c`` is added into output column ``mapping[c]``."""
    out = np.zeros((counts.shape[0], n_out), dtype=np.int32)
    for column, target in enumerate(mapping):
        out[:, target] += counts[:, column]
    return out


def _mean(values: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    if len(values) == 0 or (weights is not None and weights.sum() == 0):
        return None
    return float(np.average(values, weights=weights))


def annotator_rows(frame: pd.DataFrame) -> list[AnnotatorAgreement]:
    """The rows of an `per_annotator` frame as typed records (``NaN`` becomes ``None``)."""
    return [AnnotatorAgreement.model_validate(row) for row in frame.to_dict(orient="records")]


def versus(space: LabelSpace, names: list[str], table: np.ndarray, full: bool = True) -> Figures:
    """Figures of a contingency table: rows are reference answer codes, columns predicted ones (``names``).

    ``full`` adds ``per_label`` and, for single-label tasks, the ``confusion`` matrix.
    """
    truth, pred = np.nonzero(table)
    weight = table[truth, pred]
    n = int(weight.sum())
    if n == 0:
        return Figures(n=0, accuracy=None, kappa=None, macro_f1=None, weighted_f1=None, per_label=[])
    accuracy = float(accuracy_score(truth, pred, sample_weight=weight))
    parts: dict[str, Any] = {}
    if space.multi_label:
        label_names, member = space.binarize(names)
        y_true, y_pred = member[truth], member[pred]
        predicted = (y_pred * weight[:, None]).sum(axis=0)
        if y_true.shape[1] == 1:  # sklearn reads one column as binary, not multilabel: add an empty one
            y_true, y_pred = (np.hstack([y, np.zeros_like(y)]) for y in (y_true, y_pred))
        precision, recall, f1, support = (
            scores[: len(label_names)]
            for scores in precision_recall_fscore_support(
                y_true, y_pred, average=None, zero_division=0, sample_weight=weight
            )
        )
        parts["exact_match"] = accuracy
        parts["micro_f1"] = float(
            precision_recall_fscore_support(
                y_true, y_pred, average="micro", zero_division=0, sample_weight=weight
            )[2]
        )
        parts["jaccard"] = float(
            jaccard_score(y_true, y_pred, average="samples", zero_division=1.0, sample_weight=weight)
        )
    else:
        labels = np.union1d(truth, pred)
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, pred, labels=labels, zero_division=0, sample_weight=weight
        )
        predicted = table.sum(axis=0)[labels]
        label_names = [names[c] for c in labels]
        if full:
            matrix = table[np.ix_(labels, labels)]  # the contingency table is the confusion matrix
            parts["confusion"] = Confusion(labels=label_names, matrix=matrix.astype(np.int64).tolist())
    present = (support + predicted) > 0
    if full:
        rows = zip(label_names, precision, recall, f1, support, predicted, present, strict=True)
        parts["per_label"] = [
            LabelFigures(
                label=n, precision=float(p), recall=float(r), f1=float(f), support=int(s), predicted=int(c)
            )
            for n, p, r, f, s, c, keep in rows
            if keep
        ]
    return Figures(
        n=n,
        accuracy=accuracy,
        kappa=irr.kappa_from_table(table),
        macro_f1=_mean(f1[present]),
        weighted_f1=_mean(f1, support),
        **parts,
    )


class RolledLevel(NamedTuple):
    """One tree level above the leaves: its label names, the leaf → level code ``mapping``, and each item's
    human majority (``top``) and tie flag (``tied``) at that level."""

    level: int
    names: list[str]
    mapping: np.ndarray
    top: np.ndarray
    tied: np.ndarray


class ModelFigures(NamedTuple):
    """What `model_metrics` returns."""

    vs_majority: MajorityFigures
    levels: list[LevelFigures | LeafFigures]
    vs_annotators: list[AnnotatorVsModel]


Rolled = list[RolledLevel]


def rolled_levels(prep: Prepared) -> Rolled:
    """Per tree level above the leaves: its label names, the leaf → level code mapping, and each item's
    human majority (and tie flag) at that level (an annotator model's consensus: its leaf rolled up)."""
    codes, patterns = prep.patterns
    out: Rolled = []
    for level in range(1, prep.space.depth(prep.names)):
        names, mapping = prep.space.rollup_codes(prep.names, level)
        if prep.aggregate != "majority":  # an annotator model's consensus leaf, rolled up
            consensus = prep.majority
            out.append(RolledLevel(level, names, mapping, mapping[consensus.top], consensus.tied))
            continue
        top, _, tied = majority(roll_counts(patterns, mapping, len(names)))
        out.append(RolledLevel(level, names, mapping, top[codes], tied[codes]))
    return out


def tree_levels(prep: Prepared, rolled: Rolled, mask: np.ndarray, full: bool = True) -> list[LevelFigures]:
    """Model vs human majority at every level above the leaves, over the compared items in ``mask``."""
    levels = []
    for level, names, mapping, top, tied in rolled:
        keep = mask & ~tied
        table = irr.pair_counts(top[keep], mapping[prep.model[keep]], len(names))
        figures = versus(prep.space, names, table, full=full)
        levels.append(LevelFigures(level=level, n_tied_excluded=int((mask & tied).sum()), **given(figures)))
    return levels


def model_metrics(prep: Prepared, rolled: Rolled) -> ModelFigures:
    """``vs_majority`` (with confusion matrix), ``levels`` (every tree level, the leaves last) and
    ``vs_annotators`` (κ and agreement of the model with each annotator)."""
    top, _, tied = prep.majority
    compared, n_names = prep.compared, len(prep.names)
    use = compared & ~tied
    figures = versus(prep.space, prep.names, irr.pair_counts(top[use], prep.model[use], n_names))
    vs_majority = MajorityFigures(**given(figures), n_tied_excluded=int((compared & tied).sum()))
    leaf = {k: v for k, v in given(vs_majority).items() if k != "confusion"}
    levels: list[LevelFigures | LeafFigures] = [
        *tree_levels(prep, rolled, compared),
        LeafFigures(level=len(rolled) + 1, leaf=True, **leaf),
    ]
    ratings = prep.ratings
    model = prep.model[ratings.item]
    ok = model >= 0
    n_annotators = len(ratings.annotators)
    tables = irr.grouped_pair_counts(
        ratings.annotator[ok], ratings.label[ok], model[ok], n_annotators, n_names
    )
    vs_annotators = []
    for name, table in zip(ratings.annotators, tables, strict=True):
        n = int(table.sum())
        agreement = float(np.trace(table) / n) if n else None
        vs_annotators.append(
            AnnotatorVsModel(annotator=str(name), n=n, agreement=agreement, kappa=irr.kappa_from_table(table))
        )
    return ModelFigures(vs_majority, levels, vs_annotators)


class _SliceValue(NamedTuple):
    code: int
    value: str
    mask: np.ndarray
    agreement: irr.AgreementFigures
    per_annotator: list[AnnotatorAgreement]


def _slice_values(prep: Prepared, values: pd.Categorical) -> Iterator[_SliceValue]:
    """The values of one slice column that have human labels: their items and agreement among humans."""
    has_humans = prep.ratings.n_raters > 0
    pattern, patterns = prep.patterns
    codes, uniques = values.codes, list(values.categories)
    by_slice = per_annotator(prep.ratings, prep.leave_one_out, codes[prep.ratings.item], len(uniques))
    for code, value in enumerate(uniques):
        mask = (codes == code) & has_humans
        if mask.any():
            agreement = irr.summary(patterns, np.bincount(pattern[mask], minlength=len(patterns)))
            yield _SliceValue(code, value, mask, agreement, annotator_rows(by_slice[code]))


def slice_agreement(prep: Prepared) -> dict[str, list[SliceAgreement]]:
    """Per slice column and value: agreement among humans (with each annotator vs the others' consensus)."""
    return {
        column: [
            SliceAgreement(
                value=s.value,
                n_items=int(s.mask.sum()),
                **s.agreement._asdict(),
                per_annotator=s.per_annotator,
            )
            for s in _slice_values(prep, values)
        ]
        for column, values in prep.slices.items()
    }


def slice_metrics(prep: Prepared, rolled: Rolled) -> dict[str, list[SliceMetrics]]:
    """Per slice column and value: agreement among humans (with each annotator vs the others' consensus)
    and, given the tree ``rolled`` (see ``rolled_levels``), the model's accuracy, macro F1, κ vs the majority,
    per-label and per-tree-level figures."""
    out: dict[str, list[SliceMetrics]] = {}
    top, _, tied = prep.majority
    compared = prep.compared
    use = compared & ~tied
    for column, values in prep.slices.items():
        codes = values.codes
        tables = irr.grouped_pair_counts(
            codes[use], top[use], prep.model[use], len(values.categories), len(prep.names)
        )
        rows = []
        for s in _slice_values(prep, values):
            figures = versus(prep.space, prep.names, tables[s.code])
            leaf = SliceLeafFigures(
                level=len(rolled) + 1,
                leaf=True,
                n=figures.n,
                accuracy=figures.accuracy,
                macro_f1=figures.macro_f1,
                kappa=figures.kappa,
            )
            levels: list[LevelFigures | SliceLeafFigures] = [
                *tree_levels(prep, rolled, s.mask & compared, full=False),
                leaf,
            ]
            rows.append(
                SliceMetrics(
                    value=s.value,
                    n_items=int(s.mask.sum()),
                    **s.agreement._asdict(),
                    n_compared=int((s.mask & compared).sum()),
                    n_vs_majority=figures.n,
                    accuracy=figures.accuracy,
                    macro_f1=figures.macro_f1,
                    kappa_vs_majority=figures.kappa,
                    per_label=figures.per_label or [],
                    levels=levels,
                    per_annotator=s.per_annotator,
                )
            )
        out[column] = rows
    return out
