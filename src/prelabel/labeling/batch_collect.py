"""Batch API runs, the collecting half: poll a run's batches, then write their answers into the same ledger.

``batch_status`` polls. ``collect_batch`` downloads the output and error files,
validates each answer as an online answer is validated (an invalid one is an ``invalid_output`` record),
records usage (billed at the Batch price), and records lines that failed, expired or are missing from the
output as ``batch_failed`` / ``batch_expired`` / ``batch_missing`` error records; with ``fallback`` (the
default) those items are then sent online by the resumable runner (``arun``), which also writes
``labels.jsonl`` and ``run.json``. Each item has one ledger row, so no item gets two results, and
collecting again changes nothing. Both read how the batch was made from the ledger (the job recorded by
``labeling.batch_submit``), so RUN_DIR alone is enough.

    >>> import tempfile
    >>> from prelabel import bundled_sop_path, submit_batch
    >>> from prelabel.testing import FakeModel
    >>> client, out = FakeModel().async_client(), tempfile.mkdtemp()
    >>> items = [{"id": "a", "text": "late parcel"}, {"id": "b", "text": "broken mug"}]
    >>> submit_batch(bundled_sop_path("customer_feedback_intent"), items, out, client=client).requests
    2
    >>> collect_batch(out, items=items, client=client).summary.counts["ok"]
    2
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from prelabel._aio import sync_twin
from prelabel._jsonio import write_bytes
from prelabel.errors import InputError
from prelabel.labeling.batch_lines import BATCH_FAILURES, read_lines, result_of_line
from prelabel.labeling.batch_reconcile import reconcile
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.ledger import Ledger
from prelabel.labeling.ledger_batches import BatchRecord
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.runner import RunSummary, arun
from prelabel.labeling.setup import batch_api, load_sop_source, now, run_binding
from prelabel.llm.batch_api import BatchAPI, BatchState
from prelabel.llm.endpoints import public_url
from prelabel.llm.usage import PriceTable, Usage
from prelabel.runs.run_dir import RunDir
from prelabel.sop.spec import SOP

__all__ = [
    "BatchCollection",
    "BatchProgress",
    "BatchStatus",
    "abatch_status",
    "acollect_batch",
    "batch_status",
    "collect_batch",
]


class BatchProgress(BaseModel):
    """One batch as last seen: server status, request counts, and whether it was collected."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str
    status: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    collected: bool = False
    errors: list[str] = []


class BatchStatus(BaseModel):
    """The batches of a run directory (``batch_status``)."""

    model_config = ConfigDict(extra="forbid")

    run_dir: str
    batches: list[BatchProgress]
    notes: list[str] = []
    """Batches an earlier, stopped submission created without recording them, found or created now."""

    @property
    def ready(self) -> bool:
        """True when every batch has finished (completed, expired, cancelled or failed) or was collected."""
        return all(b.collected or BatchState(b.batch_id, b.status).finished for b in self.batches)


class BatchCollection(BaseModel):
    """What ``collect_batch`` did, and the run summary written to ``run.json``."""

    model_config = ConfigDict(extra="forbid")

    batches: list[BatchProgress]
    answered: int
    """Batch lines with an answer, recorded (valid or ``invalid_output``)."""
    failed: int
    """Batch lines that failed, expired or were missing from the output."""
    sent_online: int
    """Items sent online by the fallback."""
    summary: RunSummary
    notes: list[str] = []
    """Batches an earlier, stopped submission created without recording them, found or created now."""


def _job_options(job: dict[str, Any], options: LabelOptions | None, changes: dict[str, Any]) -> LabelOptions:
    stored = dict(job.get("options") or {})
    if job.get("prices"):
        stored["prices"] = PriceTable(job["prices"])
    if options is not None:
        stored.update({name: getattr(options, name) for name in options.model_fields_set})
    env_url = os.environ.get("OPENAI_BASE_URL")
    if env_url and stored.get("base_url") and public_url(env_url) == stored["base_url"]:
        stored["base_url"] = env_url  # its password, never written to the job, comes from the environment
    return LabelOptions.build(None, {**stored, **changes})


# ------------------------------------------------------------------------------------------------ status


def _stored_batches(out: Path) -> list[BatchRecord]:
    """The batches recorded in ``out``'s ledger; ``InputError`` when there are none."""
    hint = f"submit one with `prelabel run SOP ITEMS -o {out} --batch-api`"
    if not RunDir(out).db.is_file():
        raise InputError(f"{out}: no run here (no {RunDir.DB}); {hint}")
    with Ledger.open(out, None) as ledger:
        batches = ledger.batches()
    if not batches:
        raise InputError(f"{out}: this run has no Batch API batch; {hint}")
    return batches


def _progress(record: BatchRecord, state: BatchState | None = None) -> BatchProgress:
    if state is None:
        counts = record.request_counts or {}
        return BatchProgress.model_validate(
            {"batch_id": record.batch_id, "status": record.status, "collected": True, **counts}
        )
    return BatchProgress.model_validate(
        {"batch_id": state.batch_id, "status": state.status, "errors": list(state.errors), **state.counts}
    )


async def abatch_status(
    run_dir: str | Path, options: LabelOptions | None = None, *, client: Any = None, **changes: Any
) -> BatchStatus:
    """Poll the batches of ``run_dir`` (async ``batch_status``)."""
    out = Path(run_dir)
    records = _stored_batches(out)
    opts = _job_options(records[-1].job, options, changes)
    shown: list[BatchProgress] = []
    async with batch_api(client, opts.endpoint(), opts.retry) as api:
        with Ledger.open(out, None) as ledger:
            notes = await reconcile(api, ledger)  # a batch a stopped submission did not record
            for record in ledger.batches():
                if record.collected_at is not None:
                    shown.append(_progress(record))
                    continue
                state = await api.retrieve(record.batch_id)
                ledger.update_batch(record.batch_id, status=state.status, request_counts=state.counts)
                shown.append(_progress(record, state))
    return BatchStatus(run_dir=str(out), batches=shown, notes=notes)


