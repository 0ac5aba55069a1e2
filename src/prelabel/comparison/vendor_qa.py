"""Vendor QA of one batch: per annotator, vendor and market, accuracy against gold, agreement with the
consensus, and throughput (``metrics.json``'s ``vendor_qa``, what `prelabel.qa` follows over batches).

- **Accuracy against gold**: an annotator's votes on gold items (`prelabel.comparison.gold`) that equal the
  gold answer, with the Wilson score interval at 95 % (scipy's ``binomtest(...).proportion_ci(method=
  "wilson")``) and the n behind it. A vendor's or market's figure pools its annotators' votes.
- **Target**: with ``target_accuracy``, an agent whose gold accuracy is below it is ``below_target``; it is
  ``flagged`` when the whole interval is below it (upper bound < target: the shortfall is not chance at 95 %).
  Agents without gold votes are not judged.
- **Agreement with the consensus** and Cohen's κ: each vote against the other annotators' untied majority
  (majority vote), or against the annotator model's consensus (``--aggregate``; the model already weighs each
  annotator by their reliability).
- **Throughput**: seconds per vote from ``lead_time`` (seconds the annotator spent), else from ``created_at``
  (time since the annotator's previous vote; gaps longer than `BREAK_SECONDS` are breaks and not counted).
  ``items_per_hour`` is timed votes per hour spent, ``median_seconds`` the median per vote, ``fast_share``
  the share of timed votes under ``fast_seconds`` (default `FAST_SECONDS`; a careless-agent signal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from prelabel.comparison.interrater import grouped_pair_counts, kappas_from_tables
from prelabel.comparison.metrics_schema import VENDOR_QA_VERSION, AgentQuality, VendorQA
from prelabel.errors import InputError

if TYPE_CHECKING:
    from prelabel.comparison.gold import GoldKey
    from prelabel.comparison.prep import Prepared

__all__ = ["BREAK_SECONDS", "FAST_SECONDS", "RULES", "vendor_qa", "vendor_qa_lines", "wilson"]

#: Votes faster than this many seconds count as very fast (``--fast-seconds``).
FAST_SECONDS = 3.0
#: With ``created_at`` only, a gap longer than this between two votes of an annotator is a break.
BREAK_SECONDS = 1800.0
_MISSING = "(missing)"

#: The rules of the figures, written into ``vendor_qa.rules``.
RULES = {
    "gold_accuracy": "votes on gold items equal to the gold answer / votes on gold items; gold annotations "
    "are the key, not votes; interval: Wilson score at 95 %",
    "flagged": "with a target accuracy: below_target when gold_accuracy < target; flagged when the Wilson "
    "upper bound < target; agents without gold votes are not judged",
    "consensus_agreement": "votes equal to the consensus of the item (majority vote: the other annotators' "
    "untied majority; an annotator model: its consensus) / votes on items with one; kappa: Cohen's",
    "throughput": "seconds per vote from lead_time, else from created_at (time since the annotator's "
    f"previous vote; gaps over {BREAK_SECONDS:.0f} s are breaks, not counted); items_per_hour = timed "
    "votes / hours spent; fast_share = share of timed votes under fast_seconds",
}


def wilson(correct: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """The Wilson score interval of ``correct`` out of ``n`` (``None`` without any).

    >>> tuple(round(x, 3) for x in wilson(9, 10))
    (0.596, 0.982)
    """
    if n <= 0:
        return None, None
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _seconds(frame: pd.DataFrame, rows: np.ndarray, annotator: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Seconds per vote (NaN when unknown) and where they came from."""
    if "lead_time" in frame.columns:
        values = pd.to_numeric(frame["lead_time"], errors="coerce").to_numpy(dtype=np.float64)[rows]
        values[values < 0] = np.nan
        return values, "lead_time"
    if "created_at" in frame.columns:
        stamps = pd.to_datetime(frame["created_at"], errors="coerce", utc=True, format="mixed")
        when = stamps.to_numpy(dtype="datetime64[ns]")[rows].astype(np.int64) / 1e9
        when[stamps.isna().to_numpy()[rows]] = np.nan
        order = np.lexsort((when, annotator))
        gaps = np.full(len(rows), np.nan)
        sorted_when, sorted_who = when[order], annotator[order]
        same = np.r_[False, sorted_who[1:] == sorted_who[:-1]]
        diff = np.r_[np.nan, np.diff(sorted_when)]
        diff[~same | (diff > BREAK_SECONDS) | (diff < 0)] = np.nan
        gaps[order] = diff
        return gaps, "created_at"
    return np.full(len(rows), np.nan), None


