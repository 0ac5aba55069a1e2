"""The batch job behind ``prelabel run``: items in; ``RUN_DIR/run.db``, ``labels.jsonl`` and ``run.json`` out.

Items stream in (one read); each result is committed to the ledger (``labeling.ledger``) as it arrives, and
``labels.jsonl`` — exactly one line per input item, in input order — is written from the ledger at the end
(also when the run stops early). Rerunning on the same RUN_DIR resumes. ``run.json`` records the SOP, endpoint
(never the key), template, prompt hash, counts, usage, cost and times. Memory does not grow with the run.

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

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from prelabel._aio import stop_on_signals, sync_twin
from prelabel._version import __version__
from prelabel.errors import BudgetError, OutputError, redact
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.budget import EXIT_BUDGET, check_estimate, run_cost
from prelabel.labeling.ledger import Ledger
from prelabel.labeling.mask_map import MaskMap, masking_record
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.progress import RunProgress
from prelabel.labeling.result import LabelResult, failed_exit_code
from prelabel.labeling.setup import now, open_ledger, start_run, unfinished
from prelabel.llm.endpoints import is_smoke_model, model_label
from prelabel.llm.usage import Usage
from prelabel.runs.restart import restarting
from prelabel.runs.run_dir import RunDir
from prelabel.runs.sources import recorded
from prelabel.sop.spec import SOP

__all__ = ["ResultSink", "RunSummary", "arun", "run"]


class ResultSink(Protocol):
    """Where a run can also stream its results (``run(..., sink=...)``: a queue, a database of your own):
    each ``LabelResult`` with its 0-based input position, in completion order."""

    def write(self, index: int, result: LabelResult) -> None:
        """Store one result."""

    def close(self) -> None:
        """Flush and release resources."""


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
    max_cost_usd: float | None = None
    """The spending limit of this invocation (``max_cost``), if any; ``cost_usd``: what the RUN_DIR spent."""
    budget_reached: bool = False
    """True when the spending limit stopped the run before every item was labeled (exit code 4)."""
    concurrency: int
    max_items: int | None
    temperature: float | None = None
    """The sampling temperature sent (0.7 when ``samples`` >= 2 and the options left it at 0)."""
    samples: int = 1
    """Answers per item (self-consistency); 1 without ``--samples``."""
    labeled_now: int = 0
    """Items sent to the model (or recorded as bad input) in this invocation."""
    resumed: int = 0
    """Items already finished in the ledger, not sent again."""
    changed: int = 0
    """Items whose finished result in the ledger was for another text (or image, language): sent again."""
    set_aside: int = 0
    """Items not in this input whose answers the ledger keeps (dropped from the input since): a later run
    with them takes those answers back without sending them."""
    started_at: str
    finished_at: str
    duration_s: float
    error: str | None = None
    smoke_model: bool = False
    """True when ``model`` is the bundled smoke model (``local``): its labels illustrate mechanics only."""
    model_note: str | None = None
    """What the model's labels are worth when that needs saying (the smoke model's note), else ``None``."""
    masking: dict[str, Any] | None = None
    """What was masked before sending (``labeling.mask_map.masking_record``: kinds, regions, the SOP's
    pattern names, items and occurrences per placeholder name, the mask map written); ``None`` when nothing
    is masked."""

    @property
    def model_label(self) -> str:
        """The model's name as shown beside results (the smoke model marked as such)."""
        return model_label(self.model)

    @property
    def exit_code(self) -> int:
        """``prelabel run``'s exit code: 4 when the spending limit stopped the run; else 0, or, when every
        item is an error (nothing labeled is not a success), 2 if they are all bad input (``invalid_item``)
        and 3 if the model answered none."""
        if self.budget_reached:
            return EXIT_BUDGET
        if not self.counts["total"] or self.counts["error"] != self.counts["total"]:
            return 0
        return failed_exit_code(self.errors_by_type)

    @property
    def failure(self) -> str | None:
        """Why `exit_code` is not 0 (``every item is an error (bad input)``), else ``None``."""
        if self.budget_reached:
            return self.error
        what = {2: "bad input", 3: "no answer from the model"}.get(self.exit_code)
        return None if what is None else f"every item is an error ({what})"


