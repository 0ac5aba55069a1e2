"""``prelabel compare`` and ``prelabel agreement``: model against humans, and humans among themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel.cli.app import EXIT_BAD_INPUT, app, fail
from prelabel.cli.options import (
    AggregateOpt,
    AnnotatorOpt,
    BaseUrlOpt,
    EngineOpt,
    FastSecondsOpt,
    GoldOpt,
    HumansArg,
    HumansFormatOpt,
    MaskOpt,
    MaxAttemptsOpt,
    MaxReasksOpt,
    ModelOpt,
    RetryBudgetOpt,
    SliceOpt,
    SopOpt,
    TargetAccuracyOpt,
    TimeoutOpt,
    WideOpt,
    label_options,
)

PANEL = "3. Compare with humans"


@app.command(rich_help_panel=PANEL)
def agreement(
    humans: HumansArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Report directory (metrics.json).")],
    wide: WideOpt = False,
    annotators: AnnotatorOpt = None,
    sop: SopOpt = None,
    slice_columns: SliceOpt = None,
    aggregate: AggregateOpt = "majority",
    gold: GoldOpt = None,
    target_accuracy: TargetAccuracyOpt = None,
    fast_seconds: FastSecondsOpt = None,
    humans_format: HumansFormatOpt = "auto",
    engine: EngineOpt = "auto",
) -> None:
    """Agreement among human annotators only: DIR/metrics.json (Fleiss' kappa, Krippendorff's alpha, ...)."""
    prelabel.check_report_dir(out, "agreement")  # a file, unwritable or mixed with compare's: exit 2 now
    loaded = prelabel.load_sop(sop) if sop else None
    metrics = prelabel.agreement(
        humans,
        wide=wide,
        sop=loaded,
        slices=slice_columns,
        annotators=annotators,
        aggregate=aggregate,
        gold=gold,
        target_accuracy=target_accuracy,
        fast_seconds=fast_seconds,
        humans_format=humans_format,
        engine=engine,
    )
    _engine_hint(engine, humans)
    paths = metrics.save(out)
    shown = {
        "percent_agreement": metrics.percent_agreement,
        "pairwise_agreement": metrics.pairwise_agreement,
        "fleiss_kappa": metrics.fleiss_kappa,
        "krippendorff_alpha": metrics.krippendorff_alpha,
    }
    figures = ", ".join(f"{key} {'n/a' if v is None else format(v, '.3f')}" for key, v in shown.items())
    typer.echo(f"{metrics.n_items} items, {metrics.n_annotators} annotators: {figures}")
    for note in metrics.notes:
        typer.echo(f"note: {note}")
    for line in prelabel.vendor_qa_lines(metrics.vendor_qa):
        typer.echo(line)
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command(rich_help_panel=PANEL)
def compare(
    results: Annotated[
        str,
        typer.Argument(
            help="RUN_DIR or labels.jsonl (with DuckDB also a quoted pattern or a URL).", show_default=False
        ),
    ],
    humans: HumansArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Report directory.")],
    wide: WideOpt = False,
    annotators: AnnotatorOpt = None,
    sop: SopOpt = None,
    slice_columns: SliceOpt = None,
    humans_format: HumansFormatOpt = "auto",
    engine: EngineOpt = "auto",
    confident: Annotated[float, typer.Option(min=0, max=1, help="Certainty a model answer needs.")] = 0.7,
    draft_edits: Annotated[
        bool, typer.Option("--draft-edits", help="Ask the model to draft edge_cases for the top clusters.")
    ] = False,
    top: Annotated[int, typer.Option(min=1, help="Clusters to draft edge cases for.")] = 3,
    aggregate: AggregateOpt = "majority",
    gold: GoldOpt = None,
    target_accuracy: TargetAccuracyOpt = None,
    fast_seconds: FastSecondsOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    timeout: TimeoutOpt = None,
    retry_budget: RetryBudgetOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    max_reasks: MaxReasksOpt = None,
    mask: MaskOpt = None,
) -> None:
    """Compare model labels with human labels: metrics.json, disagreements.csv, ambiguity_candidates.csv,
    report.html (and draft_edge_cases.yaml with --draft-edits)."""
    if draft_edits and sop is None:
        raise fail("--draft-edits needs --sop (the drafts quote and follow the SOP)", EXIT_BAD_INPUT)
    options = label_options(  # bad flags: exit 2 before any work
        model=model, base_url=base_url, max_reasks=max_reasks,
        timeout=timeout, retry_budget=retry_budget, max_attempts=max_attempts, mask=mask,
    )  # fmt: skip
    prelabel.check_report_dir(out, "compare", drafts=draft_edits)  # before any work
    loaded = prelabel.load_sop(sop) if sop else None
    result = prelabel.compare(
        results,
        humans,
        sop=loaded,
        wide=wide,
        slices=slice_columns,
        confident=confident,
        annotators=annotators,
        aggregate=aggregate,
        gold=gold,
        target_accuracy=target_accuracy,
        fast_seconds=fast_seconds,
        humans_format=humans_format,
        engine=engine,
    )
    _engine_hint(engine, results, humans)
    paths = list(result.save(out).values())
    drafted = ""
    if draft_edits and loaded is not None:
        drafts = prelabel.draft_edge_cases(result.candidates, loaded, options, top=top)
        paths.append(drafts.save(out, loaded))
        drafted = drafts.summary()
    for warning in result.metrics.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(result.to_markdown())
    for line in prelabel.vendor_qa_lines(result.metrics.vendor_qa):
        typer.echo(line)
    if drafted:
        typer.echo(drafted)
    typer.echo("wrote " + ", ".join(str(p) for p in paths))


def _engine_hint(engine: str, *sources: str) -> None:
    hint = prelabel.engine_hint(engine, sources)
    if hint:
        typer.echo(f"hint: {hint}", err=True)


@app.command(rich_help_panel=PANEL)
def qa(
    batches: Annotated[
        list[Path],
        typer.Argument(
            help="compare (or agreement) output directories, one per batch or week, oldest first.",
            show_default=False,
            metavar="CMP_DIR",
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output DIR: trends.csv, qa.json, report.html.")],
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha", help="Chance of flagging any agent who did not degrade (Holm-corrected), per batch."
        ),
    ] = 0.05,
    parquet: Annotated[
        bool, typer.Option("--parquet", help="Also write trends.parquet (needs pyarrow: the parquet extra).")
    ] = False,
) -> None:
    """Vendor QA over batches: accuracy, kappa and throughput per annotator, vendor and market over time, with
    significant drops flagged (DIR/trends.csv, qa.json, report.html)."""
    prelabel.check_output(out, directory=True)  # before any work
    if parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise fail(
                "--parquet needs pyarrow: run `pip install 'prelabel[parquet]'`", EXIT_BAD_INPUT
            ) from None
    report = prelabel.qa(batches, alpha=alpha)
    paths = report.save(out, parquet=parquet)
    for line in report.lines():
        typer.echo(line)
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))
