"""``export``: one run (or one side of its routing) in a registered format (``prelabel.exporters()``).

    >>> import prelabel
    >>> try:
    ...     prelabel.export("no/such/run", "csv", "out.csv")
    ... except prelabel.InputError as exc:
    ...     print(exc)
    no/such/run: no model results here (expected a RUN_DIR holding labels.jsonl)

Bad input (no results, a changed SOP, items that are not the ones the run labeled, a routing of other
results, ``route`` without ``only``, an unknown format, an existing output) is one ``InputError``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from prelabel._jsonio import writing
from prelabel.comparison.provenance import provenance
from prelabel.comparison.run_info import refuse_overwrite
from prelabel.errors import InputError
from prelabel.exports.candidates import load_candidates
from prelabel.exports.records import ExportSummary, Only, load_run, prediction_status
from prelabel.exports.registry import exporter, exporters
from prelabel.sop.spec import SOP

__all__ = ["export", "export_candidates"]


def export_candidates(
    cmp_dir: str | Path,
    format: str,
    out: str | Path,
    *,
    top: int = 10,
    sop: SOP | str | Path | None = None,
    items: Any = None,
    force: bool = False,
) -> ExportSummary:
    """Adjudication tasks for the ``top`` ambiguity candidates of a ``prelabel compare`` report ``cmp_dir``
    (see `prelabel.exports.candidates`), in ``format`` (``label-studio``: ``out`` and ``label_config.xml``;
    ``argilla``: records and settings). The run, its SOP and items and the human labels are those the
    report's ``metrics.json`` names (``sop``/``items`` override the run's). The tool's export of the
    adjudicated tasks goes to ``prelabel sop apply``.
    """
    chosen = exporter(format)
    if not chosen.adjudication:
        names = ", ".join(n for n, e in exporters().items() if e.adjudication)
        raise InputError(
            f"--candidates: format {format} has no adjudication tasks (formats that do: {names})"
        )
    target = Path(out)
    candidates = load_candidates(cmp_dir, top=top, sop=sop, items=items)
    refuse_overwrite(chosen.outputs(target), force)
    with writing(target):
        paths = chosen.export_candidates(candidates, target)
    return ExportSummary(
        format=f"{format} adjudication tasks",
        paths=[str(p) for p in paths],
        n_exported=len(candidates.tasks),
        skipped=dict(candidates.skipped),
        warnings=candidates.warnings,
    )


def export(
    run_dir: str | Path,
    format: str,
    out: str | Path,
    *,
    sop: SOP | str | Path | None = None,
    items: Any = None,
    only: Only | None = None,
    route: str | Path | None = None,
    force: bool = False,
) -> ExportSummary:
    """Export a run's prelabels; returns what was written and what was left out, and why.

    ``format`` is a registered format (``prelabel.exporters()``): ``label-studio`` writes ``out`` (tasks) and
    ``label_config.xml`` beside it; ``argilla`` writes records and dataset settings to ``out``;
    ``csv``/``jsonl``/``parquet`` flatten every result line; plugins add more. The SOP and items default to
    the files ``run.json`` names (``sop``/``items`` override; a changed SOP is an ``InputError``).
    ``only="accept"|"review"`` exports one side of a ``prelabel route`` output (``route``: its directory,
    default ``RUN_DIR/route``): the very lines route split, refused when the run changed since. The items
    paired with the results must be the ones the run labeled (checked against its ledger). Existing output
    files are kept unless ``force=True``.
    """
    chosen = exporter(format)
    target = Path(out)
    need_sop, need_items = chosen.needs_sop, chosen.needs_items
    run = load_run(
        run_dir, sop=sop, items=items, only=only, route=route, need_sop=need_sop, need_items=need_items
    )
    refuse_overwrite(chosen.outputs(target), force)
    without: Counter[str] = Counter()
    with writing(target):
        paths = chosen.export(run, target)
    if chosen.predictions:
        for row in run.rows:
            reason = prediction_status(row, run.sop)
            if reason and str(row["item_id"]) not in run.skipped_ids:
                without[reason] += 1
    return ExportSummary(
        format=format,
        paths=[str(p) for p in paths],
        selection=only,
        n_exported=run.n_exported,
        without_prediction=dict(without),
        skipped=dict(run.skipped),
        skipped_examples=run.examples,
        warnings=run.warnings,
        provenance=provenance(run.rows),
    )
