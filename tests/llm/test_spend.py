"""The spending limit (``llm.spend``): reservations for requests in flight, actual costs, the stop."""

from __future__ import annotations

import asyncio
import random

import pytest

import prelabel
from prelabel import BudgetError, InputError
from prelabel.llm.spend import PROMPT_MARGIN, SpendLimit, prompt_tokens
from prelabel.llm.usage import Price, Usage
from prelabel.testing import FakeModel, Reply

PRICE = Price(input=1.0, output=4.0, cache_write=1.25)


def test_a_request_that_could_cross_the_limit_is_refused_and_the_limit_stays_stopped() -> None:
    limit = SpendLimit(0.01, PRICE, max_tokens=500)
    first = limit.reserve(1000)  # 1000 * 1.25 at $1.25 (a cache write is the dearest) + 500 at $4
    assert first.amount == pytest.approx((1000 * PROMPT_MARGIN * 1.25 + 500 * 4) / 1e6)
    second = limit.reserve(1000)
    with pytest.raises(BudgetError, match=r"budget reached: \$0\.0000 spent of the \$0\.0100 budget") as stop:
        limit.reserve(1000)  # the two in flight hold 0.0071: a third could cross 0.01
    assert stop.value.limit == 0.01 and limit.stopped
    limit.settle(first, Usage(prompt_tokens=900, completion_tokens=10))
    limit.settle(second, None)  # no answer: nothing billed, the hold is released
    assert limit.reserved == pytest.approx(0) and limit.spent == pytest.approx(0.00094)
    with pytest.raises(BudgetError):
        limit.reserve(1)  # stopped: nothing starts after the first refusal


def test_a_server_counting_more_prompt_tokens_widens_the_reservation() -> None:
    limit = SpendLimit(1.0, PRICE, max_tokens=0)
    hold = limit.reserve(1000)
    limit.settle(hold, Usage(prompt_tokens=2000))
    assert limit.margin == 2.0 and limit.most(1000) == pytest.approx(2000 * 1.25 / 1e6)


def test_a_limit_needs_a_bound_on_answers() -> None:
    with pytest.raises(InputError, match="--max-tokens"):
        SpendLimit(1.0, PRICE, max_tokens=None)


@pytest.mark.parametrize("seed", range(20))
def test_concurrent_requests_never_spend_past_the_limit(seed: int) -> None:
    """Property: whatever the budget, concurrency and answer sizes, the actual spend stays within it."""
    rng = random.Random(seed)
    limit = SpendLimit(rng.uniform(0.001, 0.05), PRICE, max_tokens=300)

    async def request() -> None:
        estimate = rng.randint(100, 2000)
        hold = limit.reserve(estimate)
        await asyncio.sleep(rng.random() / 1000)
        usage = Usage(
            prompt_tokens=int(estimate * rng.uniform(0.8, 1.2)), completion_tokens=rng.randint(1, 300)
        )
        limit.settle(hold, usage)

    async def worker() -> None:
        while True:
            try:
                await request()
            except BudgetError:
                return

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(rng.randint(1, 16))))

    asyncio.run(main())
    assert limit.stopped and limit.spent <= limit.limit


def test_prompt_tokens_count_the_answer_schema_too() -> None:
    messages = [{"role": "user", "content": "hello there"}]
    tools = [
        {"type": "function", "function": {"name": "Answer", "parameters": {"properties": {"label": {}}}}}
    ]
    assert prompt_tokens({"messages": messages, "tools": tools}, "gpt-4o-mini") > prompt_tokens(
        {"messages": messages}, "gpt-4o-mini"
    )


def test_from_python_a_run_stopped_by_its_budget_exits_4(tmp_path: object) -> None:
    # the server counts more prompt tokens than the offline estimate: the live limit stops the run
    fake = FakeModel(default=Reply.answer(usage={"prompt_tokens": 3000, "completion_tokens": 400}))
    items = [{"id": f"i{n}", "text": f"parcel late {n}"} for n in range(10)]
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    prices = prelabel.PriceTable({"fake-model": {"input": 1.0, "output": 1.0}}, defaults=False)
    options = prelabel.LabelOptions(model="fake-model", prices=prices, max_tokens=400, concurrency=2)
    guess = prelabel.estimate(sop, items, options).cost_usd
    assert guess is not None
    budget = round(guess * 1.2, 6)
    summary = prelabel.run(sop, items, str(tmp_path), options, client=fake.async_client(), max_cost=budget)
    assert summary.budget_reached and summary.exit_code == 4 and summary.status == "aborted"
    assert summary.failure is not None and summary.failure.startswith("budget reached")
    assert summary.max_cost_usd == budget
    assert summary.cost_usd is not None and summary.cost_usd <= budget
    assert summary.cost_usd == pytest.approx(len(fake.requests) * 0.0034)
    assert 0 < summary.counts["ok"] == len(fake.requests) < 10


def test_max_cost_needs_a_price() -> None:
    with pytest.raises(InputError, match="--max-cost needs the price of fake-model"):
        prelabel.Labeler(
            prelabel.bundled_sop("customer_feedback_intent"),
            client=FakeModel().async_client(),
            model="fake-model",
            max_cost=1.0,
        )
