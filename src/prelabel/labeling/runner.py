"""The batch job behind ``prelabel run``: items in, ``RUN_DIR/labels.jsonl`` and ``RUN_DIR/run.json`` out.

``labels.jsonl`` has exactly one line per input item, in input order (bad rows become error records); results
stream into a ``ResultSink`` as they complete, so a later ledger (SQLite, resume) plugs in at that seam.
``run.json`` records the SOP, endpoint (never the key), template, prompt hash, counts, usage, cost and times.

    >>> from prelabel import bundled_sop_path, run
    >>> from prelabel.testing import FakeModel
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> summary = run(bundled_sop_path("customer_feedback_intent"), [{"id": "a", "text": "late parcel"}], out,
    ...               client=FakeModel().async_client(), concurrency=2)
    >>> summary.counts["ok"]
    1
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prelabel._aio import run_sync
from prelabel._jsonio import write_json
from prelabel._version import __version__
from prelabel.errors import InputError, ItemError
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem, read_items
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.result import LabelResult
from prelabel.labeling.sinks import LABELS_FILE, JsonlSink, ResultSink
from prelabel.llm.retry import redact
from prelabel.llm.usage import Usage, count_tokens
from prelabel.prompt.rendering import render_prompt
from prelabel.prompt.schema import response_model
from prelabel.sop.spec import SOP, load_sop

__all__ = ["Estimate", "RunSummary", "arun", "estimate", "run"]

RUN_FILE = "run.json"
#: Completion tokens assumed per item by dry runs (a short rationale plus the JSON answer).
ESTIMATED_COMPLETION_TOKENS = 120


class RunSummary(BaseModel):
    """What ``run.json`` records about a run."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["completed", "aborted"]
    prelabel_version: str
    sop: dict[str, Any]
    model: str
    endpoint: dict[str, Any]
    template: str
    prompt_hash: str
    rationale_language: str | None
    items_source: str
    counts: dict[str, int]
    errors_by_type: dict[str, int]
    usage: Usage
    cost_usd: float | None
    concurrency: int
    max_items: int | None
    started_at: str
    finished_at: str
    duration_s: float
    error: str | None = None


