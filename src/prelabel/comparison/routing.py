"""Confidence routing with a precision guarantee: which prelabels to accept without a human.

``route`` reads the run and the calibration set (model answers with human labels, or a directory holding
both), fits thresholds on the calibration set — per label at ``delta / L`` (Bonferroni) or one global —
with ``comparison.thresholds`` (Clopper-Pearson bounds, fixed-sequence testing; the guarantee and its
assumption are stated there), and splits the run's lines into accept and review, each with its reason.
The calibration set holds the items compare scores against the human majority
(``comparison.reliability.calibration_items``), and the run's answers and abstentions are read by the same
rules (``comparison.semantics``). What it returns and writes (``Routing``, ``route.json``) is
``comparison.route_report``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from prelabel.comparison.provenance import provenance
from prelabel.comparison.readers import read_results, result_status
from prelabel.comparison.reliability import (
    CalibrationItems,
    Signal,
    calibration_items,
    signal_out_of_range,
    signal_values,
)
from prelabel.comparison.route_report import By, LabelRoute, RouteReport, Routing, RunCoverage
from prelabel.comparison.route_source import RoutedResults, routed_results
from prelabel.comparison.run_info import run_sop
from prelabel.comparison.semantics import label_space
from prelabel.comparison.thresholds import ThresholdFit, fit_threshold, items_needed
from prelabel.errors import InputError
from prelabel.runs.labels import labels_path, read_labels
from prelabel.runs.run_dir import RunDir
from prelabel.sop.spec import SOP, load_sop

__all__ = ["route"]

HUMAN_FILES = ("human_labels.csv", "humans.csv", "human_labels.parquet", "humans.parquet")


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
        f"{where}: not a calibration directory; pass a directory holding {RunDir.LABELS} and human labels "
        f"({', '.join(HUMAN_FILES)}), or a results file and --humans FILE"
    )


def _run_rows(results: Any, frame: pd.DataFrame) -> tuple[list[dict[str, Any]], RoutedResults | None]:
    """The run's lines as they are written to accept/review, and what ``route.json`` records of them."""
    if isinstance(results, str | Path) and labels_path(results).suffix.lower() == ".jsonl":
        lines = read_labels(results).require_ids()
        return lines.rows, routed_results(lines.path, lines)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in rows], None


class _Families(NamedTuple):
    """How ``route`` splits the labels and ``delta``: labels with a threshold of their own (each at
    ``own_delta``), the labels pooled under one threshold (at ``pooled_delta``), and the items per label the
    own thresholds needed."""

    own: list[str]
    pooled: list[str]
    own_delta: float
    pooled_delta: float
    needed: int
    """Items per label a threshold of its own needs when every label has one (``--by label``)."""


def _families(counts: dict[str, int], *, by: By, target: float, delta: float, min_count: int) -> _Families:
    """``label``: every label with ``min_count`` items gets its own threshold (Bonferroni over them).
    ``mixed``: only labels with `items_needed` items do; the others share one pooled threshold, and
    ``delta`` is split in two between the families when both exist. Decided from counts alone."""
    supported = sorted(label for label, n in counts.items() if n >= min_count)
    own = supported
    while True:
        split = by == "mixed" and 0 < len(own) < len(supported)
        own_delta = (delta / 2 if split else delta) / max(len(own), 1)
        enough = items_needed(target, own_delta)
        if by != "mixed" or (kept := [label for label in own if counts[label] >= enough]) == own:
            break
        own = kept
    pooled = [label for label in supported if label not in own]
    pooled_delta = delta / 2 if own and pooled else delta
    needed = items_needed(target, delta / max(len(supported), 1))
    return _Families(own, pooled, own_delta, pooled_delta, needed)


