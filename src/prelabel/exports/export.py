"""``export``: one run (or one side of its routing) into a vendor tool's import format or a flat file.

    >>> import prelabel
    >>> try:
    ...     prelabel.export("no/such/run", "csv", "out.csv")
    ... except prelabel.InputError as exc:
    ...     print(exc)
    no/such/run: no model results here (expected a RUN_DIR holding labels.jsonl)

Bad input (no results, a changed SOP, an unknown format, an existing output) is one ``InputError``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from prelabel._jsonio import writing
from prelabel.comparison.provenance import provenance
from prelabel.comparison.run_info import refuse_overwrite
from prelabel.errors import InputError
from prelabel.exports.records import ExportSummary, Only, load_run, prediction_status
from prelabel.sop.spec import SOP

__all__ = ["FORMATS", "Format", "export"]

Format = Literal["label-studio", "argilla", "csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("label-studio", "argilla", "csv", "jsonl", "parquet")
_VENDOR = ("label-studio", "argilla")


def export(
    run_dir: str | Path,
    format: Format,
    out: str | Path,
    *,
    sop: SOP | str | Path | None = None,
    items: Any = None,
    only: Only | None = None,
    route: str | Path | None = None,
    force: bool = False,
) -> ExportSummary:
    """Export a run's prelabels; returns what was written and what was left out, and why.

    ``label-studio`` writes ``out`` (tasks) and ``label_config.xml`` beside it; ``argilla`` writes records and
    dataset settings to ``out``; ``csv``/``jsonl``/``parquet`` flatten every result line. The SOP and items
    default to the files ``run.json`` names (``sop``/``items`` override; a changed SOP is an ``InputError``).
    ``only="accept"|"review"`` exports one side of a ``prelabel route`` output (``route``: its directory,
    default ``RUN_DIR/route``). Existing output files are kept unless ``force=True``.
    """
    if format not in FORMATS:
        raise InputError(f"unknown export format '{format}' (choose from: {', '.join(FORMATS)})")
    target = Path(out)
    vendor = format in _VENDOR
    run = load_run(run_dir, sop=sop, items=items, only=only, route=route, need_sop=vendor, need_items=vendor)
    planned = [target, target.parent / "label_config.xml"] if format == "label-studio" else [target]
    refuse_overwrite(planned, force)
    without: Counter[str] = Counter()
    with writing(target):
        if format == "label-studio":
            from prelabel.exports.label_studio import write_label_studio

            paths = write_label_studio(run, target)
        elif format == "argilla":
            from prelabel.exports.argilla import write_argilla

            paths = write_argilla(run, target)
        else:
            from prelabel.exports.flat import write_flat

            paths = write_flat(run, target, format)
    if vendor:
        for row in run.rows:
            reason = prediction_status(row, run.sop)
            if reason and str(row["item_id"]) not in run.skipped_ids:
                without[reason] += 1
    return ExportSummary(
        format=format,
        paths=[str(p) for p in paths],
        selection=only,
        n_exported=len(run.rows) - sum(run.skipped.values()),
        without_prediction=dict(without),
        skipped=dict(run.skipped),
        skipped_examples=run.examples,
        warnings=run.warnings,
        provenance=provenance(run.rows),
    )
