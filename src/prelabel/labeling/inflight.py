"""What an item cancelled mid-flight had already paid for.

A run that stops (a fatal endpoint error, Ctrl-C, the circuit breaker) cancels the items in flight. An item
can have answers back by then — an off-schema answer waiting for its re-ask, the other samples of
``--samples`` — whose tokens were billed. ``track`` keeps each call's ``CallStats`` of the item being labeled
(a context variable, one per item task), and ``paid_record`` turns them into an ``interrupted`` error record,
so the tokens reach ``run.json`` and ``labels.jsonl`` alike; a rerun labels the item again (also with
``--no-retry-errors``).

    >>> from prelabel.llm.caller import CallStats
    >>> from prelabel.llm.usage import Usage
    >>> calls = start_item()
    >>> track(CallStats(requests=1, usage=Usage(prompt_tokens=900, completion_tokens=40)))
    >>> paid_so_far(calls).usage.prompt_tokens
    900
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from prelabel.inputs.items import Item
from prelabel.inputs.reading import coerce_item
from prelabel.labeling.result import LabelResult
from prelabel.llm.caller import CallStats
from prelabel.llm.usage import Usage

__all__ = [
    "BUDGET_MESSAGE",
    "INTERRUPTED",
    "INTERRUPTED_MESSAGE",
    "paid_record",
    "paid_so_far",
    "start_item",
    "track",
]

#: The error type of an item cancelled after some of its answers came back.
INTERRUPTED = "interrupted"
INTERRUPTED_MESSAGE = (
    "the run stopped before this item was finished; the tokens of the answers it already got are counted; "
    "a rerun labels it again"
)

#: The message of an item the spending limit (``max_cost``) stopped after some of its answers came back (a
#: re-ask or another sample would have crossed it).
BUDGET_MESSAGE = (
    "the spending limit (--max-cost) stopped the run before this item was finished; the tokens of the "
    "answers it already got are counted; a rerun with a higher --max-cost labels it again"
)

_CALLS: contextvars.ContextVar[list[CallStats] | None] = contextvars.ContextVar("prelabel_item", default=None)


def start_item() -> list[CallStats]:
    """Start keeping the calls of the item labeled in this task (call inside the item's own task)."""
    calls: list[CallStats] = []
    _CALLS.set(calls)
    return calls


def track(stats: CallStats) -> None:
    """Keep one call's stats for the item in flight (no-op outside ``start_item``)."""
    calls = _CALLS.get()
    if calls is not None:
        calls.append(stats)


def paid_so_far(calls: list[CallStats]) -> CallStats | None:
    """The item's calls summed, or ``None`` when no answer came back (nothing was paid for)."""
    usage = Usage.total(stats.usage for stats in calls)
    if not (usage.prompt_tokens or usage.completion_tokens):
        return None
    return CallStats(requests=sum(stats.requests for stats in calls), usage=usage)


def paid_record(
    calls: list[CallStats],
    item: Any,
    started: float,
    error: Callable[[str | None, CallStats, float, str, str], LabelResult],
) -> LabelResult | None:
    """The ``interrupted`` error record of a cancelled item that got answers (``error``: the labeler's error
    record builder), or ``None`` when it got none."""
    paid = paid_so_far(calls)
    if paid is None:
        return None
    entry = coerce_item(item)
    item_id = entry.id if isinstance(entry, Item) else entry.item_id
    return error(item_id, paid, started, INTERRUPTED, INTERRUPTED_MESSAGE)