async def arun(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    out_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    progress: bool = False,
    restart: bool = False,
    retry_errors: bool = True,
    sink: Callable[[Path], ResultSink] | None = None,
    keep_mask_map: bool = False,
    **changes: Any,
) -> RunSummary:
    """Label every item into ``out_dir`` (async ``run``; see ``run``)."""
    opts = LabelOptions.build(options, changes)
    start = start_run(sop, items, opts, client)  # a missing or unreadable file fails here, before any output
    sop_obj, labeler, total = start.sop, start.labeler, start.total
    out = Path(out_dir)
    run_dir = RunDir(out)
    started_at, started = now(), time.perf_counter()
    # --restart sets the earlier run aside (put back if no answer comes); the ledger refuses another
    # SOP/model/template, a locked or read-only dir, an uncollected batch
    with (
        restarting(out, restart) as fresh,
        stop_on_signals() as stop,
        open_ledger(out, labeler) as ledger,
    ):
        spend = labeler.spend
        if spend is not None:  # what the RUN_DIR spent counts; the estimate of the rest is checked first
            spend.spent = run_cost(ledger, labeler) or 0.0
            check_estimate(items, labeler, ledger, spent=spend.spent, retry_errors=retry_errors)
        extra = sink(out) if sink is not None else None
        shown = RunProgress(total, cost=lambda u: labeler.prices.cost(labeler.model, u)) if progress else None
        session = {"labeled": 0, "resumed": 0, "changed": 0}
        digests: dict[int, str] = {}  # item digests of the items in flight
        read = {"count": 0}
        mask_map = MaskMap(labeler, keep_mask_map)
        written: dict[str, Path | None] = {"mask_map": None}

        def resumed(position: int) -> None:
            read["count"] = position + 1
            session["resumed"] += 1
            if shown is not None:
                shown.resumed()

        def changed(_: int) -> None:
            session["changed"] += 1

        def pending() -> Iterator[tuple[int, Item | BadItem]]:
            entries = mask_map.entries(start.entries)
            for position, entry, digest in unfinished(
                entries, ledger, retry_errors, resumed, changed, digest_of=labeler.digest
            ):
                read["count"] = position + 1
                digests[position] = digest
                yield position, entry

        def on_result(position: int, result: LabelResult) -> None:
            ledger.record(position, digests.pop(position), result)  # committed before we go on
            session["labeled"] += 1
            # an answer, or an error record that paid for tokens: the earlier run may go
            used = result.usage.prompt_tokens + result.usage.completion_tokens
            fresh.keep_new |= result.status != "error" or used > 0
            if extra is not None:
                extra.write(position, result)
            if shown is not None:
                shown.result(result)

        def summary(
            status: Literal["completed", "aborted"], error: str | None = None, budget_reached: bool = False
        ) -> RunSummary:
            totals = ledger.totals()
            usage = Usage(**totals["usage"])
            return RunSummary(
                status=status,
                prelabel_version=__version__,
                sop={
                    "id": sop_obj.id,
                    "version": sop_obj.version,
                    "sha256": sop_obj.sha256,
                    "path": recorded(start.sop_path),
                },
                model=labeler.model,
                endpoint=labeler.endpoint.describe(),
                template=opts.template,
                prompt_hash=labeler.prompt_hash,
                rationale_language=labeler.language,
                items_source=recorded(items) or f"<{type(items).__name__}>",
                counts=totals["counts"],
                errors_by_type=totals["errors_by_type"],
                usage=usage,
                cost_usd=run_cost(ledger, labeler),
                max_cost_usd=opts.max_cost,
                budget_reached=budget_reached,
                concurrency=opts.concurrency,
                max_items=opts.max_items,
                temperature=labeler.options.temperature,
                samples=labeler.samples,
                labeled_now=session["labeled"],
                resumed=session["resumed"],
                changed=session["changed"],
                set_aside=ledger.set_aside_items(),
                started_at=started_at,
                finished_at=now(),
                duration_s=round(time.perf_counter() - started, 3),
                error=error,
                smoke_model=is_smoke_model(labeler.model),
                model_note=labeler.endpoint.smoke_note,
                masking=masking_record(labeler.masking, *ledger.masked_counts(), written["mask_map"]),
            )

        def kept() -> str:
            counts = ledger.totals()["counts"]
            return f"{counts['total'] - counts['error']} finished items are kept in {run_dir.db}"

        def finish(
            status: Literal["completed", "aborted"], error: str | None = None, budget_reached: bool = False
        ) -> RunSummary:
            if shown is not None:
                shown.close(completed=status == "completed")
            if extra is not None:
                extra.close()
            try:  # each file whole or not at all (prelabel._jsonio); the ledger keeps every result
                run_dir.write_labels(ledger.results())
                written["mask_map"] = mask_map.write(run_dir)
                result = summary(status, error, budget_reached)
                run_dir.write_info(result.model_dump(mode="json"))
            except OutputError as exc:  # a full disk: run.json says so when it still fits
                with contextlib.suppress(OutputError):
                    run_dir.write_info(summary("aborted", str(exc)).model_dump(mode="json"))
                raise exc.kept(kept()) from None
            return result

        if fresh.recovered and shown is not None:
            killed = "a --restart killed before its first answer had set it aside"
            shown.note(f"{out}: the earlier run is back in place ({killed})")
        if shown is not None:  # the inputs, options and RUN_DIR are checked: what the run is worth, then go
            for line in labeler.endpoint.notes(labeler.options.logprobs):
                shown.note(line)
            if labeler.prices.price_for(labeler.model) is None:  # said once, not per item
                shown.note(
                    f"no price is known for {labeler.model}: no cost is computed (--prices FILE gives one)"
                )
        _say_resume(ledger, shown, retry_errors)
        try:  # SIGINT/SIGTERM cancel the labeling (stop.guard); what finished is written either way
            await stop.guard(labeler.alabel_entries(pending(), total=total, on_result=on_result))
        except BudgetError as exc:  # no new request went out; those in flight finished and are recorded
            left = "rerun with a higher --max-cost to label the rest (what was spent counts against it)"
            return finish("aborted", f"{_spent_line(exc, run_cost(ledger, labeler))}; {left}", True)
        except BaseException as exc:
            if stop.signal_name or isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
                how = f"stopped by {stop.signal_name}" if stop.signal_name else "interrupted"
                finish("aborted", f"{how}; finished results are kept, rerun the same command to resume")
                if stop.signal_name:  # the caller sees a signal as Ctrl-C, not as a cancelled task
                    raise KeyboardInterrupt(how) from None
                raise
            if isinstance(exc, OutputError):  # a full disk while recording a result
                finish("aborted", str(exc))  # raises its own OutputError if nothing more fits
                raise exc.kept(kept()) from None
            reason = redact(f"{type(exc).__name__}: {exc}", labeler.endpoint.api_key)  # no key on disk
            finish("aborted", reason)
            raise
        finally:
            if not stop.forced:  # a second signal: nothing more to wait for
                await labeler.aclose()
        try:  # the input got shorter since the last run: the tail's answers are set aside, not lost
            ledger.truncate(read["count"])
        except OutputError as exc:
            finish("aborted", str(exc))
            raise exc.kept(kept()) from None
        fresh.keep_new = True
        return finish("completed")


