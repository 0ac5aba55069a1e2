"""``prelabel run``: label items into a run directory, or estimate tokens and cost with ``--dry-run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel._gc import started
from prelabel.cli import batch_commands
from prelabel.cli.app import EXIT_INTERRUPTED, app, fail, stopping
from prelabel.cli.options import (
    AllowRemoteMediaOpt,
    BaseUrlOpt,
    FrameSizeOpt,
    LangOpt,
    MaskOpt,
    MaxAttemptsOpt,
    MaxFramesOpt,
    MaxReasksOpt,
    MediaRootOpt,
    ModelOpt,
    RetryBudgetOpt,
    SopArg,
    TemplateOpt,
    TimeoutOpt,
    label_options,
)

PANEL = "2. Label"

ItemsArg = Annotated[Path, typer.Argument(help="Items: .jsonl, .json, .csv, .parquet.", show_default=False)]
PricesOpt = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help="JSON/YAML file of prices, USD per 1M tokens ({model: {input, output, cached_input, "
        "cache_write, batch}}), over genai-prices' bundled ones.",
    ),
]
MaxCostOpt = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        help="Hard budget in USD for RUN_DIR: refused (exit 2) when the dry-run estimate of the items left "
        "is over it; the run stops before a request could cross it (exit 4), keeps every answer, and a "
        "rerun with a higher --max-cost resumes (what was spent counts).",
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        help="Instructor mode: tools, json_schema, json, md_json or json_object_schema"
        " (llama.cpp servers); default: chosen by backend."
    ),
]


@app.command(rich_help_panel=PANEL)
def run(
    sop: SopArg,
    items: ItemsArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory (labels.jsonl, run.json).")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Items labeled at once (default: 8).")
    ] = None,
    rpm: Annotated[
        int | None, typer.Option("--rpm", min=1, help="Requests per minute (default: no limit).")
    ] = None,
    tpm: Annotated[
        int | None, typer.Option("--tpm", min=1, help="Tokens per minute (default: no limit).")
    ] = None,
    max_items: Annotated[int | None, typer.Option("--max-items", min=1, help="Label the first N.")] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            min=1,
            help="Answers per item (self-consistency): K >= 2 labels each item with the majority of K "
            "sampled answers (temperature > 0) and records their distribution in labels.jsonl.",
        ),
    ] = None,
    logprobs: Annotated[
        bool,
        typer.Option(
            "--logprobs",
            help="Ask for token log-probabilities and store the label's probability (label_prob) on each "
            "line, where the endpoint returns them (JSON modes, not tools).",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and cost only.")] = False,
    rationale_language: LangOpt = None,
    id_col: Annotated[
        str | None, typer.Option("--id-col", help="Column holding the item id (default: id).")
    ] = None,
    text_col: Annotated[
        str | None, typer.Option("--text-col", help="Item text column (default: text).")
    ] = None,
    max_item_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-item-tokens",
            min=1,
            help="Items whose text is over this many tokens become error records, never sent "
            "(default: 100000); a video item sends fewer frames to fit.",
        ),
    ] = None,
    media_root: MediaRootOpt = None,
    allow_remote_media: AllowRemoteMediaOpt = False,
    max_frames: MaxFramesOpt = None,
    frame_size: FrameSizeOpt = None,
    prices: PricesOpt = None,
    max_cost: MaxCostOpt = None,
    template: TemplateOpt = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Output tokens per answer (default: 1024).")
    ] = None,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Start fresh: the earlier results go once the new run has an answer."),
    ] = False,
    timeout: TimeoutOpt = None,
    retry_budget: RetryBudgetOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    max_reasks: MaxReasksOpt = None,
    no_retry_errors: Annotated[
        bool, typer.Option("--no-retry-errors", help="On a rerun, keep error items as they are.")
    ] = False,
    batch_api: Annotated[
        bool,
        typer.Option("--batch-api", help="Use the OpenAI Batch API (half price; see `prelabel batch`)."),
    ] = False,
    mask: MaskOpt = None,
    keep_mask_map: Annotated[
        bool,
        typer.Option(
            "--keep-mask-map",
            help="Write what each placeholder replaced to RUN_DIR/mask_map.jsonl (kept on this machine; "
            "by default the mapping is never written).",
        ),
    ] = False,
) -> None:
    """Label ITEMS under SOP into RUN_DIR/labels.jsonl (one line per item, in input order) and run.json.

    Rerunning the same command resumes from RUN_DIR/run.db: finished items are not sent again."""
    options = label_options(
        model=model, base_url=base_url, mode=mode, template=template, rationale_language=rationale_language,
        max_tokens=max_tokens, max_reasks=max_reasks, samples=samples, logprobs=logprobs, prices=prices,
        max_cost=max_cost,
        timeout=timeout, retry_budget=retry_budget, max_attempts=max_attempts,
        concurrency=concurrency, rpm=rpm, tpm=tpm, max_items=max_items, id_col=id_col, text_col=text_col,
        max_item_tokens=max_item_tokens, media_root=media_root, allow_remote_media=allow_remote_media,
        max_frames=max_frames, frame_size=frame_size, mask=mask,
    )  # fmt: skip
    if dry_run or batch_api:  # no request goes out at once: start-up is over (prelabel._gc)
        started()
    if dry_run:
        guess = prelabel.estimate(sop, items, options)
        cost = "unknown (no price for this model)" if guess.cost_usd is None else f"${guess.cost_usd:.4f}"
        if guess.cost_usd is not None and max_cost is not None:
            cost += f" ({'over' if guess.cost_usd > max_cost else 'within'} the ${max_cost:.4f} --max-cost)"
        typer.echo(
            f"dry run: {guess.items} items to label, {guess.bad_items} unusable; ~{guess.prompt_tokens} "
            f"prompt + ~{guess.completion_tokens} completion tokens on {guess.model}; estimated cost {cost}"
        )
        typer.echo(f"note: {guess.note}; nothing was sent")
        if guess.image_tokens:
            typer.echo(f"note: ~{guess.image_tokens} of the prompt tokens are images and video frames")
        if guess.too_large:
            limit = options.max_item_tokens
            typer.echo(
                f"note: {guess.too_large} unusable items are over --max-item-tokens ({limit})", err=True
            )
        if guess.exit_code:  # as a run would: every item an error is not a success
            raise fail(str(guess.failure), guess.exit_code)
        return
    if batch_api:
        flags = {"restart": restart, "retry_errors": not no_retry_errors, "keep_mask_map": keep_mask_map}
        done = prelabel.submit_batch(sop, items, out, options, **flags)
        for line in done.notes:
            typer.echo(f"note: {line}", err=True)
        for line in options.endpoint().notes(options.logprobs):  # after the inputs were checked
            typer.echo(line, err=True)
        typer.echo(batch_commands.submitted_line(done))
        return
    # the run prints the endpoint's notes (smoke model, --logprobs in tools mode) once the inputs are checked
    try:
        summary = prelabel.run(
            sop, items, out, options, progress=True, restart=restart, retry_errors=not no_retry_errors,
            keep_mask_map=keep_mask_map,
        )  # fmt: skip
    except KeyboardInterrupt as stopped:  # "stopped by SIGTERM": run.json says so too
        stopping()  # the run is over: a further signal must not cut the exit short
        kept = f"finished results are kept in {out} (rerun the same command to resume)"
        raise fail(f"{str(stopped) or 'interrupted'}; {kept}", EXIT_INTERRUPTED) from None
    n, usage = summary.counts, summary.usage
    cost = "" if summary.cost_usd is None else f", cost ${summary.cost_usd:.4f}"
    earlier = [f"{summary.resumed} already done, not sent again"] if summary.resumed else []
    if summary.changed:
        earlier.append(f"{summary.changed} changed since, sent again")
    resumed = f" ({'; '.join(earlier)})" if earlier else ""
    typer.echo(
        f"labeled {n['total']} items{resumed} with {summary.model_label}: {n['ok']} ok, "
        f"{n['abstained']} abstained, "
        f"{n['error']} errors; {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens "
        f"({usage.cached_tokens} cached){cost} -> {prelabel.RunDir(out).labels}"
    )
    if summary.model_note:
        typer.echo(f"note: {summary.model_note}")
    masked = summary.masking or {}
    if masked.get("items"):
        shown = ", ".join(f"{n} {name}" for name, n in masked["counts"].items())
        typer.echo(f"masked before sending: {shown} (in {masked['items']} items)")
    if masked.get("mask_map"):
        typer.echo(
            f"note: {masked['mask_map']} maps the placeholders back: keep it on this machine", err=True
        )
    if summary.set_aside:
        typer.echo(
            f"note: {prelabel.RunDir(out).db} also keeps the answers of {summary.set_aside} items that are "
            f"not in {items}; a later run with them takes them back without sending them",
            err=True,
        )
    if summary.errors_by_type:
        kinds = ", ".join(f"{kind}: {count}" for kind, count in summary.errors_by_type.items())
        typer.echo(f"errors by type: {kinds} (see the error field in {prelabel.RunDir.LABELS})", err=True)
    if summary.budget_reached:  # stopped before a request could cross --max-cost: every answer is kept
        raise fail(str(summary.failure), summary.exit_code)
    if summary.exit_code:  # nothing labeled is not a success
        labels = prelabel.RunDir(out).labels
        raise fail(f"{summary.failure}; see the error field in {labels}", summary.exit_code)
