"""Option and argument types shared by several commands."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

import prelabel

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

# how hard to try the model: one set of flags for every command that calls it
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Seconds one request may take, from sending to the last byte of the answer (default: 120).",
    ),
]
RetryBudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--retry-budget",
        help="Seconds one answer may take, its retries and their waits included (default: 300); a "
        "server asking to wait longer stops the run (exit 3).",
    ),
]
MaxAttemptsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-attempts",
        min=1,
        help="Requests per answer on transport failures, first included (default: 6).",
    ),
]
MaxReasksOpt = Annotated[
    int | None,
    typer.Option("--max-reasks", min=0, help="Re-asks when an answer fails validation (default: 2)."),
]


#: The flags `label_options` turns into a ``RetryPolicy`` (the other flags are ``LabelOptions`` fields).
RETRY_FLAGS = ("timeout", "retry_budget", "max_attempts")


def options_from(scope: Mapping[str, Any]) -> prelabel.LabelOptions:
    """``label_options`` from a command's ``locals()``: every flag named like a ``LabelOptions`` field or a
    retry flag (the command's other parameters are left alone)."""
    fields = prelabel.LabelOptions.model_fields
    return label_options(**{name: v for name, v in scope.items() if name in fields or name in RETRY_FLAGS})


def label_options(**given: Any) -> prelabel.LabelOptions:
    """``LabelOptions`` from the flags given (``None``: not given); ``timeout``, ``retry_budget`` and
    ``max_attempts`` become its ``retry`` policy. Bad values raise ``InputError`` (exit 2)."""
    retry = {"timeout": given.pop("timeout", None), "max_total": given.pop("retry_budget", None)}
    retry["max_attempts"] = given.pop("max_attempts", None)
    changes = {name: value for name, value in given.items() if value is not None}
    if any(value is not None for value in retry.values()):
        changes["retry"] = prelabel.RetryPolicy.with_defaults(**retry)
    return prelabel.LabelOptions.build(None, changes)
