"""How far a model's certainty can be trusted: per-item signals scored against the human majority, and
reliability (binned accuracy against mean signal) with the expected calibration error (ECE).

A *signal* is a number in [0, 1] per model answer: ``confidence`` (what the model stated), ``agreement``
(the share of its self-consistency ``samples`` that give the same answer; results without samples have none)
or ``logprob`` (``label_prob``, the probability of the label's tokens, from runs with ``--logprobs``).

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
from prelabel.comparison.inputs import as_list, factorize_ids, read_human_labels, read_results, result_status
from prelabel.comparison.labelspace import clean
from prelabel.comparison.metrics_schema import Provenance
from prelabel.comparison.provenance import provenance
from prelabel.errors import InputError
from prelabel.sop.spec import SOP

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from prelabel.comparison.prep import Prepared

__all__ = [
    "SIGNALS",
    "CalibrationItems",
    "CalibrationReport",
    "Reliability",
    "ReliabilityBin",
    "Signal",
    "answer_text",
    "calibration_items",
    "calibration_report",
    "model_answers",
    "prepared_calibration_report",
    "reliability",
    "reliability_figure",
    "signal_out_of_range",
    "signal_values",
]

Signal = Literal["confidence", "agreement", "logprob"]
SIGNALS: tuple[Signal, ...] = ("confidence", "agreement", "logprob")


def answer_text(value: Any, multi_label: bool, order: dict[str, int] | None = None) -> str:
    """One answer as canonical text: a label id, or for multi-label a ``;``-joined set in SOP order."""
    parts = as_list(value) if multi_label else ([] if _missing(value) else [str(value)])
    parts = [c for c in map(clean, parts or []) if c]  # NFC, no zero-width characters, as compare does
    if not multi_label:
        return parts[0] if parts else ""
    rank = order or {}
    return ";".join(sorted(set(parts), key=lambda p: (rank.get(p, len(rank)), p)))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _agreement(samples: Any, answer: str, multi_label: bool, order: dict[str, int]) -> float:
    given = [answer_text(s, multi_label, order) for s in as_list(samples) or []]
    if not given:
        return float("nan")
    if not multi_label:
        return sum(g == answer for g in given) / len(given)
    mine = set(answer.split(";"))
    scores = [len(mine & set(g.split(";"))) / len(mine | set(g.split(";"))) for g in given]
    return float(np.mean(scores))


def signal_values(
    results: pd.DataFrame, answers: list[str], signal: Signal, *, multi_label: bool, sop: SOP | None = None
) -> np.ndarray:
    """The chosen signal per result row (NaN where a row has none, or a confidence or ``label_prob``
    outside [0, 1]: not trusted, see `signal_out_of_range`); ``answers`` are the rows' answers.

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
    if "samples" not in results.columns or not results["samples"].map(lambda v: bool(as_list(v))).any():
        raise InputError(
            f"{source}: signal 'agreement' needs self-consistency samples (run with --samples K); "
            "these results carry none"
        )
    order = _order(sop)
    samples = results["samples"].to_numpy(dtype=object)
    return np.array([_agreement(s, a, multi_label, order) for s, a in zip(samples, answers, strict=True)])


def signal_out_of_range(results: pd.DataFrame, signal: Signal) -> np.ndarray:
    """Per result row: whether its ``confidence`` (or ``label_prob``) is a number outside [0, 1]."""
    column = {"confidence": "confidence", "logprob": "label_prob"}.get(signal)
    if column is None or column not in results:
        return np.zeros(len(results), dtype=bool)
    raw = pd.to_numeric(results[column], errors="coerce").to_numpy(dtype=float)
    return ~np.isnan(raw) & np.isnan(in_range(raw))


def _ids(column: pd.Series) -> np.ndarray:
    """Item ids normalised once per distinct value (`prelabel.inputs.ids`); ``None`` where missing."""
    (codes,), index = factorize_ids(column)
    names = np.empty(len(index) + 1, dtype=object)  # the last slot (None) is where code -1 points
    names[:-1] = index.to_numpy(dtype=object)
    return names[codes]


def _abstain_answers(results: pd.DataFrame, answers: list[str], sop: SOP | None) -> frozenset[str]:
    """What means "abstained" on both sides, as in compare: the SOP's abstain label and the answers of
    model rows whose status is ``abstained``."""
    found = {sop.abstain.label} if sop is not None and sop.abstain.allowed else set()
    status = result_status(results["status"])
    found |= {a for a, s in zip(answers, status, strict=True) if s == "abstained"}
    return frozenset(found - {""})


def _order(sop: SOP | None) -> dict[str, int]:
    return {label: i for i, label in enumerate(sop.label_index)} if sop else {}


def _is_multi(results: pd.DataFrame, sop: SOP | None) -> bool:
    if sop is not None:
        return sop.multi_label
    return bool(results["labels"].notna().any() and results["label"].isna().all())


def model_answers(results: pd.DataFrame, multi_label: bool, sop: SOP | None = None) -> list[str]:
    """Each result row's answer as canonical text (``""`` for errors and empty answers)."""
    return list(_answer_texts(results["labels" if multi_label else "label"], multi_label, _order(sop)))


