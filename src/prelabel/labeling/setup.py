"""The set-up every run into a RUN_DIR shares — online (``runner``), Batch API submit and collect: the SOP
and items read once, the labeler, the ledger bound to what decides an answer, the items left to label.

    >>> from prelabel import bundled_sop_path
    >>> start = start_run(bundled_sop_path("customer_feedback_intent"), [{"id": "a", "text": "hi"}],
    ...                   LabelOptions(model="gpt-4o-mini", api_key="sk-test"))
    >>> start.sop.id, start.total, start.labeler.model
    ('customer_feedback_intent', 1, 'gpt-4o-mini')
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.labeler import Labeler, read_entries
from prelabel.labeling.ledger import CHANGED, KEPT, Ledger
from prelabel.labeling.options import LabelOptions
from prelabel.llm.batch_api import BatchAPI
from prelabel.llm.clients import make_client
from prelabel.llm.endpoints import Endpoint
from prelabel.llm.retry import RetryPolicy
from prelabel.sop.spec import SOP, load_sop

__all__ = [
    "RunStart",
    "batch_api",
    "load_sop_source",
    "now",
    "open_ledger",
    "refuse_open_batches",
    "run_binding",
    "start_run",
    "unfinished",
]


def now() -> str:
    """The current UTC time as ``run.json`` and the ledger record it (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_sop_source(sop: SOP | str | Path) -> tuple[SOP, str | None]:
    """The SOP, and the file it came from (``None`` for an ``SOP`` object)."""
    return (sop, None) if isinstance(sop, SOP) else (load_sop(sop), str(sop))


@dataclass
class RunStart:
    """A run's inputs, read once: the SOP (and its file), the items (streamed) and their count when known
    without reading a file, and the labeler built from the options."""

    sop: SOP
    sop_path: str | None
    entries: Iterator[Item | BadItem]
    total: int | None
    labeler: Labeler

    @property
    def options(self) -> LabelOptions:
        """The labeler's options."""
        return self.labeler.options


def start_run(
    sop: SOP | str | Path, items: str | Path | Iterable[Any], options: LabelOptions, client: Any = None
) -> RunStart:
    """Load the SOP, open the items (a missing or unreadable file fails here, before any output) and build
    the labeler."""
    sop_obj, path = load_sop_source(sop)
    entries, total = read_entries(items, options)
    return RunStart(sop_obj, path, entries, total, Labeler(sop_obj, options, client=client))


def run_binding(labeler: Labeler) -> dict[str, Any]:
    """What a run directory's ledger is bound to: SOP, model, template, rationale language, prompt hash, the
    samples per item when above 1, ``logprobs`` when asked and what is masked when anything is (so ledgers
    made before these existed stay valid without them). A rerun that masks otherwise is refused like one with
    another SOP: its items' digests (``Labeler.digest``, of the masked text) would all differ."""
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
    if labeler.masking.active:
        binding["mask"] = labeler.masking.record()
    return binding


def refuse_open_batches(ledger: Ledger) -> None:
    """Raise ``InputError`` while a Batch API batch of the run is not collected (its items would go twice)."""
    waiting = ledger.batches(collected=False)
    if waiting:
        raise InputError(
            f"{ledger.run_dir} has a Batch API batch not collected yet ({waiting[0].batch_id}); run "
            f"`prelabel batch collect {ledger.run_dir}` first (or --restart to drop it)"
        )


@contextlib.contextmanager
def open_ledger(out: str | Path, labeler: Labeler) -> Iterator[Ledger]:
    """The ledger of ``out`` bound to ``labeler``'s settings, refused while a batch is not collected."""
    with Ledger.open(out, run_binding(labeler)) as ledger:
        refuse_open_batches(ledger)
        yield ledger


def unfinished(
    entries: Iterable[Item | BadItem],
    ledger: Ledger,
    retry_errors: bool,
    on_finished: Callable[[int], None] | None = None,
    on_changed: Callable[[int], None] | None = None,
    *,
    digest_of: Callable[[Item | BadItem], str],
) -> Iterator[tuple[int, Item | BadItem, str]]:
    """The items a run still has to label, as (input position, item, item digest) (``Ledger.resume``);
    ``on_finished`` hears the position of each item the ledger already holds a kept result for, and
    ``on_changed`` that of each item sent again because its result was for another text. ``digest_of`` is
    the run's digest (``Labeler.digest``: of the item as it is sent, masked)."""
    for position, entry in enumerate(entries):
        digest = digest_of(entry)
        what = ledger.resume(position, entry, digest, retry_errors)
        if what == KEPT:
            if on_finished is not None:
                on_finished(position)
            continue
        if what == CHANGED and on_changed is not None:
            on_changed(position)
        yield position, entry, digest


@contextlib.asynccontextmanager
async def batch_api(client: Any, endpoint: Endpoint, retry: RetryPolicy | None) -> AsyncIterator[BatchAPI]:
    """A ``BatchAPI`` over the injected client, or over one built for the endpoint (closed afterwards)."""
    if client is not None:
        yield BatchAPI(client, retry)
        return
    own = make_client(endpoint, timeout=(retry or RetryPolicy()).timeout)
    try:
        yield BatchAPI(own, retry)
    finally:
        await own.close()
