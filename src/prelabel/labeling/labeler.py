"""The labeler: an SOP and an item in, a validated ``LabelResult`` (or an explicit error record) out.

One code path for every endpoint: an ``openai`` async client wrapped by ``instructor``. Transport failures are
retried around each HTTP call (``prelabel.retry``), invalid answers are re-asked by instructor
(``max_reasks``), and when both are exhausted the item becomes an error record: a batch never stops on one
bad item. Only an unusable endpoint (auth, quota, unknown model) raises ``EndpointError``.

    >>> from prelabel import Labeler, bundled_sop
    >>> from prelabel.testing import FakeModel
    >>> fake = FakeModel()
    >>> labeler = Labeler(bundled_sop("customer_feedback_intent"), client=fake.async_client())
    >>> result = labeler.label({"id": "a1", "text": "Where is my parcel?"})
    >>> result.status, result.label in labeler.sop.answer_ids
    ('ok', True)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from prelabel._aio import first_leaf, run_sync
from prelabel.errors import BudgetError, InputError, ItemError, redact
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem, coerce_item, read_items
from prelabel.labeling.inflight import BUDGET_MESSAGE, INTERRUPTED, paid_record, start_item, track
from prelabel.labeling.item_prompt import item_prompt
from prelabel.labeling.item_size import oversize_reason, within_size
from prelabel.labeling.options import LabelOptions, sampling_options
from prelabel.labeling.progress import RunProgress
from prelabel.labeling.reachability import Reachability
from prelabel.labeling.result import PROB_DIGITS, ErrorInfo, LabelResult, to_dataframe
from prelabel.labeling.samples import combine_samples
from prelabel.llm.caller import CallStats, ModelCaller, explain
from prelabel.llm.endpoints import Endpoint, check_credentials
from prelabel.llm.instructed import Mode
from prelabel.llm.logprobs import label_probability
from prelabel.llm.ratelimit import estimate_tokens
from prelabel.llm.spend import SpendLimit
from prelabel.llm.usage import Usage
from prelabel.prompt.masking import Masked, MaskPolicy, mask_item, mask_policy, masked_digest
from prelabel.prompt.rendering import Prompt, prompt_hash, render_prompt
from prelabel.prompt.schema import answer_labels, response_model
from prelabel.sop.spec import SOP

__all__ = ["ErrorInfo", "ItemLike", "LabelResult", "Labeler", "read_entries", "to_dataframe"]

T = TypeVar("T")
ItemLike = Item | BadItem | dict[str, Any] | str


def _budget_stopped(result: LabelResult) -> bool:
    """True for the record of an item the spending limit stopped (``BUDGET_MESSAGE``)."""
    return (
        result.error is not None
        and result.error.type == INTERRUPTED
        and result.error.message == BUDGET_MESSAGE
    )


def read_entries(
    items: Iterable[Any] | str | Path, options: LabelOptions
) -> tuple[Iterator[Item | BadItem], int | None]:
    """The one read of ``items`` (streamed; bad rows and items over ``max_item_tokens`` become ``BadItem``),
    and their count when it is known without reading a file (lists, DataFrames). A missing or unreadable
    source raises ``InputError`` here."""
    entries = read_items(
        items,
        id_col=options.id_col,
        text_col=options.text_col,
        max_items=options.max_items,
        media=options.media_policy(),
    )
    entries = within_size(entries, options.max_item_tokens, options.endpoint().model)  # as Labeler.alabel
    sized = isinstance(items, Sized) and not isinstance(items, str | Path)
    total = len(items) if sized else None  # type: ignore[arg-type]
    if total is not None and options.max_items is not None:
        total = min(total, options.max_items)
    return entries, total


class Labeler:
    """Labels items under one SOP with one model endpoint.

    ``options`` (a ``LabelOptions``) and keyword overrides of its fields say how; ``client`` may be an
    ``openai.AsyncOpenAI`` or ``openai.OpenAI`` (tests inject one over ``httpx2.MockTransport``). Without
    it, a client is built from the options' endpoint and the environment (see ``prelabel.llm.endpoints``).
    """

    def __init__(self, sop: SOP, options: LabelOptions | None = None, *, client: Any = None, **changes: Any):
        self.sop = sop
        opts = LabelOptions.build(options, changes)
        self.samples: int = opts.samples or 1
        """Answers asked per item (``LabelOptions.samples``); above 1 the temperature is at least the
        sampling default."""
        self.options = opts = sampling_options(opts, self.samples)
        self._label_order = {label: i for i, label in enumerate(sop.label_index)}
        self.endpoint: Endpoint = opts.endpoint(client)
        if client is None and not self.endpoint.is_local:
            check_credentials(self.endpoint)  # fail before any work, not on the first item
        self.prices = opts.price_table()
        self.answer_model: type[BaseModel] = response_model(sop)
        self.masking: MaskPolicy = mask_policy(sop, opts.mask)
        """What is masked in every item before it is sent: the SOP's ``privacy:`` section and ``mask``."""
        self.prompt_hash = prompt_hash(sop, opts.template, self.language)
        self.caller = ModelCaller(
            self.endpoint,
            self.answer_model,
            client=client,
            retry=opts.retry,
            temperature=opts.temperature,
            max_tokens=opts.max_tokens,
            rpm=opts.rpm,
            tpm=opts.tpm,
            concurrency=opts.concurrency,
            logprobs=opts.logprobs,
        )
        if opts.tpm is not None:  # before any request: a --tpm no request fits in is refused
            self.caller.limits.check_request_fits(self.smallest_request(), opts.max_tokens)
        if opts.max_cost is not None:  # before any request: a limit needs a price
            self.caller.spend = self._spend_limit(opts.max_cost)

    def _spend_limit(self, max_cost: float) -> SpendLimit:
        price = self.prices.price_for(self.model)
        if price is None:
            raise InputError(
                f"--max-cost needs the price of {self.model}, and none is known (genai-prices has none); "
                "give it in a --prices FILE"
            )
        return SpendLimit(max_cost, price, max_tokens=self.options.max_tokens)

    @property
    def spend(self) -> SpendLimit | None:
        """The spending limit (``max_cost``) every request of this labeler passes, if any (``llm.spend``):
        ``spent`` is what was spent so far; a run sets it to what its RUN_DIR spent before."""
        return self.caller.spend

    def smallest_request(self) -> int:
        """The tokens the rate limiter counts for the smallest request of a run (a one-character item):
        the SOP's prompt + ``max_tokens``."""
        probe = Item(id="-", text="-")
        prompt = render_prompt(self.sop, probe, self.template, self.language, mask=self.masking)
        return estimate_tokens(prompt.messages, self.model, self.options.max_tokens)

    def shown(self, entry: Item | BadItem) -> tuple[Item | BadItem, Masked]:
        """``entry`` as its prompt shows it (personal data masked, ``self.masking``), and what was masked."""
        if isinstance(entry, BadItem):
            return entry, Masked("")
        return mask_item(self.masking, entry)

    def digest(self, entry: Item | BadItem) -> str:
        """The item digest of ``entry`` as it is sent (masked): what the ledger and the answer cache key
        answers by, so changing what is masked labels the changed items again."""
        return masked_digest(self.masking, entry)

    @property
    def template(self) -> str:
        """The prompt template's name."""
        return self.options.template

    @property
    def max_reasks(self) -> int:
        """Re-asks allowed per item when an answer fails validation."""
        return self.options.max_reasks

    @property
    def model(self) -> str:
        """The model name sent to the endpoint and recorded on every result."""
        return self.endpoint.model

    @property
    def mode(self) -> Mode:
        """The instructor mode used to ask for structured answers."""
        return self.caller.mode

    @property
    def language(self) -> str | None:
        """The language rationales are written in: the ``rationale_language`` given, else the SOP's."""
        language = self.options.rationale_language
        return language if language is not None else self.sop.rationale_language

    # ------------------------------------------------------------------------------------------------ results

    def _result(self, item_id: str | None, stats: CallStats, started: float, **fields: Any) -> LabelResult:
        return LabelResult(
            item_id=item_id,
            model=self.model,
            sop_id=self.sop.id,
            sop_version=self.sop.version,
            prompt_hash=self.prompt_hash,
            template=self.template,
            attempts=stats.requests,
            usage=stats.usage,
            latency_s=round(time.perf_counter() - started, 4),
            **fields,
        )

    def _error(
        self, item_id: str | None, stats: CallStats, started: float, kind: str, message: str
    ) -> LabelResult:
        secrets = (self.endpoint.api_key,)
        last = stats.last_output
        info = ErrorInfo(
            type=kind,
            message=redact(" ".join(message.split()), *secrets),  # one line
            last_output=None if last is None else redact(last, *secrets),
        )
        return self._result(item_id, stats, started, status="error", error=info)

    def _answer(self, item_id: str, stats: CallStats, started: float, answer: BaseModel) -> LabelResult:
        labels = answer_labels(answer)
        abstained = self.sop.abstain.allowed and labels == [self.sop.abstain.label]
        prob = None
        if self.options.logprobs:
            prob = label_probability(stats.logprobs, labels, multi_label=self.sop.multi_label)
        return self._result(
            item_id,
            stats,
            started,
            status="abstained" if abstained else "ok",
            label=None if self.sop.multi_label else labels[0],
            labels=labels if self.sop.multi_label else None,
            rationale=answer.rationale,  # type: ignore[attr-defined]
            cited_rules=list(answer.cited_rules),  # type: ignore[attr-defined]
            confidence=answer.confidence,  # type: ignore[attr-defined]
            label_prob=None if prob is None else round(prob, PROB_DIGITS),
        )

    # -------------------------------------------------------------------------------------------- labeling

    async def alabel(self, item: ItemLike) -> LabelResult:
        """Label one item; returns an error record instead of raising, except ``EndpointError``.

        With ``samples`` K >= 2, the item is asked K times at once and the answers are folded into one result
        (``prelabel.labeling.samples``)."""
        started = time.perf_counter()
        entry = coerce_item(item, media=self.options.media_policy())
        if isinstance(entry, Item):  # one item labeled directly is bounded like those of a run
            too_large = oversize_reason(entry, self.options.max_item_tokens, self.endpoint.model)
            entry = entry if too_large is None else BadItem(0, too_large, entry.id)
        if isinstance(entry, BadItem):
            return self._error(entry.item_id, CallStats(), started, "invalid_item", entry.reason)
        try:  # a video is sampled in a worker thread: decoding never blocks the other items' requests
            render = self.prompt_for  # personal data is masked there, before the item is rendered
            prompt = await asyncio.to_thread(render, entry) if entry.video else render(entry)
        except ItemError as exc:  # e.g. an unreadable image, a corrupt video
            return self._error(exc.item_id, CallStats(), started, "invalid_item", str(exc))
        if self.samples == 1:
            result = await self._ask(entry.id, prompt.messages, started)
            return self.with_masked(result, prompt.masked.counts)
        try:  # every sample passes the run's rate limits; an unusable endpoint cancels the others
            async with asyncio.TaskGroup() as group:
                asks = [
                    group.create_task(self._ask(entry.id, prompt.messages, started))
                    for _ in range(self.samples)
                ]
        except BaseExceptionGroup as group_error:
            raise first_leaf(group_error) from None
        results = [a.result() for a in asks]
        if any(_budget_stopped(result) for result in results):  # no majority of the samples it could pay
            paid = CallStats(sum(r.attempts for r in results), Usage.total(r.usage for r in results))
            return self._error(entry.id, paid, started, INTERRUPTED, BUDGET_MESSAGE)
        latency = round(time.perf_counter() - started, 4)
        result = combine_samples(results, latency_s=latency, order=self._label_order)
        return self.with_masked(result, prompt.masked.counts)

    def prompt_for(self, item: Item) -> Prompt:
        """The prompt of one item, as a run sends it (``labeling.item_prompt``: personal data masked, a
        video's frames within ``max_frames`` and ``max_item_tokens``). Raises ``ItemError`` for unusable
        media."""
        return item_prompt(self.sop, item, self.options, self.endpoint, mask=self.masking)

    @staticmethod
    def with_masked(result: LabelResult, counts: Mapping[str, int] | None = None) -> LabelResult:
        """``result`` recording what was masked in its item (``LabelResult.masked``: occurrences per
        placeholder name), when anything was."""
        return result.model_copy(update={"masked": dict(counts)}) if counts else result

    async def _ask(self, item_id: str, messages: list[dict[str, Any]], started: float) -> LabelResult:
        """One answer to ``messages`` as a result (an error record when the call fails)."""
        stats = CallStats()
        track(stats)  # if the run stops mid-item, what its answers cost is still counted
        try:
            answer = await self.caller.ask(messages, self.max_reasks, stats)
        except Exception as exc:
            try:
                kind, message = explain(exc, stats)  # re-raises EndpointError
            except BudgetError:  # the spending limit stops the run: what this item paid is kept
                return self._error(item_id, stats, started, INTERRUPTED, BUDGET_MESSAGE)
            return self._error(item_id, stats, started, kind, message)
        return self._answer(item_id, stats, started, answer)

    def result_of(self, item_id: str, completion: Any) -> LabelResult:
        """The result for a chat completion answered elsewhere (a Batch API output line), validated as an
        online answer is; an invalid answer is an ``invalid_output`` error record (no re-asks here)."""
        started = time.perf_counter()
        stats = CallStats(requests=1)
        stats.on_response(completion)
        try:
            answer = self.caller.parse(completion)
        except Exception as exc:
            kind, message = explain(exc, stats)
            kind = "invalid_output" if kind == "error" else kind  # what instructor's re-ask loop would say
            return self._error(item_id, stats, started, kind, message)
        return self._answer(item_id, stats, started, answer)

    def error_result(self, item_id: str | None, kind: str, message: str) -> LabelResult:
        """An error record of this labeler for an item that got no answer (no request counted)."""
        return self._error(item_id, CallStats(), time.perf_counter(), kind, message)

    def label(self, item: ItemLike) -> LabelResult:
        """Label one item (sync facade over ``alabel``; works inside a running event loop too)."""
        return run_sync(lambda: self._closing(self.alabel(item)))

    async def alabel_many(
        self,
        items: Iterable[ItemLike] | str | Path,
        concurrency: int | None = None,
        progress: bool = False,
        on_result: Callable[[int, LabelResult], None] | None = None,
    ) -> list[LabelResult]:
        """Label items concurrently; results come back in input order, one per item.

        ``items`` is anything ``read_items`` reads (a list, a DataFrame, a file path; the options' ``id_col``,
        ``text_col`` and ``max_items`` apply): repeated ids and bad rows become error records.
        ``on_result(index, result)`` is called as each result arrives (in completion order). Raises
        ``EndpointError`` (after cancelling in-flight calls) when the endpoint is unusable or unreachable.
        """
        entries, total = read_entries(items, self.options)
        results: dict[int, LabelResult] = {}

        def keep(index: int, result: LabelResult) -> None:
            results[index] = result
            if on_result is not None:
                on_result(index, result)

        await self.alabel_entries(
            enumerate(entries), total=total, concurrency=concurrency, progress=progress, on_result=keep
        )
        return [results[i] for i in range(len(results))]

    async def alabel_entries(
        self,
        entries: Iterable[tuple[int, ItemLike]],
        *,
        total: int | None = None,
        concurrency: int | None = None,
        progress: bool = False,
        on_result: Callable[[int, LabelResult], None],
    ) -> None:
        """Label ``(index, item)`` pairs, already read, concurrently; ``on_result`` gets each result as it
        completes and the caller keeps them (a batch runner streams them to disk instead of memory).

        When the spending limit (``max_cost``) refuses a request, no new item starts, the items in flight
        finish (one stopped after some answers is an ``interrupted`` record carrying their tokens), then
        ``BudgetError`` is raised."""
        # items in flight; their requests pass the run's adaptive gate (shrinks on sustained 429s, grows back)
        semaphore = self.caller.limits.slots(max(concurrency or self.options.concurrency, 1))
        breaker = Reachability()  # stops the batch when the endpoint cannot be reached

        cost = self.prices.cost  # what the run spent so far, shown beside the counts
        with RunProgress.shown(total, progress, cost=lambda usage: cost(self.model, usage)) as advance:

            async def work(index: int, item: ItemLike) -> None:
                calls, started = start_item(), time.perf_counter()
                try:
                    result = await self.alabel(item)
                except asyncio.CancelledError:  # the run stops: keep what this item already paid for
                    paid = paid_record(calls, item, started, self._error)
                    if paid is not None:
                        on_result(index, paid)
                    raise
                finally:
                    semaphore.release()
                if _budget_stopped(result) and not (
                    result.usage.prompt_tokens or result.usage.completion_tokens
                ):
                    return  # stopped before its first answer: nothing paid, nothing to keep; a rerun sends it
                advance(result)
                on_result(index, result)  # recorded first: the item that trips the breaker is not lost
                breaker.observe(result)

            spend = self.spend
            try:
                async with asyncio.TaskGroup() as group:
                    for index, item in entries:
                        await semaphore.acquire()
                        if spend is not None and spend.stopped:  # no new item; those in flight finish
                            semaphore.release()
                            break
                        group.create_task(work(index, item))
            except BaseExceptionGroup as group_error:
                raise first_leaf(group_error) from None
            if spend is not None and spend.stopped:
                raise BudgetError(spend.message(), spent=spend.spent, limit=spend.limit)

    def label_many(
        self, items: Iterable[ItemLike] | str | Path, concurrency: int | None = None, progress: bool = False
    ) -> list[LabelResult]:
        """Label items concurrently (sync facade over ``alabel_many``); results in input order."""
        return run_sync(
            lambda: self._closing(self.alabel_many(items, concurrency=concurrency, progress=progress))
        )

    def cost(self, results: Iterable[LabelResult]) -> float | None:
        """Total cost in USD of ``results`` (``None`` when the model has no known price)."""
        return self.prices.cost(self.model, Usage.total(r.usage for r in results))

    async def _closing(self, coro: Awaitable[T]) -> T:
        try:
            return await coro
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the http client built for the running event loop (injected clients stay open)."""
        await self.caller.aclose()
