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
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prelabel._aio import stop_on_signals, sync_twin
from prelabel._jsonio import write_json
from prelabel._version import __version__
from prelabel.errors import InputError, redact
from prelabel.inputs.digest import item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.labeler import Labeler, read_entries
from prelabel.labeling.ledger import Ledger
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.progress import RunProgress
from prelabel.labeling.restart import restarting
from prelabel.labeling.result import LabelResult
from prelabel.labeling.sinks import LABELS_FILE, RUN_FILE, ResultSink
from prelabel.llm.endpoints import is_smoke_model, model_label
from prelabel.llm.usage import Usage
from prelabel.sop.spec import SOP, load_sop

__all__ = ["RunSummary", "arun", "refuse_open_batches", "run", "run_binding"]


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
    temperature: float | None = None
    """The sampling temperature sent (0.7 when ``samples`` >= 2 and the options left it at 0)."""
    samples: int = 1
    """Answers per item (self-consistency); 1 without ``--samples``."""
    labeled_now: int = 0
    """Items sent to the model (or recorded as bad input) in this invocation."""
    resumed: int = 0
    """Items already finished in the ledger, not sent again."""
    started_at: str
    finished_at: str
    duration_s: float
    error: str | None = None
    smoke_model: bool = False
    """True when ``model`` is the bundled smoke model (``local``): its labels illustrate mechanics only."""
    model_note: str | None = None
    """What the model's labels are worth when that needs saying (the smoke model's note), else ``None``."""

    @property
    def model_label(self) -> str:
        """The model's name as shown beside results (the smoke model marked as such)."""
        return model_label(self.model)

    @property
    def exit_code(self) -> int:
        """``prelabel run``'s exit code: 0, or, when every item is an error (nothing labeled is not a
        success), 2 if they are all bad input (``invalid_item``) and 3 if the model answered none."""
        if not self.counts["total"] or self.counts["error"] != self.counts["total"]:
            return 0
        return 2 if set(self.errors_by_type) <= {"invalid_item"} else 3

    @property
    def failure(self) -> str | None:
        """Why `exit_code` is not 0 (``every item is an error (bad input)``), else ``None``."""
        what = {2: "bad input", 3: "no answer from the model"}.get(self.exit_code)
        return None if what is None else f"every item is an error ({what})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load(sop: SOP | str | Path) -> tuple[SOP, str | None]:
    return (sop, None) if isinstance(sop, SOP) else (load_sop(sop), str(sop))