def _answer_texts(column: pd.Series, multi_label: bool, order: dict[str, int]) -> np.ndarray:
    """`answer_text` of every cell, computed once per distinct single-label value."""
    values = column.to_numpy(dtype=object)
    if multi_label:  # list cells are not hashable: one by one
        return np.array([answer_text(v, True, order) for v in values], dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([*(answer_text(u, False, order) for u in uniques), ""], dtype=object)
    return texts[codes]  # code -1 (missing) points at the trailing ""


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

    @property
    def n_used(self) -> int:
        """Items with a signal, a model answer and a human majority."""
        return len(self.frame)


def _majorities(
    humans: pd.DataFrame, multi_label: bool, order: dict[str, int], abstain: frozenset[str]
) -> dict[str, str | None]:
    """Per item id, the strict majority answer among its annotators (``None`` when tied); abstentions are
    not answers."""
    ids = _ids(humans["item_id"])
    answers = _answer_texts(humans["label"], multi_label, order)
    keep = (ids != None) & (answers != "")  # noqa: E711 (elementwise over object arrays)
    if abstain:
        keep &= ~np.isin(answers, list(abstain))
    votes = pd.DataFrame({"item": ids[keep], "answer": answers[keep]}).value_counts(sort=False)
    item = votes.index.get_level_values("item").to_numpy(dtype=object)
    answer = votes.index.get_level_values("answer").to_numpy(dtype=object)
    n = votes.to_numpy()
    at = np.lexsort((-n, pd.factorize(item)[0]))  # per item, the most votes first
    item, answer, n = item[at], answer[at], n[at]
    first = np.flatnonzero(np.r_[True, item[1:] != item[:-1]]) if len(item) else np.empty(0, dtype=np.int64)
    after = np.minimum(first + 1, max(len(item) - 1, 0))
    tied = (first + 1 < len(item)) & (item[after] == item[first]) & (n[after] == n[first])
    return {i: None if t else a for i, a, t in zip(item[first], answer[first], tied, strict=True)}


def calibration_items(
    results: str | Path | pd.DataFrame,
    humans: str | Path | pd.DataFrame,
    *,
    sop: SOP | None = None,
    signal: Signal = "confidence",
    wide: bool = False,
) -> CalibrationItems:
    """Score each model answer against the human majority, with its ``signal``; count what is skipped.

    Skipped: model errors and abstentions, items without a human label or with a tied majority, answers
    without the signal or with one outside [0, 1]. Human abstentions (the SOP's abstain label, or what the
    model's abstained rows answer) are not votes, as in compare. Raises ``InputError`` when nothing is left.
    """
    res = read_results(results)
    frame = read_human_labels(humans, wide=wide, sop=sop)
    multi = _is_multi(res, sop)
    order = _order(sop)
    answers = model_answers(res, multi, sop)
    abstain = _abstain_answers(res, answers, sop)
    majority = _majorities(frame, multi, order, abstain)
    values = signal_values(res, answers, signal, multi_label=multi, sop=sop)
    untrusted = signal_out_of_range(res, signal)
    ids = _ids(res["item_id"])  # the ids every command uses (inputs.ids)
    skipped = Counter[str]()
    rows = []
    status = result_status(res["status"])
    for item, state, answer, value, bad in zip(ids, status, answers, values, untrusted, strict=True):
        if state == "error":
            skipped["model_error"] += 1
        elif state == "abstained" or answer in abstain or not answer:
            skipped["model_abstained_or_empty"] += 1
        elif item not in majority:
            skipped["no_human_label"] += 1
        elif majority[item] is None:
            skipped["humans_tied"] += 1
        elif np.isnan(value):
            skipped[f"{signal}_out_of_range" if bad else f"no_{signal}"] += 1
        else:
            rows.append((item, answer, float(value), answer == majority[item]))
    out = pd.DataFrame(rows, columns=["item_id", "label", "signal", "correct"])
    out["correct"] = out["correct"].astype(bool)
    if out.empty:
        described = ", ".join(f"{k}={v}" for k, v in skipped.items()) or "nothing"
        raise InputError(f"calibration set: no usable item (skipped: {described}); do the item ids match?")
    human_labels = {m for v in majority.values() if v for m in v.split(";")} if multi else set()
    if not multi:
        human_labels = {v for v in majority.values() if v}
    return CalibrationItems(out, signal, multi, dict(skipped), human_labels, provenance(res))


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
) -> CalibrationReport | None:
    """Reliability and ECE for every signal the results carry (``None`` if none can be scored)."""
    try:  # read once for all signals
        results, humans = read_results(results), read_human_labels(humans, wide=wide, sop=sop)
    except InputError:
        return None
    frames = {}
    for signal in SIGNALS:
        try:
            frames[signal] = calibration_items(results, humans, sop=sop, signal=signal).frame
        except InputError:
            continue
    return _report(frames, bins)


def prepared_calibration_report(
    prep: Prepared, results: pd.DataFrame, sop: SOP | None = None, bins: int = 10
) -> CalibrationReport | None:
    """`calibration_report` from compare's prepared inputs: the items, human majority, ties, abstentions and
    label checks of compare's own figures, so the diagram's accuracy is the report's (and nothing is
    computed twice). Unlike `calibration_items` (route's calibration set), a model answer outside the SOP is
    left out here, as compare leaves it out of its figures (``items_model_label_not_in_sop``)."""
    top, _, tied = prep.majority
    use = prep.compared & ~tied
    rows = results.iloc[prep.row[use]]
    multi = prep.space.multi_label
    answers = np.asarray(model_answers(rows, multi, sop), dtype=object)
    correct = prep.model[use] == top[use]
    frames = {}
    for signal in SIGNALS:
        try:
            values = signal_values(rows, list(answers), signal, multi_label=multi, sop=sop)
        except InputError:  # no samples, no label_prob: not a signal of these results
            continue
        keep = ~np.isnan(values)
        if keep.any():
            frames[signal] = pd.DataFrame(
                {"label": answers[keep], "signal": values[keep], "correct": correct[keep]}
            )
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
