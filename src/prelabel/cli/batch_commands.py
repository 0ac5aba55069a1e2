"""``prelabel batch status|collect RUN_DIR``: Batch API runs started by ``prelabel run --batch-api``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel.cli.app import app
from prelabel.cli.options import label_options

PANEL = "2. Label"

batch_app = typer.Typer(
    help="OpenAI Batch API runs (`prelabel run ... --batch-api`): poll, then collect into the same RUN_DIR.",
    no_args_is_help=True,
)
app.add_typer(batch_app, name="batch", rich_help_panel=PANEL)

RunDirArg = Annotated[Path, typer.Argument(help="Run directory of a --batch-api run.", show_default=False)]


def submitted_line(done: prelabel.BatchSubmission) -> str:
    """What ``prelabel run --batch-api`` prints: what was sent, and what to run next."""
    kept = f"; {done.finished} already done" if done.finished else ""
    bad = f"; {done.recorded} unusable items recorded as errors" if done.recorded else ""
    if not done.batch_ids:
        return f"nothing to submit: no item is left to label in {done.run_dir}{kept}{bad}"
    return (
        f"submitted {done.requests} requests in batch {', '.join(done.batch_ids)} "
        f"({', '.join(done.request_files)}){kept}{bad}\n"
        f"next: `prelabel batch status {done.run_dir}`, then `prelabel batch collect {done.run_dir}` "
        "(results within 24 h)"
    )


@batch_app.command("status")
def status(run_dir: RunDirArg) -> None:
    """Print each batch's status and request counts."""
    shown = prelabel.batch_status(run_dir)
    for note in shown.notes:
        typer.echo(f"note: {note}", err=True)
    for batch in shown.batches:
        state = "collected" if batch.collected else batch.status
        typer.echo(
            f"{batch.batch_id}: {state}, {batch.completed}/{batch.total} completed, {batch.failed} failed"
        )
        for error in batch.errors:
            typer.echo(f"  {error}")
    if shown.ready:
        typer.echo(f"ready: run `prelabel batch collect {run_dir}`")


@batch_app.command("collect")
def collect(
    run_dir: RunDirArg,
    no_fallback: Annotated[
        bool,
        typer.Option(
            "--no-fallback", help="Keep failed/expired lines as error records instead of sending them online."
        ),
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until the batches finish.")] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.0, help="Seconds between polls with --wait.")
    ] = 60.0,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Items sent online at once by the fallback.")
    ] = None,
) -> None:
    """Write the batch answers into RUN_DIR's ledger (failed/expired lines go online), then labels.jsonl."""
    options = label_options(concurrency=concurrency)
    done = prelabel.collect_batch(
        run_dir, options, fallback=not no_fallback, wait=wait, poll_interval=poll_interval,
        progress=sys.stderr.isatty(),
    )  # fmt: skip
    for note in done.notes:
        typer.echo(f"note: {note}", err=True)
    summary, n = done.summary, done.summary.counts
    cost = "" if summary.cost_usd is None else f", cost ${summary.cost_usd:.4f} (batch lines at Batch price)"
    typer.echo(
        f"collected {len(done.batches)} batch(es): {done.answered} answers, {done.failed} failed lines, "
        f"{done.sent_online} items sent online"
    )
    typer.echo(
        f"labeled {n['total']} items: {n['ok']} ok, {n['abstained']} abstained, {n['error']} errors{cost} "
        f"-> {prelabel.RunDir(run_dir).labels}"
    )
    if summary.errors_by_type:
        kinds = ", ".join(f"{kind}: {count}" for kind, count in summary.errors_by_type.items())
        typer.echo(f"errors by type: {kinds} (see the error field in {prelabel.RunDir.LABELS})", err=True)