def _source_name(items: Any) -> str:
    if isinstance(items, str | Path):
        return str(items)
    return f"<{type(items).__name__}>"


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
    **changes: Any,
) -> RunSummary:
    """Label every item into ``out_dir`` (async ``run``; see ``run``)."""
    opts = LabelOptions.build(options, changes)
    sop_obj, path = _load(sop)
    entries, total = read_entries(items, opts)  # a missing or unreadable file fails here, before any output
    labeler = Labeler(sop_obj, opts, client=client)
    out = Path(out_dir)
    started_at, started = _now(), time.perf_counter()
    # --restart sets the earlier run aside (put back if no answer comes); the ledger refuses another
    # SOP/model/template, a locked or read-only dir
    with (
        restarting(out, restart) as fresh,
        stop_on_signals() as stop,
        Ledger.open(out, run_binding(labeler)) as ledger,
    ):
        refuse_open_batches(ledger)
        extra = sink(out) if sink is not None else None
        shown = RunProgress(total, cost=lambda u: labeler.prices.cost(labeler.model, u)) if progress else None
        session = {"labeled": 0, "resumed": 0}
        digests: dict[int, str] = {}  # item digests of the items in flight
        read = {"count": 0}

        def pending() -> Iterator[tuple[int, Item | BadItem]]:
            for position, entry in enumerate(entries):
                read["count"] = position + 1
                digest = item_digest(entry)
                if ledger.is_finished(position, entry, digest, retry_errors):
                    session["resumed"] += 1
                    if shown is not None:
                        shown.resumed()
                    continue
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

        def summary(status: Literal["completed", "aborted"], error: str | None = None) -> RunSummary:
            totals = ledger.totals()
            usage = Usage(**totals["usage"])
            return RunSummary(
                status=status,
                prelabel_version=__version__,
                sop={"id": sop_obj.id, "version": sop_obj.version, "sha256": sop_obj.sha256, "path": path},
                model=labeler.model,
                endpoint=labeler.endpoint.describe(),
                template=opts.template,
                prompt_hash=labeler.prompt_hash,
                rationale_language=labeler.language,
                items_source=_source_name(items),
                counts=totals["counts"],
                errors_by_type=totals["errors_by_type"],
                usage=usage,
                cost_usd=labeler.prices.cost(labeler.model, usage, batch_usage=Usage(**ledger.batch_usage())),
                concurrency=opts.concurrency,
                max_items=opts.max_items,
                temperature=labeler.options.temperature,
                samples=labeler.samples,
                labeled_now=session["labeled"],
                resumed=session["resumed"],
                started_at=started_at,
                finished_at=_now(),
                duration_s=round(time.perf_counter() - started, 3),
                error=error,
                smoke_model=is_smoke_model(labeler.model),
                model_note=labeler.endpoint.smoke_note,
            )

        def finish(status: Literal["completed", "aborted"], error: str | None = None) -> RunSummary:
            if shown is not None:
                shown.close(completed=status == "completed")
            if extra is not None:
                extra.close()
            ledger.write_labels(out / LABELS_FILE)
            result = summary(status, error)
            write_json(out / RUN_FILE, result.model_dump(mode="json"))
            return result

        if fresh.recovered and shown is not None:
            killed = "a --restart killed before its first answer had set it aside"
            shown.note(f"{out}: the earlier run is back in place ({killed})")
        if shown is not None:  # the inputs, options and RUN_DIR are checked: what the run is worth, then go
            for line in labeler.endpoint.notes(labeler.options.logprobs):
                shown.note(line)
        _say_resume(ledger, shown, retry_errors)
        try:  # SIGINT/SIGTERM cancel the labeling (stop.guard); what finished is written either way
            await stop.guard(labeler.alabel_entries(pending(), total=total, on_result=on_result))
        except BaseException as exc:
            if stop.signal_name or isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
                how = f"stopped by {stop.signal_name}" if stop.signal_name else "interrupted"
                finish("aborted", f"{how}; finished results are kept, rerun the same command to resume")
                if stop.signal_name:  # the caller sees a signal as Ctrl-C, not as a cancelled task
                    raise KeyboardInterrupt(how) from None
                raise
            reason = redact(f"{type(exc).__name__}: {exc}", labeler.endpoint.api_key)  # no key on disk
            finish("aborted", reason)
            raise
        finally:
            await labeler.aclose()
        ledger.truncate(read["count"])  # the input got shorter since the last run: forget the tail
        fresh.keep_new = True
        return finish("completed")


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
    shown.note(
        f"resuming {ledger.run_dir}: {counts['total'] - counts['error']} finished items in its run.db are "
        f"kept and not sent again, {errors}; --restart starts fresh"
    )


def run_binding(labeler: Labeler) -> dict[str, Any]:
    """What a run directory's ledger is bound to: SOP, model, template, rationale language, prompt hash, the
    samples per item when above 1 and ``logprobs`` when asked (so ledgers made before these existed stay
    valid without them)."""
    binding: dict[str, Any] = {
        "sop_id": labeler.sop.id,
        "sop_sha256": labeler.sop.sha256,
        "model": labeler.model,
        "template": labeler.template,
        "rationale_language": labeler.language,
        "prompt_hash": labeler.prompt_hash,
    }
    if labeler.samples > 1:
        binding["samples"] = labeler.samples
    if labeler.options.logprobs:
        binding["logprobs"] = True
    return binding


def refuse_open_batches(ledger: Ledger) -> None:
    """Raise ``InputError`` while a Batch API batch of the run is not collected (its items would go twice)."""
    waiting = ledger.batches(collected=False)
    if waiting:
        raise InputError(
            f"{ledger.run_dir} has a Batch API batch not collected yet ({waiting[0].batch_id}); run "
            f"`prelabel batch collect {ledger.run_dir}` first (or --restart to drop it)"
        )


run = sync_twin(
    arun,
    "run",
    """Label every item into ``out_dir``: ``labels.jsonl`` (one line per item, in input order), ``run.json``,
    and the ledger ``run.db``.

    ``options`` (a ``LabelOptions``) and keyword overrides of its fields say how; ``client`` injects an
    ``openai`` client. Running again on the same ``out_dir`` resumes: finished items are not sent again, error
    items are retried unless ``retry_errors=False``, changed items are labeled again; ``restart=True`` starts
    fresh. ``progress`` shows progress on stderr. Returns the ``RunSummary`` written to ``run.json``. Raises
    ``InputError``/``SOPError`` for bad input (and a run directory made with other settings) and
    ``EndpointError`` for an unusable endpoint; bad and failed items become error records. For a dry run, call
    ``estimate`` (``labeling.dry_run``) with the same options.
    """,
)
