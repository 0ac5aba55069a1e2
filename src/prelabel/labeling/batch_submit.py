"""Batch API runs, the submitting half: a run's pending items as OpenAI Batch API requests (half price).

``submit_batch`` writes ``RUN_DIR/batch/requests-NNN.jsonl`` — one line per item the ledger has not
finished, ``custom_id`` = the item's input position (unique, and the ledger's row key), ``body`` = exactly
the chat-completions request the online path sends first for that item (built by instructor's request
handler for the endpoint's mode) — uploads it, creates the batch and records its id in the ledger (batches
of at most 50,000 requests), with the job (how the batch was made) so that it can be collected from
RUN_DIR alone. The same refusals as online runs apply (binding, lock), and while a batch is not collected,
online runs on the directory are refused (its items would be sent twice).

Polling and collecting are in ``labeling.batch_collect``; request files and output lines in
``labeling.batch_lines``; the Files/Batches calls in ``llm.batch_api``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from prelabel._aio import sync_twin
from prelabel.errors import InputError, ItemError
from prelabel.inputs.reading import BadItem
from prelabel.labeling.batch_lines import RequestFile
from prelabel.labeling.labeler import Labeler, read_entries
from prelabel.labeling.ledger import Ledger, input_hash
from prelabel.labeling.ledger_batches import BatchRecord
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.restart import restarting
from prelabel.labeling.result import LabelResult
from prelabel.labeling.runner import _load, _now, refuse_open_batches, run_binding
from prelabel.llm.batch_api import BATCH_ENDPOINT, MAX_BATCH_BYTES, MAX_BATCH_REQUESTS, BatchAPI
from prelabel.llm.clients import make_client
from prelabel.llm.endpoints import Endpoint, public_url
from prelabel.llm.retry import RetryPolicy
from prelabel.prompt.rendering import render_prompt
from prelabel.sop.spec import SOP

__all__ = ["BatchSubmission", "asubmit_batch", "submit_batch"]

BATCH_DIR = "batch"


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


async def asubmit_batch(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    out_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    restart: bool = False,
    retry_errors: bool = True,
    **changes: Any,
) -> BatchSubmission:
    """Submit the items of ``out_dir`` not finished yet as Batch API requests (async ``submit_batch``)."""
    opts = LabelOptions.build(options, changes)
    if (opts.samples or 1) > 1:
        raise InputError(
            f"--samples {opts.samples} does not work with the Batch API: label online (without --batch-api) "
            "to take several samples per item"
        )
    sop_obj, sop_path = _load(sop)
    entries, _ = read_entries(items, opts)
    labeler = Labeler(sop_obj, opts, client=client)
    if not (kind := labeler.endpoint.kind).batch_api:
        raise InputError(f"the Batch API needs an OpenAI(-compatible) server; {kind.title} has none")
    out = Path(out_dir)
    job = _job(labeler, opts, sop_path, items, retry_errors)
    done = BatchSubmission(run_dir=str(out), batch_ids=[], requests=0, request_files=[])
    # --restart sets the earlier run aside: deleted once a batch is created, put back if none could be
    with restarting(out, restart) as fresh, Ledger.open(out, run_binding(labeler)) as ledger:
        refuse_open_batches(ledger)
        (out / BATCH_DIR).mkdir(exist_ok=True)
        number = len(ledger.batches())
        async with _batch_api(client, labeler.endpoint, opts.retry) as api:

            async def send(requests: RequestFile) -> None:
                nonlocal number
                number += 1
                path = requests.save(out / BATCH_DIR / f"requests-{number:03d}.jsonl")
                state = await api.submit(requests.content(), path.name, {"prelabel_run": out.name[:64]})
                ledger.add_batch(
                    BatchRecord(
                        batch_id=state.batch_id,
                        input_file_id=state.input_file_id,
                        status=state.status,
                        created_at=_now(),
                        positions=requests.positions,
                        entries=requests.entries,
                        job=job,
                    )
                )
                fresh.keep_new = True  # a batch exists now: its answers will be collected into this run
                done.batch_ids.append(state.batch_id)
                done.request_files.append(str(path))
                done.requests += len(requests.positions)

            requests = RequestFile()
            for position, entry in enumerate(entries):
                digest = input_hash(entry)
                if ledger.is_finished(position, digest, retry_errors):
                    done.finished += 1
                    continue
                body = _request_body(labeler, entry)
                if isinstance(body, LabelResult):  # an unusable item: recorded as online runs record it
                    ledger.record(position, digest, body)
                    done.recorded += 1
                    continue
                request = {"custom_id": str(position), "method": "POST", "url": BATCH_ENDPOINT, "body": body}
                line = json.dumps(request, ensure_ascii=False).encode("utf-8")
                if requests.positions and not requests.fits(line, MAX_BATCH_REQUESTS, MAX_BATCH_BYTES):
                    await send(requests)
                    requests = RequestFile()
                requests.add(position, getattr(entry, "id", None), digest, line)
            if requests.positions:
                await send(requests)
            fresh.keep_new = True  # submitted (or nothing left to submit): the new run stands
    return done


def _request_body(labeler: Labeler, entry: Any) -> dict[str, Any] | LabelResult:
    """The request body for an item, or the error record of an unusable one (no request made)."""
    if isinstance(entry, BadItem):
        return labeler.error_result(entry.item_id, "invalid_item", entry.reason)
    try:
        prompt = render_prompt(labeler.sop, entry, labeler.template, labeler.language)
    except ItemError as exc:  # e.g. an unreadable image
        return labeler.error_result(exc.item_id or entry.id, "invalid_item", str(exc))
    return labeler.caller.request_body(prompt.messages)


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
        "sop": None if sop_path is None else str(Path(sop_path).resolve()),
        "items": str(Path(items).resolve()) if isinstance(items, str | Path) else None,
        "options": options,
        "prices": None if price is None else {labeler.model: price.model_dump()},
        "retry_errors": retry_errors,
    }


@contextlib.asynccontextmanager
async def _batch_api(client: Any, endpoint: Endpoint, retry: RetryPolicy | None) -> AsyncIterator[BatchAPI]:
    """A ``BatchAPI`` over the injected client, or over one built for the endpoint (closed afterwards)."""
    if client is not None:
        yield BatchAPI(client, retry)
        return
    own = make_client(endpoint, timeout=(retry or RetryPolicy()).timeout)
    try:
        yield BatchAPI(own, retry)
    finally:
        await own.close()


submit_batch = sync_twin(
    asubmit_batch,
    "submit_batch",
    """Submit the items of ``out_dir`` not finished yet to the OpenAI Batch API (half price).

    Takes ``run``'s arguments; writes ``RUN_DIR/batch/requests-NNN.jsonl`` (``custom_id`` = input position),
    uploads it, creates the batch and records it in the ledger. Then poll with ``batch_status`` and collect
    with ``collect_batch``. Raises ``InputError`` for bad input, a directory made with other settings, or
    one whose last batch is not collected; ``EndpointError`` for an unusable endpoint.
    """,
)
