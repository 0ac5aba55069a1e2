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
import concurrent.futures
import contextlib
import contextvars
import functools
import json
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any, TypeVar

import instructor
from instructor.core.exceptions import InstructorRetryException
from instructor.core.hooks import Hooks
from pydantic import BaseModel, ValidationError

from prelabel.backends import Endpoint, check_credentials, make_client, resolve_endpoint
from prelabel.errors import EndpointError, ItemError
from prelabel.items import Item, as_item
from prelabel.reading import BadItem
from prelabel.render import DEFAULT_TEMPLATE, prompt_hash, render_prompt
from prelabel.result import ErrorInfo, LabelResult, to_dataframe
from prelabel.retry import Failure, MalformedResponse, RetryPolicy, call_with_retries, classify, redact
from prelabel.schema import answer_labels, response_model
from prelabel.sop import SOP
from prelabel.usage import PriceTable, Usage, usage_from_completion

__all__ = ["ErrorInfo", "ItemLike", "LabelResult", "Labeler", "raw_output", "run_sync", "to_dataframe"]

T = TypeVar("T")
ItemLike = Item | BadItem | dict[str, Any] | str
_LAST_OUTPUT_CHARS = 4000
_NO_TEMPERATURE = re.compile(r"^(o\d|gpt-5)")  # reasoning models reject a temperature other than 1
_MODE_ALIASES = {
    instructor.Mode.FUNCTIONS: instructor.Mode.TOOLS,
    instructor.Mode.TOOLS_STRICT: instructor.Mode.TOOLS,
    instructor.Mode.JSON_O1: instructor.Mode.JSON_SCHEMA,
}


@dataclass
class _Call:
    """Book-keeping of one item's model calls: requests sent, usage per answered attempt, last raw output."""

    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    last_output: str | None = None
    answered: bool = False

    def on_response(self, response: Any) -> None:
        self.usage = self.usage + usage_from_completion(response)
        self.answered = True
        output = raw_output(response)
        if output is not None:
            self.last_output = output[:_LAST_OUTPUT_CHARS]


# instructor logs every failed attempt at ERROR; prelabel reports them as results. Without a handler, Python's
# last-resort handler prints them; with this one they still reach any logging the application sets up.
logging.getLogger("instructor").addHandler(logging.NullHandler())

_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("prelabel_call", default=None)


def raw_output(completion: Any) -> str | None:
    """The model's raw answer in a chat completion: tool-call arguments, else message content."""
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    tool_calls = getattr(message, "tool_calls", None) or []
    if tool_calls:
        function = getattr(tool_calls[0], "function", None)
        arguments = getattr(function, "arguments", None)
        if arguments is not None:
            return str(arguments)
    content = getattr(message, "content", None)
    return None if content is None else str(content)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "answer"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, also when an event loop is already running (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="prelabel") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


