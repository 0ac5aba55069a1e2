"""``prelabel validate`` and ``prelabel render``: SOP files and the prompts they make."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel.cli.app import EXIT_BAD_INPUT, app, fail
from prelabel.cli.options import (
    FrameSizeOpt,
    LangOpt,
    MaskOpt,
    MaxFramesOpt,
    SopArg,
    TemplateOpt,
    label_options,
)

PANEL = "1. SOPs"


@app.command(rich_help_panel=PANEL)
def validate(
    sops: Annotated[list[Path], typer.Argument(help="SOP YAML files to validate.", show_default=False)],
) -> None:
    """Validate SOP files; print one FILE:LINE:COL: path: message line per problem (exit 2 if any)."""
    bad = False
    for path in sops:
        try:
            sop = prelabel.load_sop(path)
        except prelabel.SOPError as exc:
            bad = True
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
        else:
            typer.echo(f"{path}: ok ({sop.id} {sop.version}, {sop.size()})")
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command(rich_help_panel=PANEL)
def render(
    sop: SopArg,
    item: Annotated[
        str, typer.Option("--item", help='The item as JSON, e.g. \'{"id": "1", "text": "..."}\'.')
    ],
    template: TemplateOpt = None,
    rationale_language: LangOpt = None,
    max_frames: MaxFramesOpt = None,
    frame_size: FrameSizeOpt = None,
    mask: MaskOpt = None,
) -> None:
    """Print the chat messages (JSON) that would be sent for one item, its personal data masked as a run
    masks it (the SOP's privacy: section and --mask).

    Images and video frames are listed (what, where, time, size), not printed as base64: each image part's
    URL is replaced by one line describing it, and "media" lists them all."""
    loaded = prelabel.load_sop(sop)
    try:
        data = json.loads(item)
    except json.JSONDecodeError as exc:
        raise fail(f"--item is not valid JSON: {exc}", EXIT_BAD_INPUT) from None
    # --template '' renders with the default template (run refuses it: unknown template '')
    options = label_options(
        template=template or None, rationale_language=rationale_language, max_frames=max_frames,
        frame_size=frame_size, mask=mask,
    )  # fmt: skip
    prompt = prelabel.render_prompt(
        loaded,
        data,
        template=options.template,
        rationale_language=options.rationale_language,
        video=options.video_sampling(),
        mask=options.mask,
    )
    out: dict[str, object] = {
        "template": prompt.template,
        "prompt_hash": prompt.prompt_hash,
        "messages": prelabel.media_listed(prompt),
        "media": [dataclasses.asdict(part) for part in prompt.media],
    }
    if prompt.masked:  # what was replaced, never by what
        out["masked"] = prompt.masked.counts
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
