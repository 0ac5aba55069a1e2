"""How sure the model is of each compared answer, and what is unknown about it.

An answer's *certainty* is the share of its self-consistency ``samples`` that agree with it when the results
carry samples, else its stated ``confidence``. A confidence outside [0, 1] is not trusted (it is counted, and
the certainty is unknown); an answer with neither samples nor a usable confidence has an unknown certainty
(``NaN``), which is never taken as sure.

    >>> import numpy as np
    >>> conf = np.array([0.9, np.nan, 1.7])
    >>> in_range(conf)
    array([0.9, nan, nan])
    >>> certainty_notes(conf, in_range(conf), np.ones(3, dtype=bool))[:2]  # unknown, out of range
    (2, 1)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prelabel.comparison.readers import as_list
from prelabel.comparison.semantics import LabelSpace

__all__ = ["certainty", "certainty_notes", "in_range"]


def in_range(confidence: np.ndarray) -> np.ndarray:
    """The confidences that lie in [0, 1]; others (and missing ones) become ``NaN``."""
    with np.errstate(invalid="ignore"):
        return np.where((confidence >= 0) & (confidence <= 1), confidence, np.nan)


def certainty(
    space: LabelSpace,
    names: list[str],
    model: np.ndarray,
    row: np.ndarray,
    confidence: np.ndarray,
    samples: pd.Series,
) -> np.ndarray:
    """Per item: its samples' agreement with the answer ``names[model[i]]`` when it has samples (``row[i]``
    indexes ``samples``), else its confidence when in [0, 1]; ``NaN`` when unknown."""
    out = in_range(confidence)
    if samples.notna().any():
        values = samples.to_numpy()
        for i in np.flatnonzero(model >= 0):
            given = as_list(values[row[i]])
            if given:
                out[i] = space.samples_agreement(given, names[model[i]])
    return out


def certainty_notes(
    confidence: np.ndarray, certainty: np.ndarray, compared: np.ndarray
) -> tuple[int, int, list[str]]:
    """Over the compared items: how many have an unknown certainty, how many a confidence outside [0, 1],
    and the notes that say so."""
    unknown = np.isnan(certainty[compared])
    given = confidence[compared]
    with np.errstate(invalid="ignore"):
        outside = ~np.isnan(given) & ((given < 0) | (given > 1))
    notes = []
    if (no_signal := int((unknown & np.isnan(given)).sum())) > 0:
        notes.append(
            f"{no_signal} compared model answers carry no confidence (and no samples): their certainty is "
            "unknown, never taken as sure"
        )
    if outside.any():
        shown = ", ".join(f"{v:g}" for v in pd.unique(given[outside])[:3])
        notes.append(
            f"{int(outside.sum())} model confidences lie outside [0, 1] (e.g. {shown}): they are ignored, "
            "so those answers' certainty is unknown (unless samples give it)"
        )
    return int(unknown.sum()), int(outside.sum()), notes