def _spent_line(stop: BudgetError, spent: float | None) -> str:
    """``budget reached: $S spent of the $L budget (--max-cost)``, with what the RUN_DIR spent in the end."""
    spent = stop.spent if spent is None else spent
    return f"budget reached: ${spent:.4f} spent of the ${stop.limit:.4f} budget (--max-cost)"


def _say_resume(ledger: Ledger, shown: RunProgress | None, retry_errors: bool) -> None:
    """On a rerun into a RUN_DIR holding results, say what happens to them (on the progress stream)."""
    totals = ledger.totals()
    counts, interrupted = totals["counts"], totals["errors_by_type"].get("interrupted", 0)
    if shown is None or not counts["total"]:
        return
    errors = f"{counts['error']} error items are retried"
    if not retry_errors:  # an item a stopping run cut off mid-flight is always sent again
        errors = f"{counts['error'] - interrupted} error items are kept as they are"
        errors += f", {interrupted} interrupted ones are sent again" if interrupted else ""
    shown.note(  # what becomes of each item is known once it is read: the run's summary says (RunSummary)
        f"resuming {ledger.run_dir}: its {RunDir.DB} holds {counts['total'] - counts['error']} finished "
        f"items; unchanged items are not sent again, {errors}; --restart starts fresh"
    )


run = sync_twin(
    arun,
    "run",
    """Label every item into ``out_dir``: ``labels.jsonl`` (one line per item, in input order), ``run.json``,
    and the ledger ``run.db``.

    ``options`` (a ``LabelOptions``) and keyword overrides of its fields say how; ``client`` injects an
    ``openai`` client. Running again on the same ``out_dir`` resumes: finished items are not sent again, error
    items are retried unless ``retry_errors=False``, changed items are labeled again; ``restart=True`` starts
    fresh. Personal data the SOP's ``privacy:`` section or ``mask`` names is masked in every item before it
    is sent; ``keep_mask_map=True`` writes what the placeholders replaced to ``RUN_DIR/mask_map.jsonl``
    (kept on this machine). ``progress`` shows progress on stderr. Returns the ``RunSummary`` written to
    ``run.json``. Raises
    ``InputError``/``SOPError`` for bad input (and a run directory made with other settings) and
    ``EndpointError`` for an unusable endpoint; bad and failed items become error records. For a dry run, call
    ``estimate`` (``labeling.dry_run``) with the same options.
    """,
)