class Labeler:
    """Labels items under one SOP with one model endpoint.

    ``client`` may be an ``openai.AsyncOpenAI`` or ``openai.OpenAI`` (tests inject one over
    ``httpx2.MockTransport``); without it, a client is built from ``model``/``base_url``/``api_key`` and the
    environment (see ``prelabel.backends``). ``max_reasks`` bounds re-asks on invalid answers; ``retry``
    bounds transport retries.
    """

    def __init__(
        self,
        sop: SOP,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        mode: str | instructor.Mode | None = None,
        max_reasks: int = 2,
        retry: RetryPolicy | None = None,
        rationale_language: str | None = None,
        template: str = DEFAULT_TEMPLATE,
        temperature: float | None = 0.0,
        prices: PriceTable | None = None,
    ):
        self.sop = sop
        self.endpoint: Endpoint = resolve_endpoint(model=model, base_url=base_url, api_key=api_key, mode=mode)
        if client is not None and base_url is None and not self.endpoint.is_local:
            # an injected client knows its server: detect the backend (and default mode) from its URL
            client_url = str(getattr(client, "base_url", "") or "").rstrip("/") or None
            self.endpoint = resolve_endpoint(self.endpoint.model, client_url, api_key, mode)
        if client is None and not self.endpoint.is_local:
            check_credentials(self.endpoint)  # fail before any work, not on the first item
        self.mode = _MODE_ALIASES.get(self.endpoint.mode, self.endpoint.mode)
        self.max_reasks = max_reasks
        self.retry = retry or RetryPolicy()
        self.rationale_language = rationale_language
        self.template = template
        self.temperature = temperature
        self.prices = prices or PriceTable()
        self.answer_model: type[BaseModel] = response_model(sop)
        self.prompt_hash = prompt_hash(sop, template, self._language)
        self._client = client
        self._owned: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._local_client: Any = None
        self._instructors: dict[int, Any] = {}

    # ------------------------------------------------------------------------------------------------ setup

    @property
    def model(self) -> str:
        """The model name sent to the endpoint and recorded on every result."""
        return self.endpoint.model

    @property
    def _language(self) -> str | None:
        return self.rationale_language if self.rationale_language is not None else self.sop.rationale_language

    def _openai_client(self) -> Any:
        if self._client is not None:
            return self._client
        if self.endpoint.is_local:
            if self._local_client is None:
                self._local_client = make_client(self.endpoint)
            return self._local_client
        loop = asyncio.get_running_loop()
        client = self._owned.get(loop)
        if client is None:  # an async http client belongs to one event loop: one client per loop
            client = self._owned[loop] = make_client(self.endpoint, timeout=self.retry.timeout)
        return client

    def _instructor(self) -> Any:
        client = self._openai_client()
        inst = self._instructors.get(id(client))
        if inst is None or inst.client is not client:
            send = self._sender(client)
            try:
                create = instructor.patch(create=send, mode=self.mode)
            except Exception as exc:
                raise EndpointError(f"instructor mode {self.mode.name} is not usable here: {exc}") from None
            inst = instructor.AsyncInstructor(client=client, create=create, mode=self.mode)
            self._instructors[id(client)] = inst
        return inst

    def _sender(self, client: Any) -> Callable[..., Awaitable[Any]]:
        """The raw ``chat.completions.create`` call, retried at the transport layer, counted per request."""
        import openai
        from openai.types.chat import ChatCompletion

        is_async = not isinstance(client, openai.OpenAI)
        where = self.endpoint.describe()["base_url"]
        in_process = self.endpoint.is_local or "prelabel-local" in str(getattr(client, "base_url", ""))
        extra: dict[str, Any] = {} if in_process else {"timeout": self.retry.timeout}  # slow CPU is no outage

        async def once(kwargs: dict[str, Any]) -> Any:
            call = _CALL.get()
            if call is not None:
                call.requests += 1
            try:
                if is_async:
                    completion = await client.chat.completions.create(**kwargs, **extra)
                else:
                    create = functools.partial(client.chat.completions.create, **kwargs, **extra)
                    completion = await asyncio.to_thread(create)
            except json.JSONDecodeError as exc:
                raise MalformedResponse(f"response body is not valid JSON ({exc.msg})") from exc
            if not isinstance(completion, ChatCompletion) or not getattr(completion, "choices", None):
                raise MalformedResponse(f"response is not a chat completion: {str(completion)[:200]!r}")
            return completion

        schema = self.answer_model.model_json_schema() if self.endpoint.schema_in_json_object else None

        async def send(**kwargs: Any) -> Any:
            if schema is not None and kwargs.get("response_format") == {"type": "json_object"}:
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            return await call_with_retries(lambda: once(kwargs), self.retry, where=where)

        return send

    # ------------------------------------------------------------------------------------------------ results

    def _result(self, item_id: str | None, call: _Call, started: float, **fields: Any) -> LabelResult:
        return LabelResult(
            item_id=item_id,
            model=self.model,
            sop_id=self.sop.id,
            sop_version=self.sop.version,
            prompt_hash=self.prompt_hash,
            template=self.template,
            attempts=call.requests,
            usage=call.usage,
            latency_s=round(time.perf_counter() - started, 4),
            **fields,
        )

    def _error(
        self,
        item_id: str | None,
        call: _Call,
        started: float,
        kind: str,
        message: str,
        last_output: Any = None,
    ) -> LabelResult:
        secrets = (self.endpoint.api_key,)
        info = ErrorInfo(
            type=kind,
            message=redact(" ".join(message.split()), *secrets),  # one line
            last_output=None if last_output is None else redact(str(last_output), *secrets),
        )
        return self._result(item_id, call, started, status="error", error=info)

    def _answer(self, item_id: str, call: _Call, started: float, answer: BaseModel) -> LabelResult:
        labels = answer_labels(answer)
        abstained = self.sop.abstain.allowed and labels == [self.sop.abstain.label]
        return self._result(
            item_id,
            call,
            started,
            status="abstained" if abstained else "ok",
            label=None if self.sop.multi_label else labels[0],
            labels=labels if self.sop.multi_label else None,
            rationale=answer.rationale,  # type: ignore[attr-defined]
            cited_rules=list(answer.cited_rules),  # type: ignore[attr-defined]
            confidence=answer.confidence,  # type: ignore[attr-defined]
        )

    # -------------------------------------------------------------------------------------------- labeling

    async def alabel(self, item: ItemLike) -> LabelResult:
        """Label one item; returns an error record instead of raising, except ``EndpointError``."""
        started = time.perf_counter()
        call = _Call()
        if isinstance(item, BadItem):
            return self._error(item.item_id, call, started, "invalid_item", item.reason)
        try:
            item = as_item(item)
            prompt = render_prompt(self.sop, item, self.template, self._language)
        except ItemError as exc:
            return self._error(exc.item_id, call, started, "invalid_item", str(exc))
        kwargs: dict[str, Any] = {"model": self.model}
        if self.temperature is not None and not _NO_TEMPERATURE.match(self.model.rsplit("/", 1)[-1]):
            kwargs["temperature"] = self.temperature
        hooks = Hooks()
        hooks.on("completion:response", call.on_response)
        token = _CALL.set(call)
        try:
            answer, _ = await self._instructor().create_with_completion(
                messages=prompt.messages,
                response_model=self.answer_model,
                max_retries=self.max_reasks,
                hooks=hooks,
                **kwargs,
            )
        except Exception as exc:
            return self._failure(item.id, call, started, exc)
        finally:
            _CALL.reset(token)
        return self._answer(item.id, call, started, answer)

    def _failure(self, item_id: str, call: _Call, started: float, exc: BaseException) -> LabelResult:
        cause: BaseException = exc
        while isinstance(cause, InstructorRetryException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, EndpointError):
            raise cause
        if isinstance(cause, ValidationError | json.JSONDecodeError):
            detail = (
                _validation_message(cause) if isinstance(cause, ValidationError) else f"not JSON: {cause.msg}"
            )
            message = f"answer invalid after {call.requests} attempt(s): {detail}"
            return self._error(item_id, call, started, "invalid_output", message, call.last_output)
        failure: Failure = classify(cause)
        if failure.kind == "error":
            kind = type(cause).__name__
            if "Incomplete" in kind:
                failure = Failure("incomplete_output", "the answer was cut off (max tokens reached)")
            elif isinstance(cause, InstructorRetryException):
                failure = Failure("invalid_output", str(cause))
        status = f" (HTTP {failure.status_code})" if failure.status_code else ""
        message = (
            f"{failure.kind.replace('_', ' ')}{status} after {call.requests} attempt(s): {failure.message}"
        )
        return self._error(item_id, call, started, failure.kind, message, call.last_output)

    def label(self, item: ItemLike) -> LabelResult:
        """Label one item (sync facade over ``alabel``; works inside a running event loop too)."""
        return run_sync(lambda: self._closing(self.alabel(item)))

    async def alabel_many(
        self,
        items: Iterable[ItemLike],
        concurrency: int = 8,
        progress: bool = False,
        on_result: Callable[[int, LabelResult], None] | None = None,
    ) -> list[LabelResult]:
        """Label items concurrently; results come back in input order, one per item.

        ``on_result(index, result)`` is called as each result arrives (in completion order). Raises
        ``EndpointError`` (after cancelling in-flight calls) when the endpoint is unusable or unreachable.
        """
        results: dict[int, LabelResult] = {}
        semaphore = asyncio.Semaphore(max(concurrency, 1))
        total = len(items) if isinstance(items, Sized) else None
        state = {"answered": False}

        with _progress_bar(total, enabled=progress) as advance:

            async def work(index: int, item: ItemLike) -> None:
                try:
                    result = await self.alabel(item)
                finally:
                    semaphore.release()
                results[index] = result
                if (
                    result.status != "error"
                    or result.error is None
                    or result.error.type != "connection_error"
                ):
                    state["answered"] = state["answered"] or result.attempts > 0
                elif not state["answered"]:
                    raise EndpointError(f"endpoint unreachable after retries: {result.error.message}")
                advance(result)
                if on_result is not None:
                    on_result(index, result)

            try:
                async with asyncio.TaskGroup() as group:
                    for index, item in enumerate(items):
                        await semaphore.acquire()
                        group.create_task(work(index, item))
            except BaseExceptionGroup as group_error:
                raise _first_leaf(group_error) from None
        return [results[i] for i in range(len(results))]

    def label_many(
        self, items: Iterable[ItemLike], concurrency: int = 8, progress: bool = False
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
        loop = asyncio.get_running_loop()
        client = self._owned.pop(loop, None)
        if client is not None:
            self._instructors.pop(id(client), None)
            await client.close()


@contextlib.contextmanager
def _progress_bar(total: int | None, enabled: bool) -> Iterator[Callable[[LabelResult], None]]:
    """A rich progress bar on stderr counting results (a no-op when disabled)."""
    if not enabled:
        yield lambda result: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("labeling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
    )
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("labeling", total=total, errors=0)
        errors = 0

        def advance(result: LabelResult) -> None:
            nonlocal errors
            errors += result.status == "error"
            bar.update(task, advance=1, errors=errors)

        yield advance


def _first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        endpoint = [e for e in first.exceptions if isinstance(e, EndpointError)]
        first = endpoint[0] if endpoint else first.exceptions[0]
    return first
