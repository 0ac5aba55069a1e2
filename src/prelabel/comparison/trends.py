"""``prelabel qa``: vendor QA over batches — accuracy, κ and throughput per annotator, vendor and market over
time, with statistically significant drops flagged.

Each batch is a ``compare`` (or ``agreement``) output directory; its ``metrics.json`` ``vendor_qa`` part holds
the batch's figures (`prelabel.comparison.vendor_qa`). Batches are taken **in the order given** (name them
by week or batch; the order is the time axis), and each is labeled by its directory name.

**Accuracy** of an agent in a batch is its accuracy against gold when it has gold votes there, else its
agreement with the consensus (``measure`` says which). **A drop** is tested for every agent from its second
batch on: its correct and wrong votes in the batch against those of all its previous batches, by the same
measure (gold when both sides have gold votes, else consensus), with a one-sided Fisher's exact test (scipy's
``fisher_exact(alternative="less")``: is the batch's odds of a right vote lower?). The p-values of one batch
and level (annotators, vendors, markets) are corrected together by Holm's step-down method, which keeps the
chance of flagging any agent who did not degrade at most ``alpha`` (default 0.05); ``drop_flag`` is set when
the corrected p-value is below ``alpha``.

    >>> import prelabel  # doctest: +SKIP
    >>> report = prelabel.qa(["week1", "week2", "week3"])  # doctest: +SKIP
    >>> report.flagged[["batch", "level", "name", "accuracy", "prev_accuracy"]]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from prelabel._jsonio import atomic_path, together, write_json, write_text, writing
from prelabel.comparison.metrics_schema import VENDOR_QA_VERSION, VendorQA
from prelabel.comparison.report_dir import METRICS_FILE
from prelabel.errors import InputError

__all__ = ["ALPHA", "DROP_TEST", "QAReport", "holm", "qa"]

#: The family-wise error rate of the drop flags (``--alpha``).
ALPHA = 0.05
#: The drop test in words (``qa.json`` and the report state it).
DROP_TEST = (
    "one-sided Fisher's exact test of the batch's right/wrong votes against the agent's previous batches "
    "(gold accuracy when both have gold votes, else agreement with the consensus), Holm-corrected across the "
    "agents of one level in one batch; flagged when the corrected p < alpha and accuracy fell"
)
_TREND_COLUMNS = [
    "batch",
    "batch_index",
    "level",
    "name",
    "vendor",
    "market",
    "n_labels",
    "n_gold",
    "gold_correct",
    "gold_accuracy",
    "gold_low",
    "gold_high",
    "n_vs_consensus",
    "consensus_agree",
    "consensus_agreement",
    "kappa",
    "n_timed",
    "items_per_hour",
    "median_seconds",
    "fast_share",
    "flagged",
]


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (``NaN`` stays ``NaN``).

    >>> holm(np.array([0.01, 0.04, 0.03])).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(len(p), np.nan)
    known = np.flatnonzero(~np.isnan(p))
    if not len(known):
        return out
    order = known[np.argsort(p[known], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _read_batch(directory: Path) -> VendorQA:
    path = directory / METRICS_FILE if directory.is_dir() else directory
    if not path.is_file():
        raise InputError(
            f"{directory}: no {METRICS_FILE} here (give compare's or agreement's output directory)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a metrics file ({exc})") from None
    part = data.get("vendor_qa") if isinstance(data, dict) else None
    if part is None:
        raise InputError(
            f"{path}: no vendor_qa figures (written by compare and agreement since QA; rerun them)"
        )
    if part.get("version") != VENDOR_QA_VERSION:
        raise InputError(
            f"{path}: vendor_qa version {part.get('version')}, this prelabel reads {VENDOR_QA_VERSION}"
        )
    return VendorQA.model_validate(part)


def _label(directory: Path, seen: set[str]) -> str:
    folder = directory if directory.is_dir() else directory.parent
    name = folder.name or str(folder)
    if name in seen:
        name = str(folder)
    seen.add(name)
    return name


def _drop_tests(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Add ``measure``, ``accuracy``, the previous batches' pooled ``prev_*`` figures, ``p_value``,
    ``p_adjusted`` and ``drop_flag`` to the trend rows."""
    frame = frame.sort_values(["level", "name", "batch_index"], kind="stable").reset_index(drop=True)
    gold = frame["n_gold"].to_numpy() > 0
    frame["accuracy"] = np.where(gold, frame["gold_accuracy"], frame["consensus_agreement"])
    keys = ["level", "name"]
    for column in ("n_gold", "gold_correct", "n_vs_consensus", "consensus_agree"):
        pooled = frame.groupby(keys, sort=False)[column].cumsum() - frame[column]
        frame[f"prev_{column}"] = pooled
    prev_gold = frame["prev_n_gold"].to_numpy() > 0
    use_gold = gold & prev_gold
    frame["measure"] = np.where(use_gold, "gold", "consensus")
    n = np.where(use_gold, frame["n_gold"], frame["n_vs_consensus"]).astype(np.int64)
    right = np.where(use_gold, frame["gold_correct"], frame["consensus_agree"]).astype(np.int64)
    prev_n = np.where(use_gold, frame["prev_n_gold"], frame["prev_n_vs_consensus"]).astype(np.int64)
    prev_right = np.where(use_gold, frame["prev_gold_correct"], frame["prev_consensus_agree"]).astype(
        np.int64
    )
    p_values = np.full(len(frame), np.nan)
    for i in np.flatnonzero((n > 0) & (prev_n > 0)):
        table = [[right[i], n[i] - right[i]], [prev_right[i], prev_n[i] - prev_right[i]]]
        p_values[i] = fisher_exact(table, alternative="less").pvalue
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["prev_accuracy"] = np.where(prev_n > 0, prev_right / np.maximum(prev_n, 1), np.nan)
        fell = right / np.maximum(n, 1) < frame["prev_accuracy"].to_numpy()
    frame["p_value"] = p_values
    frame["p_adjusted"] = np.nan
    for _, rows in frame.groupby(["batch_index", "level"], sort=False).groups.items():
        index = np.asarray(rows)
        frame.loc[index, "p_adjusted"] = holm(p_values[index])
    frame["drop_flag"] = (frame["p_adjusted"].to_numpy() < alpha) & fell
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("prev_") and c != "prev_accuracy"])
    return frame.sort_values(["batch_index", "level", "name"], kind="stable").reset_index(drop=True)


