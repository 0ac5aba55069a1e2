"""How far a model's certainty can be trusted: per-item signals scored against the human majority, and
reliability (binned accuracy against mean signal) with the expected calibration error (ECE).

A *signal* is a number in [0, 1] per model answer: ``confidence`` (what the model stated), ``agreement``
(the share of its self-consistency ``samples`` that give the same answer; results without samples have none)
or ``logprob`` (``label_prob``, the probability of the label's tokens, from runs with ``--logprobs``).

The scored items are compare's: `calibration_items` (route's calibration set), `calibration_report` and the
diagram of `prelabel.compare` all start from `prelabel.comparison.prep.prepare`, so answers, abstentions,
answers outside the SOP, repeated ids, the human majority and its ties follow the rules of
`prelabel.comparison.semantics`, and an item is scored exactly when compare's figures against the majority
count it (and it has the signal).

    >>> import pandas as pd
    >>> results = pd.DataFrame({"item_id": ["1", "2", "3", "4"], "label": ["a", "b", "a", "b"],
    ...                         "confidence": [0.9, 0.8, 0.6, 0.95]})
    >>> humans = pd.DataFrame({"item_id": ["1", "2", "3", "4"], "annotator": "x",
    ...                        "label": ["a", "b", "b", "b"]})
    >>> cal = calibration_items(results, humans)
    >>> list(cal.frame["correct"]), cal.n_used
    ([True, True, False, True], 4)
    >>> round(reliability(cal.frame["signal"], cal.frame["correct"], bins=2).ece, 3)
    0.062
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from prelabel.comparison.certainty import in_range
from prelabel.comparison.gold import split_gold
from prelabel.comparison.metrics_schema import Provenance
from prelabel.comparison.prep import Prepared, prepare
from prelabel.comparison.provenance import provenance
from prelabel.comparison.readers import as_list, read_human_labels, read_results
from prelabel.comparison.semantics import LabelSpace, label_space
from prelabel.errors import InputError
from prelabel.sop.spec import SOP

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SIGNALS",
    "CalibrationItems",
    "CalibrationReport",
    "Reliability",
    "ReliabilityBin",
    "Signal",
    "calibration_items",
    "calibration_report",
    "prepared_calibration_report",
    "reliability",
    "reliability_figure",
    "signal_out_of_range",
    "signal_values",
]

Signal = Literal["confidence", "agreement", "logprob"]
SIGNALS: tuple[Signal, ...] = ("confidence", "agreement", "logprob")

#: Why a results row is not in the calibration set (route.json ``calibration.skipped``), from compare's
#: reason (`Prepared.row_skip`).
_SKIPS = {
    "model_rows_duplicate": "model_row_duplicate",
    "items_model_error": "model_error",
    "items_model_abstained": "model_abstained_or_empty",
    "items_model_label_missing": "model_abstained_or_empty",
    "items_model_label_not_in_sop": "model_label_not_in_sop",
    "model_rows_without_item_id": "no_human_label",
    "items_without_human_label": "no_human_label",
    "items_without_valid_human_label": "no_human_label",
}


def signal_values(results: pd.DataFrame, answers: Any, signal: Signal, space: LabelSpace) -> np.ndarray:
    """The chosen signal per result row (NaN where a row has none, or a confidence or ``label_prob``
    outside [0, 1]: not trusted, see `signal_out_of_range`); ``answers`` are the rows' canonical answers.

    Raises ``InputError`` for ``agreement`` when no result carries self-consistency ``samples``, and for
    ``logprob`` when none carries a ``label_prob``.
    """
    source = results.attrs.get("source", "results")
    if signal == "confidence":
        return in_range(pd.to_numeric(results["confidence"], errors="coerce").to_numpy(dtype=float))
    if signal == "logprob":
        probs = pd.to_numeric(results["label_prob"], errors="coerce") if "label_prob" in results else None
        if probs is None or probs.isna().all():
            raise InputError(
                f"{source}: signal 'logprob' needs the label's token probabilities (label_prob: run with "
                "--logprobs in a JSON mode such as --mode json_schema); these results carry none"
            )
        return in_range(probs.to_numpy(dtype=float))
    if signal != "agreement":
        raise InputError(f"unknown signal '{signal}' (choose from: {', '.join(SIGNALS)})")
    cells = results["samples"].to_numpy(dtype=object) if "samples" in results.columns else np.empty(0, object)
    given = np.flatnonzero(pd.notna(cells)) if cells.dtype == object else np.arange(len(cells))
    samples: list[list[str] | None] = [None] * len(cells)  # read only where a row has samples
    for index in given:
        samples[index] = as_list(cells[index])
    if not any(samples[i] for i in given):
        raise InputError(
            f"{source}: signal 'agreement' needs self-consistency samples (run with --samples K); "
            "these results carry none"
        )
    return np.array(
        [space.samples_agreement(s, a) if s else np.nan for s, a in zip(samples, answers, strict=True)]
    )


def signal_out_of_range(results: pd.DataFrame, signal: Signal) -> np.ndarray:
    """Per result row: whether its ``confidence`` (or ``label_prob``) is a number outside [0, 1]."""
    column = {"confidence": "confidence", "logprob": "label_prob"}.get(signal)
    if column is None or column not in results:
        return np.zeros(len(results), dtype=bool)
    raw = pd.to_numeric(results[column], errors="coerce").to_numpy(dtype=float)
    return ~np.isnan(raw) & np.isnan(in_range(raw))


@dataclass
class CalibrationItems:
    """Per compared item: the model's ``label`` (answer), its ``signal`` and whether it is ``correct`` (equal
    to the strict human majority); plus what was skipped and why."""

    frame: pd.DataFrame
    signal: Signal
    multi_label: bool
    skipped: dict[str, int] = field(default_factory=dict)
    human_labels: set[str] = field(default_factory=set)
    provenance: Provenance | None = None
    """The models and SOP versions of the calibration results."""
    #: What a vendor export of the human labels left out and needs a look (see `read_human_labels`).
    warnings: list[str] = field(default_factory=list)

    @property
    def n_used(self) -> int:
        """Items with a signal, a model answer and a human majority."""
        return len(self.frame)


def _scored(prep: Prepared, results: pd.DataFrame, signal: Signal) -> tuple[pd.DataFrame, np.ndarray]:
    """The items compare scores against the human majority (compared, majority not tied) that carry the
    ``signal``, as ``item_id``, ``label``, ``signal``, ``correct``; and for each such item left out for want
    of the signal, whether it gave one outside [0, 1]. ``InputError`` when no result carries the signal."""
    top, _, tied = prep.majority
    use = np.flatnonzero(prep.compared & ~tied)
    if not len(use):
        return pd.DataFrame(columns=["item_id", "label", "signal", "correct"]), np.zeros(0, dtype=bool)
    signals = [c for c in ("confidence", "label_prob", "samples") if c in results.columns]
    rows = results[signals].iloc[prep.row[use]]  # only the columns a signal is read from
    answers = np.asarray(prep.names, dtype=object)[prep.model[use]]
    values = signal_values(rows, answers, signal, prep.space)
    keep = ~np.isnan(values)
    frame = pd.DataFrame(
        {
            "item_id": prep.ratings.items.to_numpy(dtype=object)[use[keep]],
            "label": answers[keep],
            "signal": values[keep],
            "correct": (prep.model[use] == top[use])[keep],
        }
    )
    return frame, signal_out_of_range(rows, signal)[~keep]


def calibration_items(
    results: str | Path | pd.DataFrame,
    humans: str | Path | pd.DataFrame,
    *,
    sop: SOP | None = None,
    signal: Signal = "confidence",
    wide: bool = False,
    aggregate: str = "majority",
    humans_format: str = "auto",
) -> CalibrationItems:
    """Score each model answer against the human majority, with its ``signal``; count what is skipped.

    The items are those compare scores against the majority (see the module docstring). Skipped, per
    results row: ``model_error``; ``model_abstained_or_empty``; ``model_label_not_in_sop``; ``no_human_label``
    (no item id, no human label, or none left once abstentions and labels outside the SOP are not votes);
    ``model_row_duplicate`` (a later row for the same item: the first is used, as a run labels the first row
    of an id); ``humans_tied``; answers
    without the signal (``no_confidence``) or with one outside [0, 1] (``confidence_out_of_range``). Raises
    ``InputError`` when nothing is left. ``aggregate`` forms the human consensus ("majority" by default,
    or an annotator model: `prelabel.comparison.aggregation`); gold rows (``gold`` true) are not votes.
    """
    res = read_results(results)
    frame = read_human_labels(humans, wide=wide, sop=sop, humans_format=humans_format)
    votes, _ = split_gold(frame)  # gold annotations are a key, not votes
    prep = prepare(votes, res, label_space(sop, None, res), aggregate)
    out, untrusted = _scored(prep, res, signal)
    counts = Counter(_SKIPS[k] for k in prep.row_skip if k)
    counts["humans_tied"] = int((prep.compared & prep.majority.tied).sum())
    counts[f"no_{signal}"] = int((~untrusted).sum())
    counts[f"{signal}_out_of_range"] = int(untrusted.sum())
    skipped = {k: n for k, n in counts.items() if n}
    if out.empty:
        described = ", ".join(f"{k}={v}" for k, v in skipped.items()) or "nothing"
        raise InputError(f"calibration set: no usable item (skipped: {described}); do the item ids match?")
    top, _, tied = prep.majority
    agreed = np.asarray(prep.names, dtype=object)[top[(prep.ratings.n_raters > 0) & ~tied]]
    human_labels = {m for answer in agreed for m in prep.space.members(answer)}
    multi = prep.space.multi_label
    items = CalibrationItems(out, signal, multi, skipped, human_labels, provenance(res))
    items.warnings = list(frame.attrs.get("warnings", []))
    return items


class ReliabilityBin(BaseModel):
    """One bin of a reliability diagram: signal range, item count, mean signal and accuracy."""

    model_config = ConfigDict(extra="forbid")

    lower: float
    upper: float
    n: int
    mean_signal: float | None
    accuracy: float | None


class Reliability(BaseModel):
    """A reliability diagram's bins and the expected calibration error (weighted |accuracy - signal|)."""

    model_config = ConfigDict(extra="forbid")

    n: int
    ece: float | None
    accuracy: float | None
    mean_signal: float | None
    bins: list[ReliabilityBin]


