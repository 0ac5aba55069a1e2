"""Agreement among human annotators: Fleiss' κ, Krippendorff's α, percent agreement, per-annotator QA.

Human labels are held as integer codes (`Ratings`) and summarised as an items × labels count table, which is
what statsmodels' ``fleiss_kappa`` and ``krippendorff.alpha(value_counts=...)`` take.

- **Fleiss' κ**: ``statsmodels.stats.inter_rater.fleiss_kappa`` when every item has the same number of
  annotators. With unequal numbers (some annotators skipped some items) statsmodels refuses the table, so the
  generalised form for missing ratings (Gwet 2014, *Handbook of Inter-Rater Reliability*, §2.5; the form
  ``irrCAC`` implements) is used: observed agreement over items with ≥ 2 ratings, chance agreement from
  per-item category shares.
- **Krippendorff's α** (nominal): ``krippendorff.alpha``. That call materialises an items × labels × labels
  array (1.8 GB for a million items and 15 labels), so above `ALPHA_DIRECT_LIMIT` cells the same coincidence
  matrix is computed as one matrix product; tests check both paths agree with ``krippendorff.alpha``.
- **Percent agreement**: the mean over items with ≥ 2 annotators of the majority label's share.
- **Per annotator**: agreement and Cohen's κ (scikit-learn) with the consensus of the *other* annotators.

Multi-label answers are label sets, rated as nominal categories here; `prelabel.compare` adds per-label
figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

__all__ = [
    "ALPHA_DIRECT_LIMIT",
    "Ratings",
    "fleiss_kappa",
    "kappa",
    "krippendorff_alpha",
    "majority",
    "per_annotator",
    "percent_agreement",
    "summary",
]

#: Above this many items × labels² cells, α uses the matrix-product path (same figure, less memory).
ALPHA_DIRECT_LIMIT = 4_000_000


@dataclass(frozen=True)
class Ratings:
    """Human annotations as codes: ``item[j]``, ``annotator[j]``, ``label[j]`` index the three name arrays."""

    items: pd.Index
    annotators: pd.Index
    labels: np.ndarray
    item: np.ndarray
    annotator: np.ndarray
    label: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, labels: list[str] | None = None) -> Ratings:
        """Build from a long frame with ``item_id``, ``annotator`` and ``label`` (text) columns."""
        item, items = pd.factorize(frame["item_id"], sort=False)
        annotator, annotators = pd.factorize(frame["annotator"], sort=True)
        if labels is None:
            label, names = pd.factorize(frame["label"], sort=True)
            names_arr = np.asarray(names, dtype=object)
        else:
            names_arr = np.asarray(labels, dtype=object)
            label = pd.Index(names_arr).get_indexer(frame["label"])
        return cls(pd.Index(items), pd.Index(annotators), names_arr, item, annotator, label)

    @property
    def n_items(self) -> int:
        """Number of distinct items."""
        return len(self.items)

    @cached_property
    def counts(self) -> np.ndarray:
        """Items × labels table: how many annotators gave each label to each item."""
        n_labels = len(self.labels)
        flat = np.bincount(self.item * n_labels + self.label, minlength=self.n_items * n_labels)
        return flat.reshape(self.n_items, n_labels).astype(np.int32, copy=False)

    @cached_property
    def n_raters(self) -> np.ndarray:
        """Number of annotations per item."""
        return self.counts.sum(axis=1)

    @cached_property
    def by_annotator(self) -> list[np.ndarray]:
        """For each annotator code, the positions of that annotator's annotations."""
        order = np.argsort(self.annotator, kind="stable")
        bounds = np.searchsorted(self.annotator[order], np.arange(len(self.annotators) + 1))
        return [order[bounds[i] : bounds[i + 1]] for i in range(len(self.annotators))]


