"""Confidence routing with a precision guarantee: which prelabels to accept without a human.

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

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(0.5, 1.0, 2000)
    >>> fit = fit_threshold(s, rng.uniform(size=2000) < s, target=0.9, delta=0.05)
    >>> fit.threshold is not None and fit.lower_bound >= 0.9
    True
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from prelabel._jsonio import write_json, writing
from prelabel.comparison.calibration import (
    CalibrationItems,
    Signal,
    calibration_items,
    model_answers,
    signal_values,
)
from prelabel.comparison.inputs import read_results
from prelabel.comparison.run_info import (
    check_sop,
    labels_path,
    read_label_lines,
    read_run_info,
    refuse_overwrite,
)
from prelabel.errors import InputError
from prelabel.sop.spec import SOP

__all__ = [
    "GRID",
    "LabelRoute",
    "RouteReport",
    "Routing",
    "ThresholdFit",
    "fit_threshold",
    "min_tested",
    "route",
]

#: The thresholds tried, high to low: fixed in advance (never taken from the data), as the test requires.
GRID = np.round(np.linspace(1.0, 0.0, 201), 3)
HUMAN_FILES = ("human_labels.csv", "humans.csv", "human_labels.parquet", "humans.parquet")
ROUTE_FILES = ("accept.jsonl", "review.jsonl", "route.json")

By = Literal["label", "global"]


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


class LabelRoute(BaseModel):
    """One label's routing: its status, threshold fit, and coverage on the run."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["threshold", "target_not_met", "too_little_calibration_data"]
    fit: ThresholdFit | None = None
    n_run: int = 0
    n_run_accepted: int = 0
    coverage_run: float | None = None


class RunCoverage(BaseModel):
    """How the run was split."""

    model_config = ConfigDict(extra="forbid")

    n_items: int
    n_accept: int
    n_review: int
    coverage: float
    review_reasons: dict[str, int]


class RouteReport(BaseModel):
    """Everything ``route.json`` records: settings, the guarantee, thresholds and coverage."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target_precision: float
    delta: float
    signal: str
    by: By
    min_count: int
    guarantee: str
    calibration: dict[str, Any]
    global_fit: ThresholdFit = Field(alias="global")
    labels: dict[str, LabelRoute]
    run: RunCoverage
    notes: list[str]


@dataclass
class Routing:
    """What `route` returns: the ``report`` (``route.json``) and the run's lines split into two lists."""

    report: RouteReport
    accept: list[dict[str, Any]]
    review: list[dict[str, Any]]

    def save(self, directory: str | Path, *, force: bool = False) -> dict[str, Path]:
        """Write ``accept.jsonl``, ``review.jsonl``, ``route.json``; refuse to overwrite unless ``force``."""
        import json

        out = Path(directory)
        paths = {name.split(".")[0]: out / name for name in ROUTE_FILES}
        refuse_overwrite(paths.values(), force)
        with writing(paths["route"]):
            for key, rows in (("accept", self.accept), ("review", self.review)):
                lines = (json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n" for r in rows)
                text = "".join(lines)
                paths[key].write_text(text, encoding="utf-8")
            write_json(paths["route"], self.report.model_dump(mode="json", by_alias=True))
        return paths

    def summary(self) -> list[str]:
        """Lines for the CLI: the split, the thresholds, and which labels always go to review and why."""
        rep = self.report
        run = rep.run
        lines = [
            f"accept {run.n_accept}, review {run.n_review} of {run.n_items} items "
            f"(coverage {run.coverage:.1%}; target precision {rep.target_precision} with probability "
            f">= {1 - rep.delta:.2f}, signal {rep.signal}, thresholds {rep.by})"
        ]
        g = rep.global_fit
        if g.threshold is not None:
            lines.append(
                f"global threshold {g.threshold:.3f}: calibration precision {g.precision:.3f}, lower bound "
                f"{g.lower_bound:.3f}, coverage {g.coverage:.1%}"
            )
        else:
            lines.append("global: no threshold meets the target on this calibration set")
        few = [k for k, v in rep.labels.items() if v.status == "too_little_calibration_data"]
        unmet = [k for k, v in rep.labels.items() if v.status == "target_not_met"]
        if few:
            lines.append(
                f"always review (fewer than {rep.min_count} calibration items): {', '.join(sorted(few))}"
            )
        if unmet and rep.by == "label":
            lines.append(f"always review (no threshold meets the target): {', '.join(sorted(unmet))}")
        lines += [f"note: {n}" for n in rep.notes]
        return lines


def _calibration_sources(calibration: Any, humans: Any) -> tuple[Any, Any]:
    if humans is not None:
        return calibration, humans
    if isinstance(calibration, str | Path) and Path(calibration).is_dir():
        for name in HUMAN_FILES:
            if (Path(calibration) / name).is_file():
                return calibration, Path(calibration) / name
        raise InputError(
            f"{calibration}: no human labels here ({', '.join(HUMAN_FILES)}); pass them with --humans"
        )
    where = calibration if isinstance(calibration, str | Path) else "calibration"
    raise InputError(
        f"{where}: not a calibration directory; pass a directory holding labels.jsonl and human labels "
        f"({', '.join(HUMAN_FILES)}), or a results file and --humans FILE"
    )


def _run_rows(results: Any, frame: pd.DataFrame) -> list[dict[str, Any]]:
    if isinstance(results, str | Path) and labels_path(results).suffix.lower() == ".jsonl":
        return read_label_lines(results)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in rows]