def reliability(signal: Any, correct: Any, bins: int = 10) -> Reliability:
    """Equal-width bins over [0, 1]; ``ece`` is ``None`` when there is no item."""
    s = np.asarray(signal, dtype=float)
    c = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, bins - 1)
    out, gap = [], 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        mean_s = float(s[mask].mean()) if n else None
        acc = float(c[mask].mean()) if n else None
        if n:
            gap += n * abs(float(acc) - float(mean_s))  # type: ignore[arg-type]
        out.append(ReliabilityBin(lower=edges[b], upper=edges[b + 1], n=n, mean_signal=mean_s, accuracy=acc))
    n_all = len(s)
    return Reliability(
        n=n_all,
        ece=gap / n_all if n_all else None,
        accuracy=float(c.mean()) if n_all else None,
        mean_signal=float(s.mean()) if n_all else None,
        bins=out,
    )


class CalibrationReport(BaseModel):
    """Reliability per signal: overall and per label (the model's answer)."""

    model_config = ConfigDict(extra="forbid")

    overall: dict[str, Reliability]
    per_label: dict[str, dict[str, Reliability]]

    def rows(self) -> list[dict[str, Any]]:
        """One table row per signal, overall then per label: n, ECE, accuracy, mean signal."""
        out = []
        for signal, overall in self.overall.items():
            for label, rel in [("(all)", overall), *self.per_label.get(signal, {}).items()]:
                figures = rel.model_dump(include={"n", "ece", "accuracy", "mean_signal"})
                out.append({"signal": signal, "label": label, **figures})
        return out


