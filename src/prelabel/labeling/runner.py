"""The batch job behind ``prelabel run``: items in, ``RUN_DIR/labels.jsonl`` and ``RUN_DIR/run.json`` out.

``labels.jsonl`` has exactly one line per input item, in input order (bad rows become error records); results
stream into a ``ResultSink`` as they complete, so a later ledger (SQLite, resume) plugs in at that seam.
``run.json`` records the SOP, endpoint (never the key), template, prompt hash, counts, usage, cost and times.

    >>> from prelabel import bundled_sop_path, run
    >>> from prelabel.testing import FakeModel
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> summary = run(bundled_sop_path("customer_feedback_intent"), [{"id": "a", "text": "late parcel"}], out,
    ...               client=FakeModel().async_client())
    >>> summary.counts["ok"]
    1
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import instructor
from pydantic import BaseModel, ConfigDict

from prelabel._aio import run_sync
from prelabel._jsonio import write_json
from prelabel._version import __version__
from prelabel.errors import InputError, ItemError
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem, read_items
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.result import LabelResult
from prelabel.labeling.sinks import LABELS_FILE, JsonlSink, ResultSink
from prelabel.llm.caller import DEFAULT_MAX_TOKENS
from prelabel.llm.endpoints import resolve_endpoint
from prelabel.llm.retry import RetryPolicy, redact
from prelabel.llm.usage import PriceTable, Usage, count_tokens
from prelabel.prompt.rendering import DEFAULT_TEMPLATE, render_prompt
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


def _prices(prices: PriceTable | str | Path | None) -> PriceTable:
    if prices is None:
        return PriceTable()
    return prices if isinstance(prices, PriceTable) else PriceTable.from_file(prices)


def _source_name(items: Any) -> str:
    if isinstance(items, str | Path):
        return str(items)
    return f"<{type(items).__name__}>"


def estimate(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    *,
    model: str | None = None,
    mode: str | instructor.Mode | None = None,
    template: str = DEFAULT_TEMPLATE,
    rationale_language: str | None = None,
    id_col: str = "id",
    text_col: str = "text",
    max_items: int | None = None,
    prices: PriceTable | str | Path | None = None,
) -> Estimate:
    """Estimate prompt/completion tokens and cost offline (``bpe-openai``); sends nothing, needs no key."""
    sop_obj, _ = _load(sop)
    endpoint = resolve_endpoint(model=model, mode=mode)
    schema = json.dumps(response_model(sop_obj).model_json_schema(), ensure_ascii=False)
    schema_tokens = count_tokens([{"role": "system", "content": schema}], endpoint.model)
    good = bad = prompt_tokens = 0
    for entry in read_items(items, id_col=id_col, text_col=text_col, max_items=max_items):
        if isinstance(entry, BadItem):
            bad += 1
            continue
        try:
            messages = render_prompt(sop_obj, entry, template, rationale_language).messages
        except ItemError:  # e.g. an unreadable image; a bad template is the caller's error and propagates
            bad += 1
            continue
        good += 1
        prompt_tokens += count_tokens(messages, endpoint.model) + schema_tokens
    completion = good * ESTIMATED_COMPLETION_TOKENS
    cost = _prices(prices).cost(
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
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    mode: str | instructor.Mode | None = None,
    client: Any = None,
    concurrency: int = 8,
    max_items: int | None = None,
    rationale_language: str | None = None,
    template: str = DEFAULT_TEMPLATE,
    id_col: str = "id",
    text_col: str = "text",
    prices: PriceTable | str | Path | None = None,
    retry: RetryPolicy | None = None,
    max_reasks: int = 2,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    progress: bool = False,
    sink: Callable[[Path], ResultSink] | None = None,
) -> RunSummary:
    """Label every item into ``out_dir/labels.jsonl`` and ``out_dir/run.json`` (async ``run``)."""
    sop_obj, sop_path = _load(sop)
    table = _prices(prices)
    entries: Iterable[Item | BadItem] = read_items(
        items, id_col=id_col, text_col=text_col, max_items=max_items
    )
    if isinstance(items, list | tuple) or hasattr(items, "columns"):
        entries = list(entries)  # sized: the progress bar shows a total
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    labeler = Labeler(
        sop_obj,
        model=model,
        base_url=base_url,
        api_key=api_key,
        client=client,
        mode=mode,
        max_reasks=max_reasks,
        retry=retry,
        rationale_language=rationale_language,
        template=template,
        prices=table,
        max_tokens=max_tokens,
    )
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
            template=template,
            prompt_hash=labeler.prompt_hash,
            rationale_language=labeler.language,
            items_source=_source_name(items),
            counts=dict(counts),
            errors_by_type=dict(sorted(errors.items())),
            usage=usage,
            cost_usd=table.cost(labeler.model, usage),
            concurrency=concurrency,
            max_items=max_items,
            started_at=started_at,
            finished_at=_now(),
            duration_s=round(time.perf_counter() - started, 3),
            error=error,
        )

    try:
        await labeler.alabel_many(entries, concurrency=concurrency, progress=progress, on_result=on_result)
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
    *,
    dry_run: bool = False,
    **options: Any,
) -> RunSummary | Estimate:
    """Label every item into ``out_dir`` (see ``arun`` for options); ``dry_run=True`` returns an ``Estimate``.

    Returns the ``RunSummary`` written to ``run.json``. Raises ``InputError``/``SOPError`` for bad input and
    ``EndpointError`` for an unusable endpoint; bad items and failed items become error records instead.
    """
    if dry_run:
        keep = (
            "model",
            "mode",
            "template",
            "rationale_language",
            "id_col",
            "text_col",
            "max_items",
            "prices",
        )
        return estimate(sop, items, **{k: v for k, v in options.items() if k in keep})
    return run_sync(lambda: arun(sop, items, out_dir, **options))
