"""Agreement among human annotators: Fleiss' κ, Krippendorff's α, percent agreement, per-annotator QA.

Human labels are held as integer codes (`Ratings`) and summarised as an items × labels count table, which is
what statsmodels' ``fleiss_kappa`` and ``krippendorff.alpha(value_counts=...)`` take.

- **Fleiss' κ**: the generalised form for missing ratings (Gwet 2014, *Handbook of Inter-Rater Reliability*,
  §2.5; the form ``irrCAC`` implements): observed agreement over items with ≥ 2 ratings, chance agreement
  from per-item category shares. When every item has the same number of annotators it is Fleiss' κ itself;
  tests check it against ``statsmodels.stats.inter_rater.fleiss_kappa`` there (which refuses unequal numbers,
  as when some annotators skipped some items) and against ``irrCAC`` everywhere.
- **Krippendorff's α** (nominal): ``krippendorff.alpha``. That call materialises an items × labels × labels
  array (1.8 GB for a million items and 15 labels), so above `ALPHA_DIRECT_LIMIT` cells the same coincidence
  matrix is computed as one matrix product; tests check both paths agree with ``krippendorff.alpha``.
- **Percent agreement**: the mean over items with ≥ 2 annotators of the majority label's share (Röttger et
  al. 2022). **Pairwise agreement**: the mean over the same items of the share of agreeing annotation pairs
  (what most tools call percent agreement; Fleiss' observed agreement). Two annotators who disagree: 0.5 and
  0.0.
- **Per annotator** (`prelabel.comparison.annotators`): agreement and Cohen's κ with the consensus of the
  *other* annotators.

Multi-label answers are label sets, rated as nominal categories here; `prelabel.compare` adds per-label
figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

__all__ = [
    "ALPHA_DIRECT_LIMIT",
    "AgreementFigures",
    "Patterns",
    "Ratings",
    "Unique",
    "dense_unique",
    "fleiss_kappa",
    "grouped_pair_counts",
    "kappa",
    "kappa_from_table",
    "kappas_from_tables",
    "krippendorff_alpha",
    "pair_counts",
    "pairwise_agreement",
    "percent_agreement",
    "row_patterns",
    "summary",
]

#: Above this many items × labels² cells, α uses the matrix-product path (same figure, less memory).
ALPHA_DIRECT_LIMIT = 500_000


class AgreementFigures(NamedTuple):
    """Percent and pairwise agreement, Fleiss' κ and Krippendorff's α of one count table (``None`` when
    undefined)."""

    percent_agreement: float | None
    pairwise_agreement: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None


class Patterns(NamedTuple):
    """Each row's code among the distinct rows of a count table (``codes``), and those rows."""

    codes: np.ndarray
    rows: np.ndarray


class Unique(NamedTuple):
    """The distinct keys, sorted, and each key's position among them (``np.unique(return_inverse=True)``)."""

    values: np.ndarray
    inverse: np.ndarray


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
        if n_labels <= 64:  # one bincount per label: fast, and no int64 items × labels temporary
            counts = np.zeros((self.n_items, n_labels), dtype=np.int32)
            for code in range(n_labels):
                counts[:, code] = np.bincount(self.item[self.label == code], minlength=self.n_items)
            return counts
        flat = np.zeros(self.n_items * n_labels, dtype=np.int32)
        np.add.at(flat, self.item.astype(np.int64) * n_labels + self.label, 1)
        return flat.reshape(self.n_items, n_labels)

    @cached_property
    def n_raters(self) -> np.ndarray:
        """Number of annotations per item."""
        return self.counts.sum(axis=1)


