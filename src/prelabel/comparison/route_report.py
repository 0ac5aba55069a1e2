"""What ``route`` returns: ``Routing`` (the run's lines split into accept and review) and ``RouteReport``.

``RouteReport`` is everything ``route.json`` records (settings, the guarantee, per-label thresholds and
coverage); ``Routing.save`` writes ``accept.jsonl``, ``review.jsonl`` and ``route.json``, and
``Routing.summary`` gives the CLI's lines. The split itself is ``comparison.routing``; the thresholds and
their guarantee are ``comparison.thresholds``; what binds a route to the results it split is
``comparison.route_source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prelabel._jsonio import together, write_json, write_text, writing
from prelabel.comparison.metrics_schema import Provenance
from prelabel.comparison.provenance import describe
from prelabel.comparison.route_source import ROUTE_FILES, RoutedResults
from prelabel.comparison.run_info import refuse_overwrite
from prelabel.comparison.thresholds import ThresholdFit

__all__ = ["LabelRoute", "RouteReport", "Routing"]

By = Literal["mixed", "label", "global"]


class LabelRoute(BaseModel):
    """One label's routing: its status, threshold fit, and coverage on the run."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["threshold", "target_not_met", "pooled", "too_little_calibration_data"]
    """``pooled``: too few items for its own threshold (``--by mixed``); the pooled threshold applies."""
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
    pooled: ThresholdFit | None = None
    """``--by mixed``: the one threshold of the labels too thin for their own (``None``: none are)."""
    items_needed_per_label: int = 0
    """Calibration items each label needs for the per-label guarantee (``--by label``) to be testable."""
    labels: dict[str, LabelRoute]
    run: RunCoverage
    notes: list[str]
    warnings: list[str] = []
    """What reading the run and the calibration set had to say (a cut-off last line, skipped)."""
    provenance: dict[str, Provenance] = {}
    """The models and SOP versions of the ``run`` and of the ``calibration`` results."""
    results: RoutedResults | None = None
    """The results routed (``comparison.route_source``): ``export --only`` checks the run still holds them;
    ``None`` when they came from a DataFrame."""


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
        with writing(paths["route"]), together():  # the three files, or none
            for key, rows in (("accept", self.accept), ("review", self.review)):
                lines = (json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n" for r in rows)
                text = "".join(lines)
                write_text(paths[key], text)
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
        if unmet and rep.by != "global":
            lines.append(f"always review (no threshold meets the target): {', '.join(sorted(unmet))}")
        pooled = sorted(k for k, v in rep.labels.items() if v.status == "pooled")
        if pooled and rep.pooled is not None:
            t = "none meets the target" if rep.pooled.threshold is None else f"{rep.pooled.threshold:.3f}"
            lines.append(f"one pooled threshold ({t}) for {len(pooled)} thinner labels: {', '.join(pooled)}")
        if rep.by != "global":
            lines.append(
                f"a threshold of its own needs about {rep.items_needed_per_label} calibration items per label"
            )
        lines += [f"{side} labeled by {describe(found)}" for side, found in rep.provenance.items()]
        lines += [f"note: {n}" for n in rep.notes]
        return lines
