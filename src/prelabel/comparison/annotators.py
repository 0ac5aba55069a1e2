"""Vendor QA: each annotator against the consensus of the *other* annotators on the same items.

The other annotators' majority depends only on an item's count pattern and the annotation's own label, so it
is computed once per distinct (pattern, label) pair; agreement and Cohen's κ come from contingency tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from prelabel.comparison.interrater import (
    Ratings,
    dense_unique,
    grouped_pair_counts,
    kappa_from_table,
    row_patterns,
)
from prelabel.comparison.semantics import majority

__all__ = ["leave_one_out", "per_annotator"]


def leave_one_out(ratings: Ratings) -> np.ndarray:
    """Per annotation, the majority answer of the item's *other* annotators (-1 if they tie or none exist).

    It depends only on the item's count pattern and the annotation's own label, so it is computed once per
    distinct (pattern, label) pair.
    """
    n_labels = len(ratings.labels)
    codes, patterns = row_patterns(ratings.counts)
    key = codes[ratings.item] * n_labels + ratings.label
    unique_keys, inverse = dense_unique(key, (int(codes.max(initial=0)) + 1) * n_labels)
    others = patterns[unique_keys // n_labels].astype(np.int32)
    others[np.arange(len(unique_keys)), unique_keys % n_labels] -= 1
    top, _, tied = majority(others)
    return np.where((others.sum(axis=1) > 0) & ~tied, top, -1)[inverse]


def per_annotator(
    ratings: Ratings, loo: np.ndarray | None = None, group: np.ndarray | None = None, n_groups: int = 1
) -> list[pd.DataFrame]:
    """Each annotator against the consensus of the *other* annotators on the same items (vendor QA).

    Items where the others tie or where nobody else labeled are not compared (``n_compared`` counts the
    rest). ``loo`` is `leave_one_out` (computed when omitted). ``group`` (a code per annotation, e.g. its
    item's slice value) splits the figures: one frame per group code, listing the annotators seen in that
    group.
    """
    loo = leave_one_out(ratings) if loo is None else loo
    group = np.zeros(len(loo), dtype=np.int64) if group is None else group.astype(np.int64)
    n_annotators, n_labels = len(ratings.annotators), len(ratings.labels)
    combined = group * n_annotators + ratings.annotator
    labeled = np.bincount(combined, minlength=n_groups * n_annotators).reshape(n_groups, n_annotators)
    ok = loo >= 0
    tables = grouped_pair_counts(combined[ok], ratings.label[ok], loo[ok], n_groups * n_annotators, n_labels)
    frames = []
    for g in range(n_groups):
        rows: list[dict[str, Any]] = []
        for code, name in enumerate(ratings.annotators):
            table = tables[g * n_annotators + code]
            compared = int(table.sum())
            if n_groups > 1 and not labeled[g, code]:
                continue
            rows.append(
                {
                    "annotator": str(name),
                    "n_labels": int(labeled[g, code]),
                    "n_compared": compared,
                    "agreement": float(np.trace(table) / compared) if compared else None,
                    "kappa": kappa_from_table(table),
                }
            )
        frames.append(
            pd.DataFrame(rows, columns=["annotator", "n_labels", "n_compared", "agreement", "kappa"])
        )
    return frames
