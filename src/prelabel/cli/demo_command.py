"""``prelabel demo``: the whole loop on a bundled example."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel.cli.app import app
from prelabel.cli.options import ModelOpt

PANEL = "6. Try it"


@app.command(rich_help_panel=PANEL)
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory.")] = Path("prelabel-demo"),
    model: ModelOpt = None,
    max_items: Annotated[
        int | None, typer.Option("--max-items", min=1, help="Items to label (local model default: 8).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Items labeled at once.")] = 8,
) -> None:
    """The whole loop on a bundled example: label the demo items, compare them with human labels.

    Uses OpenAI when OPENAI_API_KEY is set, else the embedded local model (a smoke model: poor labels)."""
    prelabel.run_demo(
        out, model=model, max_items=max_items, concurrency=concurrency, progress=sys.stderr.isatty(),
        echo=typer.echo,
    )  # fmt: skip