def _fit_labels(cal: CalibrationItems, families: _Families, *, target: float) -> dict[str, LabelRoute]:
    out: dict[str, LabelRoute] = {}
    for label, group in cal.frame.groupby("label", sort=True):
        name = str(label)
        if name in families.pooled:
            out[name] = LabelRoute(status="pooled")
            continue
        if name not in families.own:
            out[name] = LabelRoute(status="too_little_calibration_data")
            continue
        fit = fit_threshold(group["signal"], group["correct"], target=target, delta=families.own_delta)
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
    by: By = "mixed",
    min_count: int = 30,
    sop: SOP | str | Path | None = None,
    wide: bool = False,
    aggregate: str = "majority",
    humans_format: str = "auto",
) -> Routing:
    """Split a run into auto-accepted and to-review prelabels, with thresholds that keep the accepted
    items' precision (agreement with the human majority) at least ``target_precision`` with probability
    ``1 - delta`` (see the module docstring for the guarantee and its assumption).

    ``results``: a RUN_DIR, ``labels.jsonl`` or DataFrame. ``calibration``: results for items with human
    labels, and ``humans`` those labels (or a directory holding ``labels.jsonl`` and ``human_labels.csv``;
    ``humans_format`` as in `prelabel.read_human_labels`: a Label Studio or Argilla export is detected).
    ``by="mixed"`` (the default) fits a threshold per label that has enough calibration items for one
    (`items_needed`) and one pooled threshold for the other labels, ``delta`` split between the two;
    ``"label"``: a threshold per label (Bonferroni over all); ``"global"``: one for all. Errors, abstentions,
    answers without the signal and labels with fewer than ``min_count`` calibration items go to review.
    ``sop`` (an ``SOP`` or its file) defaults to the file the run's ``run.json`` names; an SOP the run was not
    labeled with is an ``InputError``. Each routed line's ``route.position`` is its index among the run's
    lines, and ``route.json`` records which results were routed (``comparison.route_source``).
    ``aggregate`` forms the calibration items' human consensus (`prelabel.comparison.aggregation`).

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
        # the SOP given, else the one run.json names: an edited SOP is refused, as export refuses it
        loaded = run_sop(RunDir.of(results).read_info(), sop, str(results), need=False)
    else:
        loaded = sop if isinstance(sop, SOP) or sop is None else load_sop(sop)
    frame = read_results(results)
    cal_results, cal_humans = _calibration_sources(calibration, humans)
    cal_frame = read_results(cal_results)  # read once, for its warnings too
    cal = calibration_items(
        cal_frame,
        cal_humans,
        sop=loaded,
        signal=signal,
        wide=wide,
        humans_format=humans_format,
        aggregate=aggregate,
    )
    read = [*frame.attrs.get("warnings", []), *cal_frame.attrs.get("warnings", []), *cal.warnings]
    warnings = list(dict.fromkeys(read))
    space = label_space(loaded, cal.multi_label)
    answers = space.answers(frame[space.result_column])
    status = result_status(frame["status"])
    abstain = space.abstentions(frame)  # as in compare: the SOP's abstain label, what abstained rows answer
    labeled = [
        (s not in ("error", "abstained")) and bool(a) and a not in abstain
        for s, a in zip(status, answers, strict=True)
    ]
    run_labels = {a for a, ok in zip(answers, labeled, strict=True) if ok}
    cal_labels = set(cal.frame["label"]) | cal.human_labels
    if run_labels and not run_labels & cal_labels:
        raise InputError(
            f"calibration set shares no label with the run (run: {', '.join(sorted(run_labels)[:5])}; "
            f"calibration: {', '.join(sorted(cal_labels)[:5])}); is it for the same SOP?"
        )
    values = signal_values(frame, answers, signal, space)
    untrusted = signal_out_of_range(frame, signal)
    counts = {str(k): int(n) for k, n in cal.frame["label"].value_counts().items()}
    families = _families(counts, by=by, target=target_precision, delta=delta, min_count=min_count)
    labels = _fit_labels(cal, families, target=target_precision)
    supported = {*families.own, *families.pooled}
    global_fit = _pooled_fit(cal, supported, target=target_precision, delta=delta)
    pooled_fit = None
    if by == "mixed" and families.pooled:
        pooled = set(families.pooled)
        pooled_fit = _pooled_fit(cal, pooled, target=target_precision, delta=families.pooled_delta)

    def threshold(label: str) -> float | None:
        if by == "global":
            return global_fit.threshold if label in supported else None
        if label in families.pooled:
            return pooled_fit.threshold if pooled_fit is not None else None
        fit = labels[label].fit if label in labels else None
        return fit.threshold if fit is not None else None

    accept: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    run_counts: Counter[str] = Counter()
    run_accepts: Counter[str] = Counter()
    run_rows, routed = _run_rows(results, frame)
    rows = zip(run_rows, status, answers, labeled, values, untrusted, strict=True)
    for position, (row, state, answer, ok, value, bad) in enumerate(rows):
        t = threshold(answer) if ok else None
        if state == "error":
            reason = "error"
        elif not ok:
            reason = "abstained"
        elif np.isnan(value):
            reason = f"{signal}_out_of_range" if bad else f"no_{signal}"
        elif answer not in supported:
            reason = "too_little_calibration_data"
        elif t is None:
            reason = "target_not_met"  # a label's own threshold, or the pooled one
        elif value < t:
            reason = "below_threshold"
        else:
            reason = ""
        if ok:
            run_counts[answer] += 1
        decision = {"decision": "review" if reason else "accept", "signal": signal, "value": _num(value)}
        decision |= {"threshold": t, "reason": reason or None, "position": position}
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
    found = {"run": provenance(frame), **({"calibration": cal.provenance} if cal.provenance else {})}
    smoke = next((p.note for p in found.values() if p.note), None)
    notes += [f"thresholds and the split come from smoke-model answers: {smoke}"] if smoke else []
    report = RouteReport(
        target_precision=target_precision,
        delta=delta,
        signal=signal,
        by=by,
        min_count=min_count,
        guarantee=_guarantee(target_precision, delta, by, families),
        calibration={"n_used": cal.n_used, "skipped": cal.skipped, "source": str(cal_results)},
        **{"global": global_fit},
        pooled=pooled_fit,
        items_needed_per_label=families.needed,
        labels=dict(sorted(labels.items())),
        run=RunCoverage(
            n_items=n_items,
            n_accept=len(accept),
            n_review=len(review),
            coverage=len(accept) / n_items if n_items else 0.0,
            review_reasons=dict(reasons),
        ),
        notes=notes,
        warnings=warnings,
        provenance=found,
        results=routed,
    )
    return Routing(report, accept, review)


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _pooled_fit(cal: CalibrationItems, labels: set[str], *, target: float, delta: float) -> ThresholdFit:
    """One threshold over the calibration items of ``labels``; coverage over all items used."""
    in_scope = cal.frame[cal.frame["label"].isin(labels)]
    fit = fit_threshold(in_scope["signal"], in_scope["correct"], target=target, delta=delta)
    fit.coverage = fit.n_accepted / cal.n_used if cal.n_used else 0.0
    fit.n_calibration = cal.n_used
    return fit


def _guarantee(target: float, delta: float, by: By, families: _Families) -> str:
    if by == "label":
        scope = (
            "for every label at once (per-label thresholds, Bonferroni over the labels tested), hence overall"
        )
    elif by == "global":
        scope = "over all accepted items (one global threshold)"
    else:
        scope = (
            f"for each of the {len(families.own)} labels with a threshold of its own (Bonferroni, "
            f"{families.own_delta:.3g} each) and over the accepted items of the {len(families.pooled)} "
            f"pooled labels (one threshold, {families.pooled_delta:.3g}), hence overall (a union bound)"
        )
    return (
        f"If calibration and routed items come from the same distribution, then with probability >= "
        f"{1 - delta:.3g} over the calibration draw, accepted prelabels agree with the human majority at a "
        f"rate >= {target:g} {scope} (Clopper-Pearson bounds, fixed-sequence testing from high to low "
        "thresholds)."
    )
