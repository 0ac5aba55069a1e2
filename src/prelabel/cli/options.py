"""Option and argument types shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import prelabel

SopArg = Annotated[Path, typer.Argument(help="SOP YAML file.", show_default=False)]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        help="Model; 'local' or 'local:PATH.gguf': embedded model; 'anthropic:MODEL' / 'gemini:MODEL': "
        "Anthropic's or Gemini's own API (extras prelabel[anthropic] / prelabel[gemini])."
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible server URL (with an anthropic: or gemini: model, that API's base URL).",
    ),
]
LangOpt = Annotated[str | None, typer.Option("--rationale-language", help="Language of the rationales.")]
TemplateOpt = Annotated[str | None, typer.Option(help="Prompt template name (default: classify.v1).")]
HumansArg = Annotated[
    str,
    typer.Argument(
        help="Human labels: CSV/Parquet (long or --wide), or a Label Studio (JSON, JSON_MIN, CSV) or Argilla "
        "export as the tool writes it; with DuckDB also a quoted pattern ('humans/*.parquet') or a URL "
        "(s3://, gs://, ... through fsspec).",
        show_default=False,
    ),
]
HumansFormatOpt = Annotated[
    str,
    typer.Option(
        "--humans-format",
        help="What the human labels file is: auto (from its content), table, label-studio (JSON), "
        "label-studio-min (JSON_MIN), label-studio-csv, argilla.",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Who reads the files: auto (DuckDB for inputs of 64 MB or more when installed), pandas, duckdb "
        "(prelabel[duckdb]; also file patterns such as 'humans/*.parquet'). The figures are the same.",
    ),
]
WideOpt = Annotated[bool, typer.Option("--wide", help="Wide form: item_id + one column per annotator.")]
AnnotatorOpt = Annotated[
    list[str] | None,
    typer.Option("--annotator", help="Wide form: an annotator column (repeatable; default: inferred)."),
]
SliceOpt = Annotated[list[str] | None, typer.Option("--slice", help="Slice column (repeatable).")]
SopOpt = Annotated[Path | None, typer.Option("--sop", help="SOP YAML: check labels, roll up, quote it.")]
# how the human consensus is formed, wherever one is (compare, agreement, route's calibration set)
AggregateOpt = Annotated[
    str,
    typer.Option(
        "--aggregate",
        help="Human consensus: majority (ties left out), dawid-skene, glad or mace (annotator models from "
        "crowd-kit, the qa extra; single-label SOPs).",
    ),
]
# vendor QA of one batch (compare, agreement): gold, the accuracy target, very fast answers
GoldOpt = Annotated[
    Path | None,
    typer.Option(
        "--gold",
        help="Gold answers (item_id,label; a calibration answer key works), besides the human labels' "
        "gold rows.",
    ),
]
TargetAccuracyOpt = Annotated[
    float | None,
    typer.Option(
        "--target-accuracy",
        help="Gold accuracy agents should reach: below it is listed, flagged when the Wilson upper bound "
        "is too.",
    ),
]
FastSecondsOpt = Annotated[
    float | None,
    typer.Option(
        "--fast-seconds", help="Answers faster than this (seconds) count as very fast (default: 3)."
    ),
]
MaskOpt = Annotated[
    str | None,
    typer.Option(
        "--mask",
        metavar="KIND[,KIND]",
        help="Personal data to replace by placeholders (<PHONE_1>) before anything is sent: email, phone, "
        "card (comma-separated); added to what the SOP's privacy: section masks.",
    ),
]

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
# where media may come from and how much of a video is sent (prelabel.inputs.media, prelabel.inputs.video)
MediaRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--media-root",
        help="Folder that items' local image and video paths must resolve inside (default: the items "
        "file's folder); paths outside it, '..' escapes and links out are error records.",
    ),
]
AllowRemoteMediaOpt = Annotated[
    bool,
    typer.Option(
        "--allow-remote-media",
        help="Trust the items' media URLs: allow loopback, private and link-local hosts and file:// URLs "
        "(refused by default; public http(s) URLs are always allowed).",
    ),
]
MaxFramesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-frames",
        min=1,
        max=64,
        help="Frames sent per video item, spread uniformly over its duration (default: 8; fewer when "
        "--max-item-tokens leaves no room).",
    ),
]
FrameSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--frame-size",
        min=64,
        max=4096,
        help="Longest side in pixels of each video frame sent, as JPEG (default: 768).",
    ),
]
MaxReasksOpt = Annotated[
    int | None,
    typer.Option("--max-reasks", min=0, help="Re-asks when an answer fails validation (default: 2)."),
]


#: Every flag that sets a ``LabelOptions`` field: the command parameter's name -> the field it sets
#: (``retry.NAME``: that field of the ``retry`` policy). Commands pass these flags to `label_options` by name;
#: tests/cli/test_option_flags.py checks both sides, so a renamed flag or field fails there, never silently.
OPTION_FIELDS: dict[str, str] = {
    # where and how to call the model
    "model": "model",
    "base_url": "base_url",
    "mode": "mode",
    # the prompt
    "template": "template",
    "rationale_language": "rationale_language",
    "mask": "mask",
    # the answer
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "max_reasks": "max_reasks",
    "samples": "samples",
    "logprobs": "logprobs",
    "prices": "prices",
    "max_cost": "max_cost",
    # how hard to try
    "timeout": "retry.timeout",
    "retry_budget": "retry.max_total",
    "max_attempts": "retry.max_attempts",
    # reading and batching items
    "concurrency": "concurrency",
    "rpm": "rpm",
    "tpm": "tpm",
    "max_items": "max_items",
    "id_col": "id_col",
    "text_col": "text_col",
    "max_item_tokens": "max_item_tokens",
    # media
    "media_root": "media_root",
    "allow_remote_media": "allow_remote_media",
    "max_frames": "max_frames",
    "frame_size": "frame_size",
}
RETRY = "retry."


def label_options(**flags: Any) -> prelabel.LabelOptions:
    """``LabelOptions`` from the flags given by name (``None``: not given), each set on its `OPTION_FIELDS`
    field; the ``retry.*`` ones make its ``retry`` policy. Bad values raise ``InputError`` (exit 2); a name
    that is not in `OPTION_FIELDS` is a programming error (``TypeError``)."""
    unknown = sorted(set(flags) - OPTION_FIELDS.keys())
    if unknown:
        raise TypeError(f"not a flag of OPTION_FIELDS: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    retry: dict[str, Any] = {}
    for flag, value in flags.items():
        field = OPTION_FIELDS[flag]
        if value is not None:
            target = retry if field.startswith(RETRY) else changes
            target[field.removeprefix(RETRY)] = value
    if retry:
        changes["retry"] = prelabel.RetryPolicy.with_defaults(**retry)
    return prelabel.LabelOptions.build(None, changes)
