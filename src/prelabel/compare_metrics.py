"""Model-vs-human figures (scikit-learn): per label, per tree level, per annotator and per slice.

The reference is the human majority answer; items whose majority is tied are left out of these figures (and
counted in ``n_tied_excluded``), while κ against each annotator uses every compared annotation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, jaccard_score, precision_recall_fscore_support

from prelabel import interrater as irr
from prelabel.compare_prep import Prepared
from prelabel.labelspace import LabelSpace

__all__ = ["model_metrics", "roll_counts", "slice_metrics", "versus"]


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


def versus(
    space: LabelSpace, names: list[str], truth: np.ndarray, pred: np.ndarray, full: bool = True
) -> dict:
    """Figures of predicted answer codes against reference codes (both index ``names``)."""
    out: dict[str, Any] = {"n": len(truth)}
    if len(truth) == 0:
        return {
            **out,
            "accuracy": None,
            "macro_f1": None,
            "weighted_f1": None,
            "kappa": None,
            "per_label": [],
        }
    out["accuracy"] = float(accuracy_score(truth, pred))
    out["kappa"] = irr.kappa(truth, pred)
    if space.multi_label:
        classes, member = space.binarize(names)
        y_true, y_pred = member[truth], member[pred]
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, average=None, zero_division=0
        )
        predicted = y_pred.sum(axis=0)
        out["exact_match"] = out["accuracy"]
        out["jaccard"] = float(jaccard_score(y_true, y_pred, average="samples", zero_division=1.0))
        label_names = classes
    else:
        labels = np.union1d(truth, pred)
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, pred, labels=labels, zero_division=0
        )
        predicted = np.bincount(np.searchsorted(labels, pred), minlength=len(labels))
        label_names = [names[c] for c in labels]
        if full:
            matrix = confusion_matrix(truth, pred, labels=labels)
            out["confusion"] = {"labels": label_names, "matrix": matrix.tolist()}
    present = (support + predicted) > 0
    out["macro_f1"] = _mean(f1[present])
    out["weighted_f1"] = _mean(f1, support)
    if full:
        out["per_label"] = [
            {
                "label": n,
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
                "predicted": int(c),
            }
            for n, p, r, f, s, c, keep in zip(
                label_names, precision, recall, f1, support, predicted, present, strict=True
            )
            if keep
        ]
    return out


def model_metrics(prep: Prepared) -> dict[str, Any]:
    """``vs_majority`` (with confusion matrix), ``levels`` (one entry per tree level above the leaves) and
    ``vs_annotators`` (κ and agreement of the model with each annotator)."""
    top, _, tied = prep.majority
    compared = prep.compared
    use = compared & ~tied
    vs_majority = versus(prep.space, prep.names, top[use], prep.model[use])
    vs_majority["n_tied_excluded"] = int((compared & tied).sum())
    levels = []
    depth = prep.space.depth(prep.names)
    for level in range(1, depth):
        level_names, mapping = prep.space.rollup_codes(prep.names, level)
        counts = roll_counts(prep.ratings.counts, mapping, len(level_names))
        level_top, _, level_tied = irr.majority(counts)
        keep = compared & ~level_tied
        figures = versus(prep.space, level_names, level_top[keep], mapping[prep.model[keep]])
        levels.append({"level": level, "n_tied_excluded": int((compared & level_tied).sum()), **figures})
    levels.append(
        {"level": depth, "leaf": True, **{k: v for k, v in vs_majority.items() if k != "confusion"}}
    )
    ratings = prep.ratings
    vs_annotators = []
    for name, idx in zip(ratings.annotators, ratings.by_annotator, strict=True):
        model = prep.model[ratings.item[idx]]
        ok = model >= 0
        mine, theirs = ratings.label[idx][ok], model[ok]
        vs_annotators.append(
            {
                "annotator": str(name),
                "n": int(ok.sum()),
                "agreement": float(np.mean(mine == theirs)) if ok.any() else None,
                "kappa": irr.kappa(mine, theirs),
            }
        )
    return {"vs_majority": vs_majority, "levels": levels, "vs_annotators": vs_annotators}


def slice_metrics(prep: Prepared, model: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """Every slice column's values with human agreement and (with ``model``) the model's headline figures."""
    out: dict[str, list[dict[str, Any]]] = {}
    top, _, tied = prep.majority
    has_humans = prep.ratings.n_raters > 0
    for column, values in prep.slices.items():
        rows = []
        codes, uniques = _factorize(values)
        for code, value in enumerate(uniques):
            mask = (codes == code) & has_humans
            row: dict[str, Any] = {"value": value, "n_items": int(mask.sum())}
            row.update(irr.summary(prep.ratings.counts[mask]))
            if model is not None:
                use = mask & prep.compared & ~tied
                figures = versus(prep.space, prep.names, top[use], prep.model[use], full=False)
                row.update(
                    n_compared=int((mask & prep.compared).sum()),
                    accuracy=figures["accuracy"],
                    macro_f1=figures["macro_f1"],
                    kappa_vs_majority=figures["kappa"],
                )
            rows.append(row)
        out[column] = rows
    return out


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    text = pd.Series(values, dtype=object)
    text = text.where(text.notna() & (text != ""), "(missing)").astype(str)
    codes, uniques = pd.factorize(text, sort=True)
    return codes, [str(u) for u in uniques]