def _weights(counts: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(len(counts), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)


def _chance_is_total(counts: np.ndarray, weights: np.ndarray) -> bool:
    """True when at most one label is used: chance agreement is total and κ/α are undefined."""
    return bool(np.count_nonzero(weights @ counts) < 2)


def fleiss_kappa(counts: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Fleiss' κ from an items × labels count table; ``None`` if undefined (< 2 raters, or one class).

    ``weights`` (optional) says how many items each row stands for, so the table may hold distinct rows only.
    """
    w = _weights(counts, weights)
    raters = counts.sum(axis=1)
    keep = (raters > 0) & (w > 0)
    counts, raters, w = counts[keep], raters[keep], w[keep]
    if not np.any(raters >= 2) or _chance_is_total(counts, w):
        return None
    # Gwet's form for missing ratings (see module docstring); with equal numbers of raters it is Fleiss' own.
    paired = raters >= 2
    c2, r2 = counts[paired].astype(np.float64), raters[paired].astype(np.float64)
    p_observed = float(np.average((c2 * (c2 - 1)).sum(axis=1) / (r2 * (r2 - 1)), weights=w[paired]))
    shares = np.average(counts / raters[:, None], axis=0, weights=w)
    p_chance = float(np.sum(shares**2))
    return (p_observed - p_chance) / (1 - p_chance)


def krippendorff_alpha(counts: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Krippendorff's α (nominal) from an items × labels count table (rows weighted as in `fleiss_kappa`)."""
    w = _weights(counts, weights)
    keep = (counts.sum(axis=1) >= 2) & (w > 0)
    pairable, w = counts[keep], w[keep]
    if len(pairable) == 0 or _chance_is_total(pairable, w):
        return None
    if w.sum() * pairable.shape[1] ** 2 <= ALPHA_DIRECT_LIMIT:
        table = pairable if weights is None else np.repeat(pairable, w, axis=0)
        return float(krippendorff.alpha(value_counts=table, level_of_measurement="nominal"))
    return _alpha_by_matrix_product(pairable, w)


def _alpha_by_matrix_product(pairable: np.ndarray, weights: np.ndarray) -> float:
    """Nominal α from the coincidence matrix o = Σ_u w_u (n_u n_uᵀ − diag n_u) / (m_u − 1), as one product."""
    counts = pairable.astype(np.float64)
    scaled = counts * (weights / (counts.sum(axis=1) - 1))[:, None]
    coincidences = scaled.T @ counts - np.diag(scaled.sum(axis=0))
    n_c = coincidences.sum(axis=0)
    n = n_c.sum()
    observed = n - np.trace(coincidences)
    expected = (n * n - np.sum(n_c**2)) / (n - 1)
    return float(1 - observed / expected)


def percent_agreement(counts: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Mean over items with ≥ 2 annotators of the majority label's share; ``None`` if there are none."""
    w = _weights(counts, weights)
    raters = counts.sum(axis=1)
    paired = (raters >= 2) & (w > 0)
    if not paired.any():
        return None
    return float(np.average(counts[paired].max(axis=1) / raters[paired], weights=w[paired]))


def pairwise_agreement(counts: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Mean over items with ≥ 2 annotators of the share of annotation pairs that agree; ``None`` if none.

    >>> pairwise_agreement(np.array([[1, 1], [3, 0]])), percent_agreement(np.array([[1, 1], [3, 0]]))
    (0.5, 0.75)
    """
    w = _weights(counts, weights)
    raters = counts.sum(axis=1)
    paired = (raters >= 2) & (w > 0)
    if not paired.any():
        return None
    c, r = counts[paired].astype(np.float64), raters[paired].astype(np.float64)
    return float(np.average((c * (c - 1)).sum(axis=1) / (r * (r - 1)), weights=w[paired]))


def dense_unique(keys: np.ndarray, space: int) -> Unique:
    """``np.unique(keys, return_inverse=True)`` for non-negative keys below ``space``, in O(n) when it can."""
    if space > 50_000_000:
        unique, inverse = np.unique(keys, return_inverse=True)
        return Unique(unique, inverse.reshape(-1))
    present = np.zeros(space, dtype=bool)
    present[keys] = True
    unique = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1
    return Unique(unique, lookup[keys])


def pair_counts(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """An n × n contingency table of two code arrays (codes in ``range(n)``)."""
    return np.bincount(a.astype(np.int64) * n + b, minlength=n * n).reshape(n, n)


def grouped_pair_counts(
    group: np.ndarray, a: np.ndarray, b: np.ndarray, n_groups: int, n: int
) -> list[np.ndarray]:
    """One n × n contingency table of ``a`` vs ``b`` per group code (one pass over the rows)."""
    key = (group.astype(np.int64) * n + a) * n + b
    if n_groups * n * n <= 20_000_000:
        return list(np.bincount(key, minlength=n_groups * n * n).reshape(n_groups, n, n))
    tables = [np.zeros((n, n), dtype=np.int64) for _ in range(n_groups)]
    unique, count = np.unique(key, return_counts=True)
    for k, c in zip(unique.tolist(), count.tolist(), strict=True):
        tables[k // (n * n)][(k // n) % n, k % n] = c
    return tables


def kappa_from_table(table: np.ndarray) -> float | None:
    """Cohen's κ (scikit-learn, rows vs columns) of a contingency table; ``None`` when undefined.

    The table's cells are passed as ``sample_weight`` over the distinct (row, column) pairs, which gives
    exactly the figure of the unaggregated pairs at a cost independent of the number of items.
    """
    rows, cols = np.nonzero(table)
    if len(rows) == 0 or len(np.union1d(rows, cols)) < 2:
        return None
    return float(cohen_kappa_score(rows, cols, sample_weight=table[rows, cols]))


def kappas_from_tables(tables: np.ndarray) -> list[float | None]:
    """`kappa_from_table` of each of a stack of contingency tables (groups × n × n), in one vectorised pass
    (Cohen's κ from counts, ``1 - (1 - p_o) / (1 - p_e)``: scikit-learn's figure); ``None`` where undefined.

    >>> kappas_from_tables(np.array([[[3, 1], [0, 2]], [[4, 0], [0, 0]]]))
    [0.6666666666666667, None]
    """
    tables = np.asarray(tables, dtype=np.float64)
    total = tables.sum(axis=(1, 2))
    used = ((tables.sum(axis=1) + tables.sum(axis=2)) > 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.trace(tables, axis1=1, axis2=2) / total
        chance = (tables.sum(axis=2) * tables.sum(axis=1)).sum(axis=1) / total**2
        value = 1 - (1 - observed) / (1 - chance)
    return [float(v) if n > 0 and u >= 2 else None for v, n, u in zip(value, total, used, strict=True)]


def kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cohen's κ (scikit-learn) of two code arrays; ``None`` when empty or only one class is used."""
    if len(a) == 0:
        return None
    return kappa_from_table(pair_counts(a, b, int(max(a.max(), b.max())) + 1))


def row_patterns(counts: np.ndarray) -> Patterns:
    """Each row's code among the distinct rows of a count table, and those rows (rows hashed as bytes)."""
    if counts.shape[0] == 0:
        return Patterns(np.zeros(0, dtype=np.int64), counts[:0])
    top = int(counts.max())
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
    raw = np.ascontiguousarray(counts.astype(dtype, copy=False))
    keys = raw.view(f"S{raw.itemsize * raw.shape[1]}").ravel()
    codes, _ = pd.factorize(keys)
    first = np.full(codes.max() + 1, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return Patterns(codes.astype(np.int64), counts[first])


def summary(counts: np.ndarray, weights: np.ndarray | None = None) -> AgreementFigures:
    """Percent and pairwise agreement, Fleiss' κ and Krippendorff's α of one count table (``None`` when
    undefined)."""
    return AgreementFigures(
        percent_agreement(counts, weights),
        pairwise_agreement(counts, weights),
        fleiss_kappa(counts, weights),
        krippendorff_alpha(counts, weights),
    )