def _codes(frame: pd.DataFrame, column: str, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    first, uniques = pd.factorize(frame[column].to_numpy(dtype=object)[rows], use_na_sentinel=True)
    text = [_MISSING if v is None or v != v or str(v).strip() == "" else str(v) for v in uniques]
    if (first < 0).any():  # a missing value
        first = np.where(first < 0, len(text), first)
        text.append(_MISSING)
    merged, names = pd.factorize(pd.Series(text, dtype=object), sort=True)
    return merged[first].astype(np.int64), [str(n) for n in names]


def _most_common(group: np.ndarray, values: np.ndarray, names: list[str], n_groups: int) -> list[str]:
    table = np.bincount(group * len(names) + values, minlength=n_groups * len(names)).reshape(n_groups, -1)
    return [names[int(row.argmax())] for row in table]


def vendor_qa(
    prep: Prepared,
    frame: pd.DataFrame,
    gold: GoldKey,
    *,
    target_accuracy: float | None = None,
    fast_seconds: float = FAST_SECONDS,
) -> VendorQA:
    """Vendor QA figures of the prepared votes ``prep`` (``frame``: the votes frame it was prepared from,
    for the ``vendor``, ``market``, ``lead_time`` and ``created_at`` columns) against the ``gold`` key."""
    check_settings(target_accuracy, fast_seconds)
    ratings = prep.ratings
    rows = prep.annotation_rows
    key, sources = gold
    n_labels = len(prep.names)
    gold_code = np.full(ratings.n_items, -1, dtype=np.int64)
    if key:
        positions = ratings.items.get_indexer(pd.Index(list(key), dtype=object))
        answers = pd.Index(prep.names).get_indexer(pd.Index(list(key.values()), dtype=object))
        found = positions >= 0
        gold_code[positions[found]] = np.where(answers[found] >= 0, answers[found], n_labels)
    truth = gold_code[ratings.item]
    on_gold = truth >= 0
    if prep.aggregate == "majority":
        reference = prep.leave_one_out
    else:
        top, _, tied = prep.majority
        reference = np.where(tied, -1, top)[ratings.item]
    seconds, duration = _seconds(frame, rows, ratings.annotator)
    levels: list[tuple[str, np.ndarray, list[str]]] = [
        ("annotator", ratings.annotator.astype(np.int64), [str(a) for a in ratings.annotators])
    ]
    context: dict[str, list[str]] = {}
    for column in ("vendor", "market"):
        if column in frame.columns:
            codes, names = _codes(frame, column, rows)
            levels.append((column, codes, names))
            context[column] = _most_common(levels[0][1], codes, names, len(levels[0][2]))
    agents: list[AgentQuality] = []
    for level, group, names in levels:
        agents += _level_rows(
            level, group, names, ratings.label, truth, on_gold, reference, seconds, n_labels, fast_seconds
        )
    for row in agents:
        if row.level == "annotator":
            code = levels[0][2].index(row.name)
            row.vendor = context["vendor"][code] if "vendor" in context else None
            row.market = context["market"][code] if "market" in context else None
        if target_accuracy is not None and row.gold_accuracy is not None:
            row.below_target = row.gold_accuracy < target_accuracy
            row.flagged = row.gold_high is not None and row.gold_high < target_accuracy
    return VendorQA(
        version=VENDOR_QA_VERSION,
        aggregate=prep.aggregate,
        gold_items=sources,
        n_gold_items=int((gold_code >= 0).sum()),
        target_accuracy=target_accuracy,
        fast_seconds=fast_seconds,
        duration_source=duration,
        rules=dict(RULES),
        agents=agents,
    )


def check_settings(target_accuracy: float | None, fast_seconds: float | None) -> None:
    """``InputError`` for a target outside (0, 1) or a negative fast-answer threshold."""
    fast_seconds = FAST_SECONDS if fast_seconds is None else fast_seconds
    if target_accuracy is not None and not 0 < target_accuracy < 1:
        raise InputError(f"target accuracy must be strictly between 0 and 1, got {target_accuracy}")
    if not fast_seconds >= 0:
        raise InputError(f"fast seconds must be 0 or more, got {fast_seconds}")


def _level_rows(
    level: str,
    group: np.ndarray,
    names: list[str],
    label: np.ndarray,
    truth: np.ndarray,
    on_gold: np.ndarray,
    reference: np.ndarray,
    seconds: np.ndarray,
    n_labels: int,
    fast_seconds: float,
) -> list[AgentQuality]:
    n_groups = len(names)
    votes = np.bincount(group, minlength=n_groups)
    n_gold = np.bincount(group[on_gold], minlength=n_groups)
    right = np.bincount(group[on_gold & (label == truth)], minlength=n_groups)
    compared = reference >= 0
    n_ref = np.bincount(group[compared], minlength=n_groups)
    agree = np.bincount(group[compared & (label == reference)], minlength=n_groups)
    tables = grouped_pair_counts(group[compared], label[compared], reference[compared], n_groups, n_labels)
    kappas = kappas_from_tables(np.stack(tables)) if n_groups else []
    timed = ~np.isnan(seconds)
    times = pd.Series(seconds[timed]).groupby(group[timed])
    spent, median = times.sum(), times.median()
    fast = np.bincount(group[timed & (seconds < fast_seconds)], minlength=n_groups)
    n_timed = np.bincount(group[timed], minlength=n_groups)
    rows = []
    for code, name in enumerate(names):
        low, high = wilson(int(right[code]), int(n_gold[code]))
        hours = float(spent.get(code, 0.0)) / 3600
        figures: dict[str, Any] = {
            "level": level,
            "name": name,
            "n_labels": int(votes[code]),
            "n_gold": int(n_gold[code]),
            "gold_correct": int(right[code]),
            "gold_accuracy": float(right[code] / n_gold[code]) if n_gold[code] else None,
            "gold_low": low,
            "gold_high": high,
            "items_per_gold": float(votes[code] / n_gold[code]) if n_gold[code] else None,
            "n_vs_consensus": int(n_ref[code]),
            "consensus_agree": int(agree[code]),
            "consensus_agreement": float(agree[code] / n_ref[code]) if n_ref[code] else None,
            "kappa": kappas[code],
            "n_timed": int(n_timed[code]),
            "items_per_hour": float(n_timed[code] / hours) if hours > 0 else None,
            "median_seconds": float(median[code]) if code in median.index else None,
            "fast_share": float(fast[code] / n_timed[code]) if n_timed[code] else None,
            "vendor": None,
            "market": None,
            "below_target": None,
            "flagged": None,
        }
        rows.append(AgentQuality(**figures))
    return rows


def vendor_qa_lines(qa: VendorQA | None) -> list[str]:
    """What compare and agreement print about vendor QA: the gold behind the figures and the agents below
    the target accuracy (nothing when there is no gold, no duration and no target)."""
    if qa is None or not (qa.n_gold_items or qa.duration_source or qa.target_accuracy is not None):
        return []
    sources = ", ".join(f"{k} {v}" for k, v in qa.gold_items.items() if v) or "none"
    lines = [
        f"vendor QA: {qa.n_gold_items} gold items ({sources}); durations from "
        f"{qa.duration_source or 'nothing'}; per annotator, vendor and market in metrics.json (vendor_qa)"
    ]
    if qa.target_accuracy is None:
        return lines
    below = [a for a in qa.agents if a.below_target]
    lines.append(
        f"below target accuracy {qa.target_accuracy:g}: {len(below)} (flagged when the 95 % Wilson upper "
        "bound is below it too)"
    )
    for a in below:
        lines.append(
            f"  {a.level} {a.name}: {a.gold_correct}/{a.n_gold} = {a.gold_accuracy:.3f}, 95 % CI "
            f"[{a.gold_low:.3f}, {a.gold_high:.3f}]" + (" FLAGGED" if a.flagged else "")
        )
    return lines
