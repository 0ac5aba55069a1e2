"""A run's spending limit (``max_cost``) around its RUN_DIR: what was spent before, and the dry-run estimate
of the items left, checked before anything is sent.

What a RUN_DIR spent is the cost of every token its ledger records (answers, error records that paid for
tokens, answers set aside, retried errors; collected Batch API lines at the Batch price): the figure
``run.json`` shows as ``cost_usd``. A rerun with a higher ``max_cost`` counts it against the new limit, so a
run stopped by its budget resumes where it stopped. The estimate is ``labeling.dry_run``'s, over the items
the ledger does not hold finished; it needs items that can be read twice (a file, a list, a DataFrame): a
one-shot iterator gets the live limit only (``llm.spend``).

    >>> EXIT_BUDGET  # prelabel run's exit code when the limit stopped the run
    4
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.inputs.digest import item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.dry_run import estimate_entries
from prelabel.labeling.labeler import Labeler, read_entries
from prelabel.labeling.ledger import Ledger
from prelabel.llm.usage import Usage

__all__ = ["EXIT_BUDGET", "check_estimate", "run_cost"]

#: The exit code of a run its spending limit stopped (``prelabel run --max-cost``).
EXIT_BUDGET = 4


def run_cost(ledger: Ledger, labeler: Labeler) -> float | None:
    """What the RUN_DIR of ``ledger`` spent (USD), at ``labeler``'s prices; ``None`` without a price."""
    usage = Usage(**ledger.totals()["usage"])
    return labeler.prices.cost(labeler.model, usage, batch_usage=Usage(**ledger.batch_usage()))


def check_estimate(
    items: str | Path | Iterable[Any],
    labeler: Labeler,
    ledger: Ledger,
    *,
    spent: float,
    retry_errors: bool = True,
    batch: bool = False,
) -> None:
    """Raise ``InputError`` when ``spent`` plus the dry-run estimate of the items ``ledger`` does not hold
    finished is over the labeler's ``max_cost`` (``batch``: priced at the Batch API price). Sends nothing;
    a one-shot iterator of items is not read (the live limit still holds)."""
    limit = labeler.options.max_cost
    if limit is None or not _rereadable(items):
        return
    entries, _ = read_entries(items, labeler.options)
    left = _left(entries, ledger, retry_errors)
    guess = estimate_entries(labeler.sop, left, labeler.options, batch=batch)
    if guess.cost_usd is None or spent + guess.cost_usd <= limit:
        return
    before = f" + ${spent:.4f} already spent in {ledger.run_dir}" if spent else ""
    raise InputError(
        f"the estimated cost of the {guess.items} items left is ${guess.cost_usd:.4f}{before}, over the "
        f"${limit:.4f} budget (--max-cost); nothing was sent: raise --max-cost or label fewer items "
        f"(--max-items); `prelabel run --dry-run` shows the estimate"
    )


def _rereadable(items: Any) -> bool:
    """True for items a second read finds again: a file, or a collection (not a one-shot iterator)."""
    return isinstance(items, str | Path) or (isinstance(items, Sized) and not isinstance(items, Iterator))


def _left(entries: Iterable[Item | BadItem], ledger: Ledger, retry_errors: bool) -> Iterator[Item | BadItem]:
    """The entries whose position in ``ledger`` holds no finished result for the same item and text (a rerun
    may find more of them elsewhere in the ledger: the estimate errs on the high side)."""
    for position, entry in enumerate(entries):
        row = ledger.row(position)
        item_id = entry.id if isinstance(entry, Item) else entry.item_id
        if row is not None and row.item_id == item_id and row.input_hash == item_digest(entry):
            if row.status != "error" or (not retry_errors and row.error_type != "interrupted"):
                continue
        yield entry
