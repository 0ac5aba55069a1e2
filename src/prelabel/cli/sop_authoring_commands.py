"""``prelabel test``, ``diff`` and ``gaps``: the SOP author's loop (tests, wording changes, tree gaps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel.cli.app import app, fail
from prelabel.cli.options import (
    BaseUrlOpt,
    MaskOpt,
    MaxAttemptsOpt,
    MaxReasksOpt,
    ModelOpt,
    RetryBudgetOpt,
    SopArg,
    TimeoutOpt,
    label_options,
)

PANEL = "5. Author the SOP"

NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Ask the model again instead of reusing cached answers.")
]
ModeOpt = Annotated[str | None, typer.Option(help="Instructor mode (default: chosen by backend).")]


@app.command("test", rich_help_panel=PANEL)
def sop_test(
    sop: SopArg,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    timeout: TimeoutOpt = None,
    retry_budget: RetryBudgetOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    max_reasks: MaxReasksOpt = None,
    repeat: Annotated[
        int, typer.Option("--repeat", help="Answers per case, 1-100 (sampled; < 100% pass = unstable).")
    ] = 1,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    pattern: Annotated[
        str | None, typer.Option("-k", help="Only cases whose id or text contains this (or glob: 'E*').")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, max=2.0, help="Sampling temperature (--repeat default: 0.7).")
    ] = None,
    no_cache: NoCacheOpt = False,
    mask: MaskOpt = None,
) -> None:
    """Run the SOP's tests: and edge_cases: through the model; exit 1 unless every case passes."""
    loaded = prelabel.load_sop(sop)
    options = label_options(
        model=model, base_url=base_url, mode=mode, temperature=temperature, max_reasks=max_reasks,
        timeout=timeout, retry_budget=retry_budget, max_attempts=max_attempts, mask=mask,
    )  # fmt: skip
    report = prelabel.run_sop_tests(
        loaded, options, repeat=repeat, pattern=pattern, use_cache=not no_cache, junit=junit
    )  # the JUnit file is checked before any model call, and written in every case
    typer.echo(report.to_text())
    if junit is not None:
        typer.echo(f"wrote {junit}")
    if report.endpoint_error is not None:
        raise prelabel.EndpointError(report.endpoint_error)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command("diff", rich_help_panel=PANEL)
def sop_diff(
    sop_a: Annotated[Path, typer.Argument(help="The SOP as it is (version A).", show_default=False)],
    sop_b: Annotated[Path, typer.Argument(help="The SOP as changed (version B).", show_default=False)],
    items: Annotated[Path, typer.Option("--items", help="Items both versions label (.jsonl/.csv/...).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output dir: flips.csv, summary.md, prompt.diff.")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    timeout: TimeoutOpt = None,
    retry_budget: RetryBudgetOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    max_reasks: MaxReasksOpt = None,
    max_items: Annotated[
        int | None, typer.Option("--max-items", min=1, help="Use the first N items.")
    ] = None,
    no_tests: Annotated[
        bool, typer.Option("--no-tests", help="Do not run the two versions' tests and edge cases.")
    ] = False,
    no_cache: NoCacheOpt = False,
    mask: MaskOpt = None,
) -> None:
    """Show what a wording change does: the system prompt diff and the items whose label flips."""
    a, b = prelabel.load_sop(sop_a), prelabel.load_sop(sop_b)
    options = label_options(
        model=model, base_url=base_url, mode=mode, max_reasks=max_reasks,
        timeout=timeout, retry_budget=retry_budget, max_attempts=max_attempts, max_items=max_items,
        mask=mask,
    )  # fmt: skip
    prelabel.check_output(out, directory=True)  # before any model call
    flips = prelabel.label_flips(a, b, items, options, tests=not no_tests, use_cache=not no_cache)
    if flips.prompt_diff:
        typer.echo(flips.prompt_diff, nl=False)
    else:
        typer.echo("system prompts are identical")
    typer.echo(flips.summary())
    paths = flips.save(out)
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))
    if flips.exit_code:  # every item has a failed answer: nothing compared is not "no flips"
        raise fail(str(flips.failure), flips.exit_code)


@app.command("gaps", rich_help_panel=PANEL)
def gaps(
    run_dir: Annotated[
        Path, typer.Argument(help="Run directory (labels.jsonl, run.json).", show_default=False)
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Draft YAML to write.")] = Path("gaps.draft.yaml"),
    sop: Annotated[
        Path | None, typer.Option("--sop", help="SOP YAML (default: the one run.json names).")
    ] = None,
    items: Annotated[
        Path | None, typer.Option("--items", help="The run's items (default: the file run.json names).")
    ] = None,
    catch_all: Annotated[
        list[str] | None,
        typer.Option(
            "--catch-all", help="A catch-all leaf (repeatable; default: leaves named other, misc...)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Items sent to the model at most.")] = 200,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    timeout: TimeoutOpt = None,
    retry_budget: RetryBudgetOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    max_reasks: MaxReasksOpt = None,
    mask: MaskOpt = None,
) -> None:
    """Draft candidate new leaves from the items the model abstained on or put in catch-all leaves."""
    loaded = prelabel.load_sop(sop) if sop is not None else None
    options = label_options(
        model=model, base_url=base_url, mode=mode, max_reasks=max_reasks,
        timeout=timeout, retry_budget=retry_budget, max_attempts=max_attempts, mask=mask,
    )  # fmt: skip
    prelabel.check_output(out)  # before any model call
    found = prelabel.find_gaps(run_dir, options, sop=loaded, items=items, catch_all=catch_all, limit=limit)
    for warning in found.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(found.summary())
    if found.model_note:
        typer.echo(f"note: {found.model_note}")
    if found.exit_code:  # the model failed: nothing proposed is not "no gaps", and no draft is written
        raise fail(str(found.failure), found.exit_code)
    for proposal in found:
        typer.echo(f"  {proposal['id']}: {proposal['definition']} ({len(proposal['item_ids'])} items)")
    typer.echo(f"wrote {found.write(out)} (a draft: the SOP was not modified)")
