"""The ``prelabel`` command line: a thin layer over the public ``prelabel`` API.

Exit codes: 0 success, 1 test/check failures, 2 bad input (SOP, items, options), 3 endpoint unusable.
Errors print one line; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

import prelabel
from prelabel._jsonio import write_json
from prelabel.llm.caller import DEFAULT_MAX_TOKENS
from prelabel.llm.endpoints import resolve_endpoint
from prelabel.prompt.rendering import DEFAULT_TEMPLATE

app = typer.Typer(
    name="prelabel",
    help="LLM prelabeling driven by structured SOPs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILURES, EXIT_BAD_INPUT, EXIT_ENDPOINT = 1, 2, 3
_state = {"debug": False}


def _print_version(value: bool) -> None:
    if value:  # eager: runs before click asks for a command
        typer.echo(prelabel.__version__)
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """LLM prelabeling driven by structured SOPs."""
    _state["debug"] = debug


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
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
            counts = f"{len(sop.leaf_ids)} labels, {len(sop.tests)} tests"
            typer.echo(f"{path}: ok ({sop.id} {sop.version}, {counts})")
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def render(
    sop: Annotated[Path, typer.Argument(help="SOP YAML file.", show_default=False)],
    item: Annotated[
        str, typer.Option("--item", help='The item as JSON, e.g. \'{"id": "1", "text": "..."}\'.')
    ],
    template: Annotated[str, typer.Option(help="Prompt template name.")] = DEFAULT_TEMPLATE,
    rationale_language: Annotated[
        str | None, typer.Option("--rationale-language", help="Language the rationale is written in.")
    ] = None,
) -> None:
    """Print the chat messages (JSON) that would be sent for one item."""
    loaded = prelabel.load_sop(sop)
    try:
        data = json.loads(item)
    except json.JSONDecodeError as exc:
        raise _fail(f"--item is not valid JSON: {exc}", EXIT_BAD_INPUT) from None
    prompt = prelabel.render_prompt(loaded, data, template=template, rationale_language=rationale_language)
    out = {"template": prompt.template, "prompt_hash": prompt.prompt_hash, "messages": prompt.messages}
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


_ItemsArg = Annotated[Path, typer.Argument(help="Items: .jsonl, .json, .csv, .parquet.", show_default=False)]
_ModelOpt = Annotated[str | None, typer.Option(help="Model; 'local' or 'local:PATH.gguf': embedded model.")]
_BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL.")]
_LangOpt = Annotated[str | None, typer.Option("--rationale-language", help="Language of the rationales.")]
_PricesOpt = Annotated[Path | None, typer.Option("--prices", help="JSON/YAML price table (over built-ins).")]


@app.command()
def run(
    sop: Annotated[Path, typer.Argument(help="SOP YAML file.", show_default=False)],
    items: _ItemsArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory (labels.jsonl, run.json).")],
    model: _ModelOpt = None,
    base_url: _BaseUrlOpt = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="Instructor mode: tools, json_schema, json, md_json or json_object_schema"
            " (llama.cpp servers); default: chosen by backend."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Items labeled at once.")] = 8,
    max_items: Annotated[int | None, typer.Option("--max-items", min=1, help="Label the first N.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and cost only.")] = False,
    rationale_language: _LangOpt = None,
    id_col: Annotated[str, typer.Option("--id-col", help="Column holding the item id.")] = "id",
    text_col: Annotated[str, typer.Option("--text-col", help="Column holding the item text.")] = "text",
    prices: _PricesOpt = None,
    template: Annotated[str, typer.Option(help="Prompt template name.")] = DEFAULT_TEMPLATE,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Output tokens per answer.")
    ] = DEFAULT_MAX_TOKENS,
) -> None:
    """Label ITEMS under SOP into RUN_DIR/labels.jsonl (one line per item, in input order) and run.json."""
    if dry_run:
        guess = prelabel.estimate(
            sop, items, model=model, mode=mode, template=template, rationale_language=rationale_language,
            id_col=id_col, text_col=text_col, max_items=max_items, prices=prices,
        )  # fmt: skip
        cost = "unknown (no price for this model)" if guess.cost_usd is None else f"${guess.cost_usd:.4f}"
        typer.echo(
            f"dry run: {guess.items} items ({guess.bad_items} unusable), ~{guess.prompt_tokens} prompt + "
            f"~{guess.completion_tokens} completion tokens on {guess.model}; estimated cost {cost}"
        )
        typer.echo(f"note: {guess.note}; nothing was sent")
        return
    if resolve_endpoint(model=model).model == "local":  # the bundled smoke model (--model or PRELABEL_MODEL)
        from prelabel.llm.local.model import SMOKE_MODEL_NOTE

        typer.echo(f"note: {SMOKE_MODEL_NOTE}", err=True)
    summary = prelabel.run(
        sop, items, out, model=model, base_url=base_url, mode=mode, concurrency=concurrency,
        max_items=max_items, rationale_language=rationale_language, id_col=id_col, text_col=text_col,
        prices=prices, template=template, max_tokens=max_tokens, progress=sys.stderr.isatty(),
    )  # fmt: skip
    assert isinstance(summary, prelabel.RunSummary)
    n, usage = summary.counts, summary.usage
    cost = "" if summary.cost_usd is None else f", cost ${summary.cost_usd:.4f}"
    typer.echo(
        f"labeled {n['total']} items with {summary.model}: {n['ok']} ok, {n['abstained']} abstained, "
        f"{n['error']} errors; {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens "
        f"({usage.cached_tokens} cached){cost} -> {out / 'labels.jsonl'}"
    )
    if summary.errors_by_type:
        kinds = ", ".join(f"{kind}: {count}" for kind, count in summary.errors_by_type.items())
        typer.echo(f"errors by type: {kinds} (see the error field in labels.jsonl)", err=True)


_HumansArg = Annotated[Path, typer.Argument(help="Human labels CSV (long or --wide).", show_default=False)]
_WideOpt = Annotated[bool, typer.Option("--wide", help="Wide form: item_id + one column per annotator.")]
_SliceOpt = Annotated[list[str] | None, typer.Option("--slice", help="Slice column (repeatable).")]
_SopOpt = Annotated[Path | None, typer.Option("--sop", help="SOP YAML: check labels, roll up, quote it.")]


@app.command()
def agreement(
    humans: _HumansArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Report directory (metrics.json).")],
    wide: _WideOpt = False,
    sop: _SopOpt = None,
    slice_columns: _SliceOpt = None,
) -> None:
    """Agreement among human annotators only: DIR/metrics.json (Fleiss' kappa, Krippendorff's alpha, ...)."""
    loaded = prelabel.load_sop(sop) if sop else None
    metrics = prelabel.agreement(humans, wide=wide, sop=loaded, slices=slice_columns)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    figures = ", ".join(
        f"{key} {'n/a' if metrics[key] is None else format(metrics[key], '.3f')}"
        for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha")
    )
    typer.echo(f"{metrics['n_items']} items, {metrics['n_annotators']} annotators: {figures}")
    for note in metrics["notes"]:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {out / 'metrics.json'}")


@app.command()
def compare(
    results: Annotated[Path, typer.Argument(help="RUN_DIR or labels.jsonl.", show_default=False)],
    humans: _HumansArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Report directory.")],
    wide: _WideOpt = False,
    sop: _SopOpt = None,
    slice_columns: _SliceOpt = None,
    confident: Annotated[float, typer.Option(min=0, max=1, help="Certainty a model answer needs.")] = 0.7,
    draft_edits: Annotated[
        bool, typer.Option("--draft-edits", help="Ask the model to draft edge_cases for the top clusters.")
    ] = False,
    top: Annotated[int, typer.Option(min=1, help="Clusters to draft edge cases for.")] = 3,
    model: _ModelOpt = None,
    base_url: _BaseUrlOpt = None,
) -> None:
    """Compare model labels with human labels: metrics.json, disagreements.csv, ambiguity_candidates.csv,
    report.html (and draft_edge_cases.yaml with --draft-edits)."""
    loaded = prelabel.load_sop(sop) if sop else None
    if draft_edits and loaded is None:
        raise _fail("--draft-edits needs --sop (the drafts quote and follow the SOP)", EXIT_BAD_INPUT)
    result = prelabel.compare(
        results, humans, sop=loaded, wide=wide, slices=slice_columns, confident=confident
    )
    paths = list(result.save(out).values())
    if draft_edits and loaded is not None:
        drafts = prelabel.draft_edge_cases(result.candidates, loaded, model=model, base_url=base_url, top=top)
        target = out / "draft_edge_cases.yaml"
        paths.append(prelabel.write_draft_edge_cases(drafts, target, loaded, model or ""))
    typer.echo(result.to_markdown())
    typer.echo("wrote " + ", ".join(str(p) for p in paths))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory.")] = Path("prelabel-demo"),
    model: _ModelOpt = None,
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


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map prelabel errors to one line and an exit code."""
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except prelabel.PrelabelError as exc:
        if _state["debug"]:
            raise
        lines = [str(p) for p in exc.problems] if isinstance(exc, prelabel.SOPError) else [f"error: {exc}"]
        for line in lines:
            typer.echo(line, err=True)
        sys.exit(EXIT_ENDPOINT if isinstance(exc, prelabel.EndpointError) else EXIT_BAD_INPUT)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected
        # typer >= 0.20 vendors click as typer._click: its usage errors are TyperExceptions with .show()
        if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(EXIT_BAD_INPUT)
        if _state["debug"]:
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for a traceback)", err=True)
        sys.exit(EXIT_FAILURES)
    sys.exit(code if isinstance(code, int) else 0)