@dataclass
class QAReport:
    """What `qa` returns: one ``trends`` row per batch and agent (annotator, vendor, market), the batches in
    order, and the settings; ``flagged`` are the rows with a significant drop."""

    trends: pd.DataFrame
    batches: list[str]
    alpha: float

    @property
    def flagged(self) -> pd.DataFrame:
        """The trend rows whose accuracy drop is significant (``drop_flag``)."""
        return self.trends[self.trends["drop_flag"]].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """``qa.json``: batches, settings, the test, and the flagged drops."""
        flagged = self.flagged[
            ["batch", "level", "name", "measure", "accuracy", "prev_accuracy", "p_adjusted"]
        ]
        return {
            "batches": self.batches,
            "alpha": self.alpha,
            "drop_test": DROP_TEST,
            "n_agents": {k: int(v) for k, v in self.trends.groupby("level")["name"].nunique().items()},
            "flagged": json.loads(flagged.to_json(orient="records")),
        }

    def lines(self) -> list[str]:
        """What the CLI prints: batches, then each flagged drop."""
        out = [f"{len(self.batches)} batches ({', '.join(self.batches)}); drop test: {DROP_TEST}"]
        for row in self.flagged.itertuples():
            out.append(
                f"drop: {row.level} {row.name} in {row.batch}: {row.measure} accuracy {row.accuracy:.3f} "
                f"(before: {row.prev_accuracy:.3f}), Holm-corrected p = {row.p_adjusted:.2g}"
            )
        if self.flagged.empty:
            out.append(f"no significant drop (alpha {self.alpha:g})")
        return out

    def save(self, directory: str | Path, *, parquet: bool = False) -> dict[str, Path]:
        """Write ``trends.csv`` (and ``trends.parquet``), ``qa.json`` and ``report.html``, all or none."""
        from prelabel.comparison.trends_report import render_trends

        out = Path(directory)
        paths = {"trends": out / "trends.csv", "summary": out / "qa.json", "report": out / "report.html"}
        if parquet:
            paths["parquet"] = out / "trends.parquet"
        with writing(paths["trends"]), together():
            with atomic_path(paths["trends"]) as temp:
                self.trends.to_csv(temp, index=False)
            if parquet:
                with atomic_path(paths["parquet"]) as temp:
                    self.trends.to_parquet(temp, index=False)
            write_json(paths["summary"], self.summary())
            write_text(paths["report"], render_trends(self))
        return paths


def qa(batches: Sequence[str | Path], *, alpha: float = ALPHA) -> QAReport:
    """Vendor QA trends over ``batches`` (compare or agreement output directories, or their
    ``metrics.json``), in the order given; see the module docstring for the drop test."""
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be strictly between 0 and 1, got {alpha}")
    if not batches:
        raise InputError("qa needs at least one compare output directory")
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for index, directory in enumerate(Path(b) for b in batches):
        part = _read_batch(directory)
        name = _label(directory, seen)
        names.append(name)
        for agent in part.agents:
            rows.append({"batch": name, "batch_index": index, **agent.model_dump()})
    frame = pd.DataFrame(rows, columns=[*_TREND_COLUMNS, "below_target"])
    if frame.empty:
        raise InputError("the batches hold no annotator figures")
    frame = frame.rename(columns={"flagged": "below_target_flagged"})
    return QAReport(_drop_tests(frame, alpha), names, alpha)