def _chance_is_total(counts: np.ndarray) -> bool:
    return bool(np.count_nonzero(counts.sum(axis=0)) < 2)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' κ from an items × labels count table; ``None`` if undefined (< 2 raters, or one class)."""
    raters = counts.sum(axis=1)
    counts = counts[raters > 0]
    raters = raters[raters > 0]
    if not np.any(raters >= 2) or _chance_is_total(counts):
        return None
    if raters.min() == raters.max():
        return float(sm_fleiss_kappa(counts, method="fleiss"))
    # Gwet's generalisation for missing ratings (see module docstring); equals statsmodels when balanced.
    paired = raters >= 2
    c2, r2 = counts[paired].astype(np.float64), raters[paired].astype(np.float64)
    p_observed = float(np.mean((c2 * (c2 - 1)).sum(axis=1) / (r2 * (r2 - 1))))
    shares = (counts / raters[:, None]).mean(axis=0)
    p_chance = float(np.sum(shares**2))
    return (p_observed - p_chance) / (1 - p_chance)


def krippendorff_alpha(counts: np.ndarray) -> float | None:
    """Krippendorff's α (nominal) from an items × labels count table; ``None`` when undefined."""
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or _chance_is_total(pairable):
        return None
    if pairable.shape[0] * pairable.shape[1] ** 2 <= ALPHA_DIRECT_LIMIT:
        return float(krippendorff.alpha(value_counts=pairable, level_of_measurement="nominal"))
    return _alpha_by_matrix_product(pairable)


def _alpha_by_matrix_product(pairable: np.ndarray) -> float:
    """Nominal α from the coincidence matrix o = Σ_u (n_u n_uᵀ − diag n_u) / (m_u − 1), as one product."""
    counts = pairable.astype(np.float64)
    weighted = counts / (counts.sum(axis=1, keepdims=True) - 1)
    coincidences = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    n_c = coincidences.sum(axis=0)
    n = n_c.sum()
    observed = n - np.trace(coincidences)
    expected = (n * n - np.sum(n_c**2)) / (n - 1)
    return float(1 - observed / expected)


def percent_agreement(counts: np.ndarray) -> float | None:
    """Mean over items with ≥ 2 annotators of the majority label's share; ``None`` if there are none."""
    raters = counts.sum(axis=1)
    paired = raters >= 2
    if not paired.any():
        return None
    return float(np.mean(counts[paired].max(axis=1) / raters[paired]))


def majority(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item: the majority label code, its share of the item's annotations, and whether it is tied."""
    top = counts.argmax(axis=1)
    best = counts.max(axis=1)
    raters = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(raters > 0, best / np.maximum(raters, 1), np.nan)
    tied = (counts == best[:, None]).sum(axis=1) > 1
    return top, share, tied & (raters > 0)


def kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cohen's κ (scikit-learn) of two code arrays; ``None`` when empty or only one class is used."""
    if len(a) == 0 or len(np.union1d(a, b)) < 2:
        return None
    return float(cohen_kappa_score(a, b))


def per_annotator(ratings: Ratings, chunk: int = 500_000) -> pd.DataFrame:
    """Each annotator against the consensus of the *other* annotators on the same items (vendor QA).

    Items where the others tie or nobody else labeled are not compared (``n_compared`` counts the rest).
    """
    counts, n = ratings.counts, len(ratings.item)
    loo = np.full(n, -1, dtype=np.int64)
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        others = counts[ratings.item[sl]].astype(np.int32)
        others[np.arange(others.shape[0]), ratings.label[sl]] -= 1
        top, _, tied = majority(others)
        loo[sl] = np.where((others.sum(axis=1) > 0) & ~tied, top, -1)
    rows: list[dict[str, Any]] = []
    for name, idx in zip(ratings.annotators, ratings.by_annotator, strict=True):
        mine, theirs = ratings.label[idx], loo[idx]
        ok = theirs >= 0
        rows.append(
            {
                "annotator": str(name),
                "n_labels": len(idx),
                "n_compared": int(ok.sum()),
                "agreement": float(np.mean(mine[ok] == theirs[ok])) if ok.any() else None,
                "kappa": kappa(mine[ok], theirs[ok]),
            }
        )
    return pd.DataFrame(rows, columns=["annotator", "n_labels", "n_compared", "agreement", "kappa"])


def summary(counts: np.ndarray) -> dict[str, Any]:
    """Percent agreement, Fleiss' κ and Krippendorff's α of one count table (``None`` when undefined)."""
    return {
        "percent_agreement": percent_agreement(counts),
        "fleiss_kappa": fleiss_kappa(counts),
        "krippendorff_alpha": krippendorff_alpha(counts),
    }