class Estimate(BaseModel):
    """A dry run's token and cost estimate (nothing is sent)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    items: int
    bad_items: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    note: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load(sop: SOP | str | Path) -> tuple[SOP, str | None]:
    return (sop, None) if isinstance(sop, SOP) else (load_sop(sop), str(sop))


def _source_name(items: Any) -> str:
    if isinstance(items, str | Path):
        return str(items)
    return f"<{type(items).__name__}>"


def _read(
    items: str | Path | Iterable[Any], opts: LabelOptions
) -> tuple[Iterator[Item | BadItem], int | None]:
    """The one read of the items (streamed), and their count when known without reading a file."""
    entries = read_items(items, id_col=opts.id_col, text_col=opts.text_col, max_items=opts.max_items)
    total = len(items) if isinstance(items, list | tuple) or hasattr(items, "columns") else None  # type: ignore[arg-type]
    if total is not None and opts.max_items is not None:
        total = min(total, opts.max_items)
    return entries, total


def estimate(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    options: LabelOptions | None = None,
    **changes: Any,
) -> Estimate:
    """Estimate prompt/completion tokens and cost offline (``bpe-openai``); sends nothing, needs no key.

    Takes the same options as ``run``; an image counts a fixed number of tokens and is not read.
    """
    opts = LabelOptions.build(options, changes)
    sop_obj, _ = _load(sop)
    endpoint = opts.endpoint()
    schema = json.dumps(response_model(sop_obj).model_json_schema(), ensure_ascii=False)
    schema_tokens = count_tokens([{"role": "system", "content": schema}], endpoint.model)
    good = bad = prompt_tokens = 0
    entries, _ = _read(items, opts)
    for entry in entries:
        if isinstance(entry, BadItem):
            bad += 1
            continue
        try:
            prompt = render_prompt(sop_obj, entry, opts.template, opts.rationale_language, embed_images=False)
        except ItemError:  # a bad template is the caller's error and propagates
            bad += 1
            continue
        good += 1
        prompt_tokens += count_tokens(prompt.messages, endpoint.model) + schema_tokens
    completion = good * ESTIMATED_COMPLETION_TOKENS
    cost = opts.price_table().cost(
        endpoint.model, Usage(prompt_tokens=prompt_tokens, completion_tokens=completion)
    )
    note = (
        f"completion tokens assume ~{ESTIMATED_COMPLETION_TOKENS} per item; cost assumes no prompt-cache "
        "hits and no retries (an upper bound for the prompt side)"
    )
    return Estimate(
        model=endpoint.model,
        items=good,
        bad_items=bad,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        cost_usd=cost,
        note=note,
    )


async def arun(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    out_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    progress: bool = False,
    sink: Callable[[Path], ResultSink] | None = None,
    **changes: Any,
) -> RunSummary:
    """Label every item into ``out_dir/labels.jsonl`` and ``out_dir/run.json`` (async ``run``)."""
    opts = LabelOptions.build(options, changes)
    sop_obj, sop_path = _load(sop)
    entries, total = _read(items, opts)  # a missing or unreadable file fails here, before any output
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    labeler = Labeler(sop_obj, opts, client=client)
    table = labeler.prices
    out.mkdir(parents=True, exist_ok=True)
    started_at, started = _now(), time.perf_counter()
    counts = {"total": 0, "ok": 0, "abstained": 0, "error": 0}
    errors: dict[str, int] = {}
    usage = Usage()
    results_sink = (sink or (lambda d: JsonlSink(d / LABELS_FILE)))(out)

    def on_result(index: int, result: LabelResult) -> None:
        nonlocal usage
        counts["total"] += 1
        counts[result.status] += 1
        if result.error is not None:
            errors[result.error.type] = errors.get(result.error.type, 0) + 1
        usage = usage + result.usage
        results_sink.write(index, result)

    def summary(status: Literal["completed", "aborted"], error: str | None = None) -> RunSummary:
        return RunSummary(
            status=status,
            prelabel_version=__version__,
            sop={"id": sop_obj.id, "version": sop_obj.version, "sha256": sop_obj.sha256, "path": sop_path},
            model=labeler.model,
            endpoint=labeler.endpoint.describe(),
            template=opts.template,
            prompt_hash=labeler.prompt_hash,
            rationale_language=labeler.language,
            items_source=_source_name(items),
            counts=dict(counts),
            errors_by_type=dict(sorted(errors.items())),
            usage=usage,
            cost_usd=table.cost(labeler.model, usage),
            concurrency=opts.concurrency,
            max_items=opts.max_items,
            started_at=started_at,
            finished_at=_now(),
            duration_s=round(time.perf_counter() - started, 3),
            error=error,
        )

    try:
        await labeler.alabel_entries(enumerate(entries), total=total, progress=progress, on_result=on_result)
    except BaseException as exc:
        results_sink.close()
        reason = redact(f"{type(exc).__name__}: {exc}", labeler.endpoint.api_key)  # keys never reach run.json
        _write_summary(out, summary("aborted", reason))
        raise
    finally:
        await labeler.aclose()
    results_sink.close()
    result = summary("completed")
    _write_summary(out, result)
    return result


def _write_summary(out: Path, summary: RunSummary) -> None:
    write_json(out / RUN_FILE, summary.model_dump(mode="json"))


def run(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    out_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    progress: bool = False,
    sink: Callable[[Path], ResultSink] | None = None,
    **changes: Any,
) -> RunSummary:
    """Label every item into ``out_dir``: ``labels.jsonl`` (one line per item, in input order), ``run.json``.

    ``options`` (a ``LabelOptions``) and keyword overrides of its fields say how; ``client`` injects an
    ``openai`` client. Returns the ``RunSummary`` written to ``run.json``. Raises ``InputError``/``SOPError``
    for bad input and ``EndpointError`` for an unusable endpoint; bad and failed items become error records.
    For a dry run, call ``estimate`` with the same options.
    """
    return run_sync(
        lambda: arun(sop, items, out_dir, options, client=client, progress=progress, sink=sink, **changes)
    )