# ------------------------------------------------------------------------------------------------ collect


async def acollect_batch(
    run_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    sop: SOP | str | Path | None = None,
    items: str | Path | Iterable[Any] | None = None,
    client: Any = None,
    fallback: bool = True,
    wait: bool = False,
    poll_interval: float = 60.0,
    progress: bool = False,
    **changes: Any,
) -> BatchCollection:
    """Collect the finished batches of ``run_dir`` into its ledger (async ``collect_batch``)."""
    out = Path(run_dir)
    records = _stored_batches(out)
    job = records[-1].job
    sop_source, items_source = sop or job.get("sop"), items if items is not None else job.get("items")
    if sop_source is None or items_source is None:
        raise InputError(
            f"{out}: the batch was submitted from Python objects; pass sop= and items= to collect it"
        )
    opts = _job_options(job, options, changes)
    labeler = Labeler(load_sop_source(sop_source)[0], opts, client=client)
    seen: list[BatchProgress] = []
    answered = failed = 0
    async with batch_api(client, labeler.endpoint, opts.retry) as api:
        with Ledger.open(out, run_binding(labeler)) as ledger:
            notes = await reconcile(api, ledger)  # a batch a stopped submission did not record
            for record in ledger.batches(collected=False):
                state = await api.retrieve(record.batch_id)
                while wait and not state.finished:
                    await asyncio.sleep(poll_interval)
                    state = await api.retrieve(record.batch_id)
                ledger.update_batch(record.batch_id, status=state.status, request_counts=state.counts)
                seen.append(_progress(record, state))
                if state.finished:
                    got, lost = await _collect_one(api, ledger, labeler, record, state)
                    answered, failed = answered + got, failed + lost
                    seen[-1].collected = True
            waiting = [b for b in seen if not b.collected]
            if waiting:
                first = waiting[0]
                raise InputError(
                    f"batch {first.batch_id} is {first.status} ({first.completed}/{first.total} done); "
                    f"run `prelabel batch status {out}` later, or collect with --wait"
                )
            if fallback:
                ledger.forget_errors(BATCH_FAILURES)  # the resumed run below sends these items online
    summary = await arun(
        sop_source, items_source, out, opts, client=client, retry_errors=False, progress=progress
    )
    return BatchCollection(
        batches=seen,
        answered=answered,
        failed=failed,
        sent_online=summary.labeled_now,
        summary=summary,
        notes=notes,
    )


async def _collect_one(
    api: BatchAPI, ledger: Ledger, labeler: Labeler, record: BatchRecord, state: BatchState
) -> tuple[int, int]:
    """Record every line of a finished batch (one result per position); (answered, failed) line counts."""
    files = {"output": state.output_file_id, "errors": state.error_file_id}
    lines: list[dict[str, Any]] = []
    for kind, file_id in files.items():
        if file_id:
            content = await api.download(file_id)
            write_bytes(RunDir(ledger.run_dir).batch_output(record.batch_id, kind), content)
            lines.extend(read_lines(content))
    slots = {str(p): (p, *entry) for p, entry in zip(record.positions, record.entries, strict=True)}
    usage, answered, failed = Usage(), 0, 0
    for line in lines:  # output lines first: a position answered there ignores any error line
        slot = slots.pop(str(line.get("custom_id")), None)
        if slot is None:
            continue
        position, item_id, digest, *masked = slot
        result = Labeler.with_masked(result_of_line(labeler, str(item_id), line), *masked)
        ledger.record(position, digest, result)
        if result.attempts:
            usage, answered = usage + result.usage, answered + 1
        else:
            failed += 1
    for position, item_id, digest, *_ in slots.values():  # no line at all: expired, failed, partial output
        kind = "batch_expired" if state.status == "expired" else "batch_missing"
        why = "; ".join(state.errors) or f"no line for it in the output of a {state.status} batch"
        result = labeler.error_result(item_id, kind, f"batch {record.batch_id}: {why}")
        ledger.record(position, digest, result)
        failed += 1
    ledger.update_batch(
        record.batch_id,
        output_file_id=state.output_file_id,
        error_file_id=state.error_file_id,
        usage=usage.model_dump(),
        collected_at=now(),
    )
    return answered, failed


batch_status = sync_twin(
    abatch_status,
    "batch_status",
    """Poll the Batch API batches of ``run_dir``: status and request counts (recorded in the ledger).

    Raises ``InputError`` when ``run_dir`` has no batch, ``EndpointError`` when the endpoint is unusable.
    """,
)


collect_batch = sync_twin(
    acollect_batch,
    "collect_batch",
    """Write the answers of ``run_dir``'s finished batches into its ledger, then labels.jsonl and run.json.

    Answers are validated as online answers are (invalid: ``invalid_output``); lines that failed, expired
    or are missing become ``batch_failed``/``batch_expired``/``batch_missing`` records and, with
    ``fallback``, are sent online by the resumable runner. ``sop``/``items`` default to the sources
    recorded at submission; ``wait`` polls every ``poll_interval`` s until the batches finish. Collecting
    again changes nothing. Raises ``InputError`` while a batch is still running.
    """,
)
