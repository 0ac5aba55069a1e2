"""Batch API runs, the submitting half: a run's pending items as OpenAI Batch API requests (half price).

``submit_batch`` writes ``RUN_DIR/batch/requests-NNN.jsonl`` — one line per item the ledger has not
finished, ``custom_id`` = the item's input position (unique, and the ledger's row key), ``body`` = exactly
the chat-completions request the online path sends first for that item (built by instructor's request
handler for the endpoint's mode) — uploads it, records the upload, creates the batch and records its id
in the ledger (batches of at most 50,000 requests; a batch a stopped submission did not record is found
again by ``labeling.batch_reconcile``), with the job (how the batch was made) so that it can be collected
from RUN_DIR alone. The same refusals as online runs apply (binding, lock), and while a batch is not
collected, online runs on the directory are refused (its items would be sent twice).

Polling and collecting are in ``labeling.batch_collect``; request files and output lines in
``labeling.batch_lines``; the Files/Batches calls in ``llm.batch_api``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from prelabel._aio import sync_twin
from prelabel.errors import InputError, ItemError
from prelabel.inputs.reading import BadItem
from prelabel.labeling.batch_lines import RequestFile
from prelabel.labeling.batch_reconcile import batch_metadata, reconcile
from prelabel.labeling.budget import check_estimate, run_cost
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.ledger import Ledger
from prelabel.labeling.ledger_batches import CREATING, BatchRecord, pending_batch_id
from prelabel.labeling.mask_map import MaskMap
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.result import LabelResult
from prelabel.labeling.setup import (
    batch_api,
    now,
    refuse_open_batches,
    run_binding,
    start_run,
    unfinished,
)
from prelabel.llm.batch_api import BATCH_ENDPOINT, MAX_BATCH_BYTES, MAX_BATCH_REQUESTS
from prelabel.llm.endpoints import public_url
from prelabel.prompt.masking import Masked
from prelabel.runs.restart import restarting
from prelabel.runs.run_dir import RunDir
from prelabel.runs.sources import recorded
from prelabel.sop.spec import SOP

__all__ = ["BatchSubmission", "asubmit_batch", "submit_batch"]


class BatchSubmission(BaseModel):
    """What ``submit_batch`` did: batches created, request lines sent, items finished or recorded at once."""

    model_config = ConfigDict(extra="forbid")

    run_dir: str
    batch_ids: list[str]
    requests: int
    request_files: list[str]
    finished: int = 0
    """Items already finished in the ledger, not submitted."""
    recorded: int = 0
    """Unusable items recorded as error records at once (as an online run records them)."""
    notes: list[str] = []
    """Batches an earlier, stopped submission created without recording them, found or created now."""


async def asubmit_batch(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    out_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    restart: bool = False,
    retry_errors: bool = True,
    keep_mask_map: bool = False,
    **changes: Any,
) -> BatchSubmission:
    """Submit the items of ``out_dir`` not finished yet as Batch API requests (async ``submit_batch``)."""
    opts = LabelOptions.build(options, changes)
    if (opts.samples or 1) > 1:
        raise InputError(
            f"--samples {opts.samples} does not work with the Batch API: label online (without --batch-api) "
            "to take several samples per item"
        )
    start = start_run(sop, items, opts, client)
    labeler = start.labeler
    if not (kind := labeler.endpoint.kind).batch_api:
        raise InputError(f"the Batch API needs an OpenAI(-compatible) server; {kind.title} has none")
    out = Path(out_dir)
    run_dir = RunDir(out)
    job = _job(labeler, opts, start.sop_path, items, retry_errors)
    done = BatchSubmission(run_dir=str(out), batch_ids=[], requests=0, request_files=[])
    # --restart sets the earlier run aside: deleted once a batch is created, put back if none could be
    with (
        restarting(out, restart) as fresh,
        Ledger.open(out, run_binding(labeler)) as ledger,
    ):
        if opts.max_cost is not None:  # the estimate at the Batch price, before anything is uploaded
            spent = run_cost(ledger, labeler) or 0.0
            check_estimate(items, labeler, ledger, spent=spent, retry_errors=retry_errors, batch=True)
        async with batch_api(client, labeler.endpoint, opts.retry) as api:
            done.notes = await reconcile(api, ledger)  # a batch a stopped submission did not record
            refuse_open_batches(ledger)
            run_dir.batch_dir.mkdir(exist_ok=True)
            number = len(ledger.batches())

            async def send(requests: RequestFile) -> None:
                nonlocal number
                number += 1
                path = requests.save(run_dir.request_file(number))
                file_id = await api.upload(requests.content(), path.name)
                # the intent first: a process stopped before the batch id is recorded leaves this row, from
                # which the next run, `batch status` or `batch collect` finds the batch (batch_reconcile)
                row = pending_batch_id(file_id)
                ledger.add_batch(
                    BatchRecord(
                        batch_id=row,
                        input_file_id=file_id,
                        status=CREATING,
                        created_at=now(),
                        positions=requests.positions,
                        entries=requests.entries,
                        job=job,
                    )
                )
                fresh.keep_new = True  # a batch may exist from now on: its answers go into this run
                state = await api.create(file_id, batch_metadata(ledger))
                ledger.name_batch(row, state.batch_id, state.status)
                done.batch_ids.append(state.batch_id)
                done.request_files.append(str(path))
                done.requests += len(requests.positions)

            def finished(_: int) -> None:
                done.finished += 1

            requests = RequestFile()
            mask_map = MaskMap(labeler, keep_mask_map)
            entries = mask_map.entries(start.entries)
            pending = unfinished(entries, ledger, retry_errors, finished, digest_of=labeler.digest)
            for position, entry, digest in pending:
                body, masked = _request_body(labeler, entry)
                if isinstance(body, LabelResult):  # an unusable item: recorded as online runs record it
                    ledger.record(position, digest, body)
                    done.recorded += 1
                    continue
                request = {"custom_id": str(position), "method": "POST", "url": BATCH_ENDPOINT, "body": body}
                line = json.dumps(request, ensure_ascii=False).encode("utf-8")
                if requests.positions and not requests.fits(line, MAX_BATCH_REQUESTS, MAX_BATCH_BYTES):
                    await send(requests)
                    requests = RequestFile()
                requests.add(position, getattr(entry, "id", None), digest, line, dict(masked.counts))
            if requests.positions:
                await send(requests)
            mask_map.write(run_dir)
            fresh.keep_new = True  # submitted (or nothing left to submit): the new run stands
    return done


def _request_body(labeler: Labeler, entry: Any) -> tuple[dict[str, Any] | LabelResult, Masked]:
    """The request body for an item (its personal data masked, and what was), or the error record of an
    unusable one (no request made)."""
    if isinstance(entry, BadItem):
        return labeler.error_result(entry.item_id, "invalid_item", entry.reason), Masked("")
    try:
        prompt = labeler.prompt_for(entry)
    except ItemError as exc:  # e.g. an unreadable image
        return labeler.error_result(exc.item_id or entry.id, "invalid_item", str(exc)), Masked("")
    return labeler.caller.request_body(prompt.messages), prompt.masked


def _job(
    labeler: Labeler, opts: LabelOptions, sop_path: str | None, items: Any, retry_errors: bool
) -> dict[str, Any]:
    """How the batch was made, so that it can be collected from RUN_DIR alone (never the API key, nor a
    password in the base URL: collecting takes it from ``OPENAI_BASE_URL`` or ``base_url=`` again)."""
    options = opts.model_dump(mode="json", exclude={"api_key", "retry", "prices"})
    url = labeler.endpoint.base_url
    options.update(model=labeler.model, base_url=None if url is None else public_url(url))
    price = opts.prices.price_for(labeler.model) if opts.prices is not None else None
    return {
        "sop": recorded(sop_path),
        "items": recorded(items),
        "options": options,
        "prices": None if price is None else {labeler.model: price.model_dump()},
        "retry_errors": retry_errors,
    }


submit_batch = sync_twin(
    asubmit_batch,
    "submit_batch",
    """Submit the items of ``out_dir`` not finished yet to the OpenAI Batch API (half price).

    Takes ``run``'s arguments (items are masked as ``run`` masks them: the request files hold masked text);
    writes ``RUN_DIR/batch/requests-NNN.jsonl`` (``custom_id`` = input position),
    uploads it, creates the batch and records it in the ledger. Then poll with ``batch_status`` and collect
    with ``collect_batch``. Raises ``InputError`` for bad input, a directory made with other settings, or
    one whose last batch is not collected; ``EndpointError`` for an unusable endpoint.
    """,
)
