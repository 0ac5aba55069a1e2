"""``prelabel export`` and ``prelabel route``: hand prelabels to vendor tools, and decide which to accept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.markup import escape

import prelabel
from prelabel.cli.app import app
from prelabel.cli.options import AggregateOpt, HumansFormatOpt, WideOpt

PANEL = "4. Hand off to vendors"


class _ExportCommand(typer.core.TyperCommand):
    """``prelabel export``: the ``--format`` help lists the registered formats, read when the help is shown
    (plugins included), so that starting the CLI loads none of them."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formats = [escape(f"{e.name} ({e.suffix}): {e.description}") for e in prelabel.exporters().values()]
        for param in self.params:
            if isinstance(param, typer.core.TyperOption) and param.name == "format":
                param.help = "\n\n".join(["The format, one of:", *formats])
        super().format_help(ctx, formatter)


RunArg = Annotated[
    Path, typer.Argument(help="RUN_DIR (holding labels.jsonl and run.json).", show_default=False)
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
SopPathOpt = Annotated[Path | None, typer.Option("--sop", help="SOP YAML (default: the one run.json names).")]


@app.command(rich_help_panel=PANEL, cls=_ExportCommand)
def export(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="RUN_DIR (holding labels.jsonl and run.json); with --candidates, a prelabel compare report "
            "DIR.",
            show_default=False,
        ),
    ],
    format: Annotated[str, typer.Option("--format", "-f", help="A registered format (see --help).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output file (Label Studio: tasks.json).")],
    only: Annotated[
        str | None, typer.Option("--only", help="accept or review: one side of a `prelabel route`.")
    ] = None,
    route: Annotated[
        Path | None, typer.Option("--route", help="The route output DIR for --only (default RUN_DIR/route).")
    ] = None,
    sop: SopPathOpt = None,
    items: Annotated[
        Path | None, typer.Option("--items", help="Items file (default: the one run.json names).")
    ] = None,
    candidates: Annotated[
        bool,
        typer.Option(
            "--candidates",
            help="Adjudication tasks for the top ambiguity candidates of the compare report DIR "
            "(label-studio, argilla): the item, human votes, the model's answer, the SOP rules; asks for "
            "the right label, whether the SOP is unclear, and the ruling.",
        ),
    ] = False,
    top: Annotated[
        int, typer.Option("--top", "-n", min=1, help="With --candidates: how many candidates.")
    ] = 10,
    force: ForceOpt = False,
) -> None:
    """Export prelabels for a vendor tool (Label Studio, Argilla), as a flat file, or in a plugin's format;
    or, with --candidates, adjudication tasks from a compare report."""
    if candidates:
        if only is not None or route is not None:
            raise prelabel.InputError("--candidates exports a compare report; --only/--route are for runs")
        summary = prelabel.export_candidates(run_dir, format, out, top=top, sop=sop, items=items, force=force)
        for warning in summary.warnings:
            typer.echo(f"warning: {warning}", err=True)
        for line in summary.lines():
            typer.echo(line)
        return
    if only is not None and only not in ("accept", "review"):
        raise prelabel.InputError(f"--only must be accept or review, got '{only}'")
    summary = prelabel.export(
        run_dir,
        format,
        out,
        sop=sop,
        items=items,
        only=only,  # type: ignore[arg-type]
        route=route,
        force=force,
    )
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for line in summary.lines():
        typer.echo(line)


@app.command("route", rich_help_panel=PANEL)
def route_command(
    run_dir: RunArg,
    calibration: Annotated[
        Path,
        typer.Option(
            "--calibration",
            help="Calibration results (RUN_DIR/labels.jsonl), or a DIR with human_labels.csv.",
        ),
    ],
    target_precision: Annotated[float, typer.Option("--target-precision", help="e.g. 0.95")],
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Output DIR: accept.jsonl, review.jsonl, route.json.")
    ],
    humans: Annotated[
        Path | None,
        typer.Option(
            "--humans", help="Human labels of the calibration items (CSV, or a Label Studio/Argilla export)."
        ),
    ] = None,
    delta: Annotated[float, typer.Option("--delta", help="Allowed failure probability.")] = 0.05,
    signal: Annotated[
        str,
        typer.Option(
            "--signal",
            help="confidence, agreement (runs with --samples K) or logprob (runs with --logprobs).",
        ),
    ] = "confidence",
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="mixed (a threshold per label with enough calibration items, one pooled threshold for the "
            "rest), label (a threshold per label) or global (one threshold).",
        ),
    ] = "mixed",
    min_count: Annotated[
        int, typer.Option("--min-count", help="Calibration items a label needs to be auto-accepted.")
    ] = 30,
    sop: SopPathOpt = None,
    wide: WideOpt = False,
    humans_format: HumansFormatOpt = "auto",
    force: ForceOpt = False,
    aggregate: AggregateOpt = "majority",
) -> None:
    """Split a run into accept.jsonl and review.jsonl with a precision guarantee (route.json)."""
    if signal not in ("confidence", "agreement", "logprob"):
        raise prelabel.InputError(f"--signal must be confidence, agreement or logprob, got '{signal}'")
    if by not in ("mixed", "label", "global"):
        raise prelabel.InputError(f"--by must be mixed, label or global, got '{by}'")
    routing = prelabel.route(
        run_dir,
        calibration,
        humans,
        target_precision=target_precision,
        delta=delta,
        signal=signal,  # type: ignore[arg-type]
        by=by,  # type: ignore[arg-type]
        min_count=min_count,
        sop=sop,  # None: the SOP run.json names, checked against the run as export checks it
        wide=wide,
        aggregate=aggregate,
        humans_format=humans_format,
    )
    paths = routing.save(out, force=force)
    for warning in routing.report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for line in routing.summary():
        typer.echo(line)
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))
