"""``prelabel sop apply``: adjudicated rulings (or reviewed drafts) written into the SOP file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel.cli.app import app

PANEL = "5. Author the SOP"

sop_app = typer.Typer(
    help="Change an SOP file: `sop apply RULINGS --sop SOP.yaml` writes adjudicated rulings into it.",
    no_args_is_help=True,
)
app.add_typer(sop_app, name="sop", rich_help_panel=PANEL)


@sop_app.command("apply")
def sop_apply(
    rulings: Annotated[
        Path,
        typer.Argument(
            help="An adjudicated Label Studio/Argilla export (prelabel export CMP_DIR --candidates), or a "
            "draft_edge_cases.yaml from compare --draft-edits marked reviewed: true.",
            show_default=False,
        ),
    ],
    sop: Annotated[Path, typer.Option("--sop", help="The SOP YAML to change (in place unless -o).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the change as a unified diff; write nothing.")
    ] = False,
    bump: Annotated[
        str, typer.Option("--bump", help="The version part to raise: major, minor or patch.")
    ] = "minor",
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="The new version, instead of --bump (needed when the version is not 1.2.0-like).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Write the new SOP here; the SOP file stays as it is.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the -o file if it exists.")] = False,
) -> None:
    """Write accepted rulings into the SOP: edge cases, test cases, a version bump and a changelog entry,
    keeping its comments and formatting."""
    result = prelabel.apply_rulings(
        rulings,
        sop,
        out=out,
        bump=bump,
        version=version,
        dry_run=dry_run,
        overwrite=force,
    )
    if dry_run and result.edit.changed:
        typer.echo(result.edit.diff(str(sop)), nl=False)
    for line in result.lines():
        typer.echo(line)
