"""Routing thresholds with a precision guarantee: Clopper-Pearson bounds and fixed-sequence testing.

Thresholds come from a calibration set (model answers with human labels). For each threshold ``t`` of a fixed
grid, tested from high to low (fixed-sequence testing, as in learn-then-test and "Trust or Escalate", Jung et
al., ICLR 2025), the accepted calibration items (signal >= ``t``) give a one-sided Clopper-Pearson lower
bound on their precision (agreement with the human majority); testing stops at the first threshold whose
bound falls below the target, and the lowest threshold that passed is chosen. Thresholds accepting too few
items to pass with a precision halfway between the target and 1 are skipped, not tested (`min_tested`).

The guarantee: if the calibration items and the routed items are exchangeable (drawn from the same
stream), then with probability at least ``1 - delta`` over the calibration draw, the precision of the
accepted items is at least ``target``. Per label (``by="label"``), each label gets its own threshold at
``delta / L`` (Bonferroni over the ``L`` labels tested), so the statement holds for every label at once and
hence overall. Labels with fewer than ``min_count`` calibration items always go to review.

``route`` (``comparison.routing``) fits these thresholds on a calibration set and splits a run with them.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(0.5, 1.0, 2000)
    >>> fit = fit_threshold(s, rng.uniform(size=2000) < s, target=0.9, delta=0.05)
    >>> fit.threshold is not None and fit.lower_bound >= 0.9
    True
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["GRID", "ThresholdFit", "fit_threshold", "items_needed", "min_tested"]

#: The thresholds tried, high to low: fixed in advance (never taken from the data), as the test requires.
GRID = np.round(np.linspace(1.0, 0.0, 201), 3)


class ThresholdFit(BaseModel):
    """A chosen threshold (``None``: no threshold meets the target) and its calibration figures."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None
    delta: float
    n_calibration: int
    n_accepted: int = 0
    precision: float | None = None
    lower_bound: float | None = None
    coverage: float = 0.0


def _lower_bounds(k: np.ndarray, n: np.ndarray, delta: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower confidence bounds (level ``1 - delta``) for k successes in n."""
    from scipy.stats import beta

    out = np.zeros(len(k), dtype=float)
    ok = (k > 0) & (n > 0)
    out[ok] = beta.ppf(delta, k[ok], n[ok] - k[ok] + 1)
    return out


@lru_cache(maxsize=256)
def min_tested(target: float, delta: float) -> int:
    """The fewest accepted items a threshold needs to be tested: enough that a precision halfway between the
    target and 1 would pass. Thresholds accepting fewer are skipped (not tested), so a handful of items at
    the very top cannot end the sequence; the rule depends on ``target`` and ``delta`` only, never the data.
    """
    observed = (1 + target) / 2
    n = math.ceil(math.log(delta) / math.log(target))  # below this, not even n/n correct passes
    while n < 1_000_000:
        k = np.array([math.ceil(observed * n)])
        if _lower_bounds(k, np.array([n]), delta)[0] >= target:
            return n
        n = max(n + 1, int(n * 1.05))
    return n


def items_needed(target: float, delta: float) -> int:
    """Calibration items a label needs for its own threshold to be worth testing at ``delta``: twice
    `min_tested`, so that a threshold accepting half of them can be tested. Depends on ``target`` and
    ``delta`` only (how many items, never whether they were right), so choosing labels by it keeps the
    guarantee.

        >>> items_needed(0.85, 0.05 / 13) > 145   # 2,000 items over 13 labels: too few for per-label alone
        True
    """
    return 2 * min_tested(target, delta)


def fit_threshold(
    signal: Any, correct: Any, *, target: float, delta: float, grid: np.ndarray = GRID
) -> ThresholdFit:
    """The lowest grid threshold reached by fixed-sequence testing whose Clopper-Pearson lower bound on the
    precision of items with ``signal >= threshold`` is at least ``target``."""
    s = np.asarray(signal, dtype=float)
    c = np.asarray(correct, dtype=bool)
    n_total = len(s)
    order = np.argsort(-s, kind="stable")
    s_desc, hits = s[order], np.concatenate([[0], np.cumsum(c[order])])
    n_at = np.searchsorted(-s_desc, -grid, side="right")  # items with signal >= t, for each t
    k_at = hits[n_at]
    tested = n_at >= min_tested(target, delta)
    passed = _lower_bounds(k_at, n_at, delta) >= target
    failed = np.flatnonzero(tested & ~passed)
    stop = failed[0] if len(failed) else len(grid)
    chosen = np.flatnonzero(tested[:stop] & passed[:stop])
    if not len(chosen):
        return ThresholdFit(threshold=None, delta=delta, n_calibration=n_total)
    # Thresholds accepting the same calibration items are equivalent evidence; every one of them passed, so
    # take the highest (no extrapolation below the lowest accepted signal).
    i = int(np.flatnonzero(n_at == n_at[chosen[-1]])[0])
    n, k = int(n_at[i]), int(k_at[i])
    return ThresholdFit(
        threshold=float(grid[i]),
        delta=delta,
        n_calibration=n_total,
        n_accepted=n,
        precision=k / n,
        lower_bound=float(_lower_bounds(np.array([k]), np.array([n]), delta)[0]),
        coverage=n / n_total if n_total else 0.0,
    )
