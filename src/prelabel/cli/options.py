"""Option and argument types shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SopArg = Annotated[Path, typer.Argument(help="SOP YAML file.", show_default=False)]
ModelOpt = Annotated[str | None, typer.Option(help="Model; 'local' or 'local:PATH.gguf': embedded model.")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL.")]
LangOpt = Annotated[str | None, typer.Option("--rationale-language", help="Language of the rationales.")]
TemplateOpt = Annotated[str | None, typer.Option(help="Prompt template name (default: classify.v1).")]
HumansArg = Annotated[Path, typer.Argument(help="Human labels CSV (long or --wide).", show_default=False)]
WideOpt = Annotated[bool, typer.Option("--wide", help="Wide form: item_id + one column per annotator.")]
AnnotatorOpt = Annotated[
    list[str] | None,
    typer.Option("--annotator", help="Wide form: an annotator column (repeatable; default: inferred)."),
]
SliceOpt = Annotated[list[str] | None, typer.Option("--slice", help="Slice column (repeatable).")]
SopOpt = Annotated[Path | None, typer.Option("--sop", help="SOP YAML: check labels, roll up, quote it.")]
