"""What every export reads: a run's result lines (``labels.jsonl``, ``run.json``), its items (checked against
the run's ledger) and SOP, and an optional ``--only accept|review`` selection from a ``prelabel route``
output (bound to the results it split); plus what an export left out.

    >>> model_version({"sop_id": "demo", "sop_version": "1.0", "model": "gpt-4o-mini",
    ...                "prompt_hash": "sha256:0123456789abcdef"})
    'prelabel:demo@1.0:gpt-4o-mini:0123456789ab'
    >>> model_version({"sop_id": "demo", "sop_version": "1.0", "model": "local", "prompt_hash": "sha256:ab"})
    'prelabel:demo@1.0:local:ab:smoke-model'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prelabel.comparison.metrics_schema import Provenance
from prelabel.comparison.provenance import describe
from prelabel.comparison.route_source import routed_positions
from prelabel.comparison.run_info import run_sop
from prelabel.errors import InputError
from prelabel.inputs.items import Item
from prelabel.labeling.run_items import run_items
from prelabel.llm.endpoints import is_smoke_model
from prelabel.runs.labels import read_labels
from prelabel.runs.run_dir import RunDir
from prelabel.sop.spec import SOP

__all__ = [
    "DUPLICATE_ID",
    "SMOKE_VERSION_SUFFIX",
    "ExportSummary",
    "Only",
    "RunExport",
    "load_run",
    "model_version",
    "prediction_status",
]

Only = Literal["accept", "review"]


#: Why a later result line of an id is not exported: the run labeled the first row of the id and recorded
#: each later one as a ``duplicate id`` error (ids compared after ``inputs.ids.normalize_id``).
DUPLICATE_ID = "duplicate id: the run labeled only the first row of this id"

#: Appended to the ``model_version`` of the bundled smoke model's predictions: vendors see what they are.
SMOKE_VERSION_SUFFIX = ":smoke-model"


def model_version(row: dict[str, Any]) -> str:
    """``prelabel:<sop>@<version>:<model>:<prompt-hash>`` (the hash's first 12 hex digits), followed by
    ``:smoke-model`` when the model is the bundled smoke model (its labels illustrate the mechanics only)."""
    digest = str(row.get("prompt_hash") or "").removeprefix("sha256:")[:12]
    smoke = SMOKE_VERSION_SUFFIX if is_smoke_model(row.get("model")) else ""
    return f"prelabel:{row.get('sop_id')}@{row.get('sop_version')}:{row.get('model')}:{digest}{smoke}"


def prediction_status(row: dict[str, Any], sop: SOP | None) -> str | None:
    """Why a result line carries no prediction (``error``, ``abstained``, ``no_label``), or ``None``."""
    status = str(row.get("status") or "ok").lower()
    if status == "error":
        return "error"
    abstain = sop.abstain_answer if sop is not None else None
    if status == "abstained" or (abstain is not None and row.get("label") == abstain):
        return "abstained"
    multi = sop.multi_label if sop is not None else row.get("label") is None
    if not (row.get("labels") if multi else row.get("label")):
        return "no_label"
    return None


class ExportSummary(BaseModel):
    """What an export wrote, and what it left out and why (nothing is dropped silently)."""

    model_config = ConfigDict(extra="forbid")

    format: str
    paths: list[str]
    selection: str | None = None
    n_exported: int
    without_prediction: dict[str, int] = {}
    skipped: dict[str, int] = {}
    skipped_examples: dict[str, list[str]] = {}
    warnings: list[str] = []
    """What reading the run had to say (a cut-off last line of ``labels.jsonl``, skipped); the CLI prints
    each as ``warning: ...``."""
    provenance: Provenance | None = None
    """The models and SOP versions of the exported lines (and the smoke-model note when one is it)."""

    def lines(self) -> list[str]:
        """One line per fact, for the CLI."""
        side = f" ({self.selection} side of the routing)" if self.selection else ""
        made = f", labeled by {describe(self.provenance)}" if self.provenance is not None else ""
        out = [f"exported {self.n_exported} items as {self.format}{side}{made}"]
        if self.provenance is not None and self.provenance.note:
            out.append(f"note: {self.provenance.note}")
        if self.without_prediction:
            detail = ", ".join(f"{k} {v}" for k, v in self.without_prediction.items())
            out.append(f"exported without a prediction (for annotators to label from scratch): {detail}")
        for reason, count in self.skipped.items():
            examples = ", ".join(self.skipped_examples.get(reason, [])[:5])
            out.append(f"skipped {count} ({reason}): {examples}")
        out.append("wrote " + ", ".join(self.paths))
        return out


@dataclass
class RunExport:
    """A run ready to export: its result lines (selected), items by id, SOP and ``run.json``."""

    run_dir: Path
    rows: list[dict[str, Any]]
    items: dict[str, Item]
    sop: SOP | None
    info: dict[str, Any] | None
    selection: Only | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    skipped_ids: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    """What reading the run had to say (a cut-off last line, skipped)."""

    items_missing: str | None = None
    """Why there are no items at all (no items file to read), ``None`` when there are: an export that adds
    the items' text when it can (the flat formats) says so."""
    left_out: int = 0
    """Result lines left out before the exporter saw them (counted in ``skipped``, not in ``rows``)."""

    def skip(self, reason: str, item_id: Any) -> None:
        """Count one left-out line of ``rows``, keeping a few example ids."""
        self._count(reason, item_id)
        self.skipped_ids.add(str(item_id))

    def leave_out(self, reason: str, item_id: Any) -> None:
        """Count one result line kept out of ``rows`` (a later line of an id), keeping a few example ids."""
        self._count(reason, item_id)
        self.left_out += 1

    @property
    def n_exported(self) -> int:
        """The lines of ``rows`` the exporter did not skip."""
        return len(self.rows) - (sum(self.skipped.values()) - self.left_out)

    def _count(self, reason: str, item_id: Any) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 10:
            self.examples[reason].append(str(item_id))


def load_run(
    run_dir: str | Path,
    *,
    sop: SOP | str | Path | None = None,
    items: Any = None,
    only: Only | None = None,
    route: str | Path | None = None,
    need_sop: bool = False,
    need_items: bool = False,
) -> RunExport:
    """Read a run for export; ``InputError`` for a RUN_DIR without results, an SOP that no longer matches,
    or items that are not the ones the run labeled (``labeling.run_items``).

    The SOP and items default to the files ``run.json`` names; ``only`` keeps the lines ``prelabel route``
    put on that side (``route`` is its output directory, default ``RUN_DIR/route``), once the routing is
    known to be of these very results (``comparison.route_source``). A later line of an id (the run's
    duplicate-id record) is left out and counted.
    """
    run_path = Path(run_dir)
    where = str(run_path)
    lines = read_labels(run_path).require_ids()  # no results: one clear line, before anything else
    info = RunDir.of(run_path).read_info()
    loaded = run_sop(info, sop, where, need=need_sop)
    positions: Iterable[int] = range(len(lines.rows))
    if only is not None:
        if only not in ("accept", "review"):
            raise InputError(f"--only must be accept or review, got '{only}'")
        positions = routed_positions(run_path, lines, only, route)  # the lines route split, not their ids
    elif route is not None:
        raise InputError("--route names the routing --only reads; pass --only accept or --only review too")
    paired = run_items(run_path, lines, items, need=need_items, info=info)
    run = RunExport(
        run_path, [], paired.items, loaded, info, only, warnings=[*lines.warnings, *paired.warnings]
    )
    run.items_missing = paired.missing
    repeated = lines.repeated()
    for position in positions:
        if position in repeated:  # the run's duplicate-id record: never an item's result
            run.leave_out(DUPLICATE_ID, lines.rows[position]["item_id"])
        else:
            run.rows.append(lines.rows[position])
    return run