def _fit_labels(
    cal: CalibrationItems, *, target: float, delta: float, min_count: int
) -> dict[str, LabelRoute]:
    counts = cal.frame["label"].value_counts()
    supported = [str(label) for label, n in counts.items() if n >= min_count]
    per_delta = delta / max(len(supported), 1)  # Bonferroni: every label at once
    out: dict[str, LabelRoute] = {}
    for label, group in cal.frame.groupby("label", sort=True):
        name = str(label)
        if name not in supported:
            out[name] = LabelRoute(status="too_little_calibration_data")
            continue
        fit = fit_threshold(group["signal"], group["correct"], target=target, delta=per_delta)
        out[name] = LabelRoute(status="threshold" if fit.threshold is not None else "target_not_met", fit=fit)
    return out


def route(
    results: str | Path | pd.DataFrame,
    calibration: str | Path | pd.DataFrame,
    humans: str | Path | pd.DataFrame | None = None,
    *,
    target_precision: float,
    delta: float = 0.05,
    signal: Signal = "confidence",
    by: By = "label",
    min_count: int = 30,
    sop: SOP | None = None,
    wide: bool = False,
) -> Routing:
    """Split a run into auto-accepted and to-review prelabels, with thresholds that keep the accepted
    items' precision (agreement with the human majority) at least ``target_precision`` with probability
    ``1 - delta`` (see the module docstring for the guarantee and its assumption).

    ``results``: a RUN_DIR, ``labels.jsonl`` or DataFrame. ``calibration``: results for items with human
    labels, and ``humans`` those labels (or a directory holding ``labels.jsonl`` and ``human_labels.csv``).
    ``by="label"`` fits a threshold per label (``"global"``: one for all). Errors, abstentions, answers
    without the signal and labels with fewer than ``min_count`` calibration items go to review.

        >>> import pandas as pd, prelabel
        >>> cal = pd.DataFrame({"item_id": [str(i) for i in range(400)], "label": "a", "confidence": 0.99})
        >>> humans = cal.assign(annotator="x")[["item_id", "annotator", "label"]]
        >>> run = pd.DataFrame({"item_id": ["r1", "r2"], "label": ["a", "b"], "confidence": [0.99, 0.99]})
        >>> split = prelabel.route(run, cal, humans, target_precision=0.95)
        >>> [r["item_id"] for r in split.accept], split.report.labels["b"].status
        (['r1'], 'too_little_calibration_data')
    """
    if not 0 < target_precision < 1:
        raise InputError(f"target precision must be strictly between 0 and 1, got {target_precision}")
    if not 0 < delta < 1:
        raise InputError(f"delta must be strictly between 0 and 1, got {delta}")
    if min_count < 1:
        raise InputError(f"min_count must be at least 1, got {min_count}")
    if isinstance(results, str | Path):
        labels_path(results)  # one clear line for a RUN_DIR without results
        check_sop(read_run_info(results), sop, str(results))
    frame = read_results(results)
    cal_results, cal_humans = _calibration_sources(calibration, humans)
    cal = calibration_items(cal_results, cal_humans, sop=sop, signal=signal, wide=wide)
    multi = sop.multi_label if sop is not None else cal.multi_label
    answers = model_answers(frame, multi, sop)
    status = frame["status"].fillna("ok").astype(str).str.strip().str.lower().to_numpy()
    abstain = sop.abstain.label if sop is not None and sop.abstain.allowed else None
    labeled = [
        (s not in ("error", "abstained")) and bool(a) and a != abstain
        for s, a in zip(status, answers, strict=True)
    ]
    run_labels = {a for a, ok in zip(answers, labeled, strict=True) if ok}
    cal_labels = set(cal.frame["label"]) | cal.human_labels
    if run_labels and not run_labels & cal_labels:
        raise InputError(
            f"calibration set shares no label with the run (run: {', '.join(sorted(run_labels)[:5])}; "
            f"calibration: {', '.join(sorted(cal_labels)[:5])}); is it for the same SOP?"
        )
    values = signal_values(frame, answers, signal, multi_label=multi, sop=sop)
    labels = _fit_labels(cal, target=target_precision, delta=delta, min_count=min_count)
    supported = {k for k, v in labels.items() if v.status != "too_little_calibration_data"}
    in_scope = cal.frame[cal.frame["label"].isin(supported)]
    global_fit = fit_threshold(in_scope["signal"], in_scope["correct"], target=target_precision, delta=delta)
    global_fit.coverage = global_fit.n_accepted / cal.n_used if cal.n_used else 0.0
    global_fit.n_calibration = cal.n_used

    def threshold(label: str) -> float | None:
        if by == "global":
            return global_fit.threshold if label in supported else None
        fit = labels[label].fit if label in labels else None
        return fit.threshold if fit is not None else None

    accept: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    run_counts: Counter[str] = Counter()
    run_accepts: Counter[str] = Counter()
    rows = zip(_run_rows(results, frame), status, answers, labeled, values, strict=True)
    for row, state, answer, ok, value in rows:
        t = threshold(answer) if ok else None
        if state == "error":
            reason = "error"
        elif not ok:
            reason = "abstained"
        elif np.isnan(value):
            reason = f"no_{signal}"
        elif answer not in supported:
            reason = "too_little_calibration_data"
        elif t is None:
            reason = "target_not_met"
        elif value < t:
            reason = "below_threshold"
        else:
            reason = ""
        if ok:
            run_counts[answer] += 1
        decision = {"decision": "review" if reason else "accept", "signal": signal, "value": _num(value)}
        decision |= {"threshold": t, "reason": reason or None}
        if reason:
            reasons[reason] += 1
            review.append({**row, "route": decision})
        else:
            run_accepts[answer] += 1
            accept.append({**row, "route": decision})
    for label in sorted(run_counts.keys() - labels.keys()):
        labels[label] = LabelRoute(status="too_little_calibration_data")
    for label, entry in labels.items():
        entry.n_run, entry.n_run_accepted = run_counts[label], run_accepts[label]
        entry.coverage_run = entry.n_run_accepted / entry.n_run if entry.n_run else None
    n_items = len(accept) + len(review)
    notes = [] if cal.n_used >= 100 else [f"only {cal.n_used} calibration items: expect low coverage"]
    report = RouteReport(
        target_precision=target_precision,
        delta=delta,
        signal=signal,
        by=by,
        min_count=min_count,
        guarantee=_guarantee(target_precision, delta, by),
        calibration={"n_used": cal.n_used, "skipped": cal.skipped, "source": str(cal_results)},
        **{"global": global_fit},
        labels=dict(sorted(labels.items())),
        run=RunCoverage(
            n_items=n_items,
            n_accept=len(accept),
            n_review=len(review),
            coverage=len(accept) / n_items if n_items else 0.0,
            review_reasons=dict(reasons),
        ),
        notes=notes,
    )
    return Routing(report, accept, review)


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _guarantee(target: float, delta: float, by: By) -> str:
    scope = (
        "for every label at once (per-label thresholds, Bonferroni over the labels tested), hence overall"
        if by == "label"
        else "over all accepted items (one global threshold)"
    )
    return (
        f"If calibration and routed items come from the same distribution, then with probability >= "
        f"{1 - delta:.3g} over the calibration draw, accepted prelabels agree with the human majority at a "
        f"rate >= {target:g} {scope} (Clopper-Pearson bounds, fixed-sequence testing from high to low "
        "thresholds)."
    )
