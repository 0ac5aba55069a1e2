"""A hard spending limit (``max_cost``, USD) over every request of a run, concurrent ones included.

``SpendLimit`` keeps what was spent (the actual cost of every answered request, from its reported usage)
and what is reserved: before a request goes out (``ModelCaller``, past the rate limits), the most it can
cost — its prompt tokens, estimated offline and widened by `PROMPT_MARGIN` (or by the widest gap seen
between an estimate and the tokens the server counted), at the dearest prompt-token price (a cache write
costs more than plain input), plus ``max_tokens`` of output. When spent + reserved + that would cross the
limit, the request is refused with ``BudgetError`` and the limit stops: no request starts after it, the
ones in flight finish. Every request counts: re-asks, transport retries and samples alike. So the
spending stays within the limit as long as a server counts no more prompt tokens than reserved.

    >>> from prelabel.llm.usage import Price
    >>> limit = SpendLimit(0.01, Price(input=1.0, output=2.0), max_tokens=1000)  # USD, USD per 1M tokens
    >>> hold = limit.reserve(2000)       # 2000 prompt tokens * 1.25 at $1/M + 1000 output at $2/M
    >>> round(hold.amount, 4)
    0.0045
    >>> limit.settle(hold, Usage(prompt_tokens=1800, completion_tokens=100))
    >>> round(limit.spent, 4), limit.reserved
    (0.002, 0.0)
    >>> try:
    ...     limit.reserve(8000)
    ... except BudgetError as stop:
    ...     for part in str(stop).split("; "):
    ...         print(part)
    budget reached: $0.0020 spent of the $0.0100 budget (--max-cost)
    the next request could cost up to $0.0120
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prelabel.errors import BudgetError, InputError
from prelabel.llm.usage import Price, Usage, count_tokens

__all__ = ["PROMPT_MARGIN", "Hold", "SpendLimit", "prompt_tokens"]

#: Prompt tokens reserved per estimated token at the start: offline estimates use OpenAI's encodings, and
#: other providers' tokenizers count somewhat more for the same text.
PROMPT_MARGIN = 1.25
_CENT = 1e-9  # float sums of many costs: a request that fits exactly is not refused for rounding


@dataclass(frozen=True)
class Hold:
    """One request's reservation: its estimated prompt tokens and the most it can cost (USD)."""

    estimate: int
    amount: float


class SpendLimit:
    """The spending limit of one run: ``limit`` USD at ``price``, ``spent`` so far (earlier invocations)."""

    def __init__(self, limit: float, price: Price, *, max_tokens: int | None, spent: float = 0.0):
        if max_tokens is None:
            raise InputError("a spending limit (--max-cost) needs a bound on each answer (--max-tokens)")
        self.limit = limit
        self.price = price
        self.max_tokens = max_tokens
        self.spent = spent
        """USD spent: the actual cost of every answered request (and of earlier runs, when given)."""
        self.reserved = 0.0
        """USD held for the requests in flight."""
        self.stopped = False
        """True once a request was refused: no request starts after it."""
        self.margin = PROMPT_MARGIN

    def most(self, estimate: int) -> float:
        """The most a request whose prompt is estimated at ``estimate`` tokens can cost (USD)."""
        prompt = estimate * self.margin * self.price.most_per_prompt_token
        return (prompt + self.max_tokens * self.price.output) / 1_000_000

    def reserve(self, estimate: int) -> Hold:
        """Hold the most the next request can cost, or stop and raise ``BudgetError`` when that could cross
        the limit (and for every request after the first refusal)."""
        amount = self.most(estimate)
        if self.stopped or self.spent + self.reserved + amount > self.limit + _CENT:
            self.stopped = True
            raise BudgetError(self.message(amount), spent=self.spent, limit=self.limit)
        self.reserved += amount
        return Hold(estimate, amount)

    def settle(self, hold: Hold, usage: Usage | None) -> None:
        """Release ``hold`` and add the actual cost of ``usage`` (``None``: no answer, nothing billed)."""
        self.reserved = max(self.reserved - hold.amount, 0.0)
        if usage is None:
            return
        self.spent += self.price.cost(usage)
        if hold.estimate and usage.prompt_tokens > hold.estimate * self.margin:
            self.margin = usage.prompt_tokens / hold.estimate  # the server counts more: reserve more

    def message(self, amount: float | None = None) -> str:
        """``budget reached: $S spent of the $L budget (--max-cost)`` and what the next request could cost."""
        said = f"budget reached: ${self.spent:.4f} spent of the ${self.limit:.4f} budget (--max-cost)"
        return said if amount is None else f"{said}; the next request could cost up to ${amount:.4f}"


def prompt_tokens(kwargs: dict[str, Any], model: str) -> int:
    """Estimated prompt tokens of a chat request's ``kwargs``: its messages and the answer schema it carries
    (``tools`` or ``response_format``)."""
    tokens = count_tokens(kwargs.get("messages") or [], model)
    schema = kwargs.get("tools") or kwargs.get("response_format")
    if schema:
        text = json.dumps(schema, ensure_ascii=False, default=str)
        tokens += count_tokens([{"role": "system", "content": text}], model)
    return tokens