def calibration_report(
    results: str | Path | pd.DataFrame,
    humans: str | Path | pd.DataFrame,
    *,
    sop: SOP | None = None,
    wide: bool = False,
    bins: int = 10,
    humans_format: str = "auto",
) -> CalibrationReport | None:
    """Reliability and ECE for every signal the results carry (``None`` if none can be scored)."""
    try:
        res = read_results(results)
        frame = read_human_labels(humans, wide=wide, sop=sop, humans_format=humans_format, votes=True)
    except InputError:
        return None
    votes, _ = split_gold(frame)  # gold annotations are a key, not votes (as in compare)
    return prepared_calibration_report(prepare(votes, res, label_space(sop, None, res)), res, bins)


def prepared_calibration_report(
    prep: Prepared, results: pd.DataFrame, bins: int = 10
) -> CalibrationReport | None:
    """`calibration_report` from compare's prepared inputs (nothing is computed twice): the diagram's
    accuracy is the report's."""
    frames = {}
    for signal in SIGNALS:
        try:
            frame, _ = _scored(prep, results, signal)
        except InputError:  # no samples, no label_prob: not a signal of these results
            continue
        if len(frame):
            frames[signal] = frame
    return _report(frames, bins)


def _report(frames: dict[Signal, pd.DataFrame], bins: int) -> CalibrationReport | None:
    """Reliability overall and per label (the model's answer) of each signal's scored items."""
    overall: dict[str, Reliability] = {}
    per_label: dict[str, dict[str, Reliability]] = {}
    for signal, frame in frames.items():
        overall[signal] = reliability(frame["signal"], frame["correct"], bins)
        per_label[signal] = {
            str(label): reliability(group["signal"], group["correct"], bins)
            for label, group in frame.groupby("label", sort=True)
        }
    return CalibrationReport(overall=overall, per_label=per_label) if overall else None


def reliability_figure(report: CalibrationReport) -> Figure:
    """A reliability diagram (accuracy against mean signal per bin, one line per signal)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 4.2), dpi=100)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="#888", label="perfect calibration")
    for signal, rel in report.overall.items():
        points = [(b.mean_signal, b.accuracy) for b in rel.bins if b.n]
        xs, ys = zip(*points, strict=True) if points else ((), ())
        ax.plot(xs, ys, marker="o", label=f"{signal} (ECE {rel.ece:.3f}, n={rel.n})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("model signal (bin mean)")
    ax.set_ylabel("agreement with human majority")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
