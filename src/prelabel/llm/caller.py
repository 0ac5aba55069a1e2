"""Calling the model: the openai client, wrapped by instructor, with transport retries around each request.

``ModelCaller.ask`` sends rendered messages and returns the validated answer (of the caller's answer model,
or of the ``response_model`` given for that call), or raises; ``explain`` turns what it raised into an error
record's ``(type, message)``, except ``EndpointError``, which it re-raises because an unusable endpoint stops
a batch, and ``BudgetError`` (the spending limit, ``llm.spend``, which every request passes). ``CallStats``
keeps one item's book: requests are counted at the transport seam, usage through instructor's
``completion:response`` hook (re-asks included). instructor
itself is behind ``prelabel.llm.instructed``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from prelabel._gc import paused, started
from prelabel.errors import BudgetError, EndpointError, add_secret
from prelabel.llm.clients import make_client
from prelabel.llm.endpoints import LOCAL_BASE_URL, Endpoint
from prelabel.llm.instructed import PreparedAnswer, call_mode, cause_of, gave_up, is_incomplete
from prelabel.llm.logprobs import TokenLogprob, token_logprobs
from prelabel.llm.ratelimit import RateLimiter, estimate_tokens
from prelabel.llm.retry import (
    Budget,
    Failure,
    MalformedResponse,
    RetryPolicy,
    call_with_retries,
    classify,
)
from prelabel.llm.spend import Hold, SpendLimit, prompt_tokens
from prelabel.llm.usage import Usage, usage_from_completion

__all__ = ["CallStats", "ModelCaller", "explain", "raw_output"]

_LAST_OUTPUT_CHARS = 4000


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


@dataclass
class CallStats:
    """One item's model calls: requests sent, usage of every answered attempt, the last raw output and the
    last answer's token log-probabilities (if the server sent any; the answer that validated is the last)."""

    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    last_output: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None

    def on_response(self, response: Any) -> None:
        """instructor ``completion:response`` hook: add this attempt's usage; keep its output and tokens."""
        self.usage = self.usage + usage_from_completion(response)
        output = raw_output(response)
        if output is not None:
            self.last_output = output[:_LAST_OUTPUT_CHARS]
        self.logprobs = token_logprobs(response)


_STATS: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar("prelabel_call", default=None)
# the answer schema of the call in flight, for json_object_schema servers (sent in ``response_format``)
_SCHEMA: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("prelabel_schema")


class ModelCaller:
    """Sends chat messages to one endpoint and returns validated answers of ``answer_model`` (by default).

    Injected clients (``openai.AsyncOpenAI`` or ``openai.OpenAI``) are used as they are; otherwise one async
    client is built per event loop (an async http client belongs to the loop it was first used in).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        answer_model: type[BaseModel],
        *,
        client: Any = None,
        retry: RetryPolicy | None = None,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        concurrency: int | None = None,
        logprobs: bool = False,
    ):
        self.endpoint = endpoint
        self.answer_model = answer_model
        self.mode = call_mode(endpoint.mode)
        self.retry = retry or RetryPolicy()
        self.temperature = temperature
        self.max_tokens = max_tokens
        where = endpoint.describe()["base_url"]  # shared by every request of the run:
        self.limits = RateLimiter(rpm, tpm, retry=self.retry, where=where)
        self.connections = concurrency
        self.logprobs = logprobs  # ask for token log-probabilities (``logprobs: true`` on every request)
        self.sent = 0
        """Requests sent through this caller, every one (those of an answer that never came back too)."""
        self.spend: SpendLimit | None = None
        """The spending limit every request passes (``max_cost``), if any (``llm.spend``)."""
        self._client = client
        self._owned: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._local_client: Any = None
        self._senders: dict[int, tuple[Any, Callable[..., Awaitable[Any]]]] = {}
        self._schemas: dict[type[BaseModel], dict[str, Any]] = {}
        self._answers: dict[type[BaseModel], PreparedAnswer] = {}

    async def ask(
        self,
        messages: list[dict[str, Any]],
        max_reasks: int,
        stats: CallStats,
        response_model: type[BaseModel] | None = None,
    ) -> BaseModel:
        """The validated answer to ``messages``, an instance of ``response_model`` (default: the caller's
        ``answer_model``); raises on failure (see ``explain``)."""
        response_model = response_model or self.answer_model
        if response_model not in self._answers:
            self._first_use(response_model)
        kwargs = self._call_kwargs()
        token, schema_token = _STATS.set(stats), _SCHEMA.set(self._schema(response_model))
        send = self._send()  # the transport-retried request (see _sender)
        try:
            prepared = self._answer(response_model)
            answer = await prepared.ask(send, messages, kwargs, max_reasks, stats.on_response)
        finally:
            _STATS.reset(token)
            _SCHEMA.reset(schema_token)
        return answer

    def _first_use(self, response_model: type[BaseModel]) -> None:
        """Build the client, instructor's wrapper and the prepared answer model before the first request with
        ``response_model``: the first time, that loads most of openai and instructor (collector paused)."""
        with paused():
            self._send()
            self._answer(response_model)
        started()  # the program's start-up is over (if it held the collector)

    def _call_kwargs(self) -> dict[str, Any]:
        """Model, temperature, output bound and log-probabilities (when asked) of every request, as the
        backend takes them (``Backend.request_options``: reasoning models get no temperature)."""
        kwargs: dict[str, Any] = {"model": self.endpoint.model}
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if self.logprobs:
            kwargs["logprobs"] = True
        return self.endpoint.kind.request_options(self.endpoint.model, kwargs)

    def request_body(
        self, messages: list[dict[str, Any]], response_model: type[BaseModel] | None = None
    ) -> dict[str, Any]:
        """The chat-completions request body ``ask`` sends first for ``messages`` (a Batch API line's body),
        prepared by instructor's own request handler for this mode."""
        response_model = response_model or self.answer_model
        body = self._answer(response_model).request(messages, self._call_kwargs())
        return _with_schema(body, self._schema(response_model))

    def parse(self, completion: Any, response_model: type[BaseModel] | None = None) -> BaseModel:
        """Validate a chat completion obtained elsewhere (a Batch API output line) as ``ask`` validates an
        answer, without re-asks; raises what instructor raises (see ``explain``)."""
        return self._answer(response_model or self.answer_model).parse(completion)

    def _answer(self, response_model: type[BaseModel]) -> PreparedAnswer:
        """instructor's preparation of ``response_model`` (model, schema, tool arguments), once per run."""
        prepared = self._answers.get(response_model)
        if prepared is None:
            try:
                prepared = self._answers[response_model] = PreparedAnswer(response_model, self.mode)
            except Exception as exc:
                raise EndpointError(f"instructor mode {self.mode.name} is not usable here: {exc}") from None
        return prepared

    def _schema(self, response_model: type[BaseModel]) -> dict[str, Any] | None:
        """The JSON schema sent in ``response_format`` (json_object_schema endpoints only), built once."""
        if not self.endpoint.schema_in_json_object:
            return None
        if response_model not in self._schemas:
            self._schemas[response_model] = response_model.model_json_schema()
        return self._schemas[response_model]

    async def aclose(self) -> None:
        """Close the client built for the running event loop (injected clients stay open)."""
        client = self._owned.pop(asyncio.get_running_loop(), None)
        if client is not None:
            self._senders.pop(id(client), None)
            await client.close()

    def _openai_client(self) -> Any:
        if self._client is not None:
            return self._client
        if self.endpoint.is_local:
            if self._local_client is None:  # one model for every event loop (and with or without logprobs)
                self._local_client = make_client(self.endpoint)
            return self._local_client
        loop = asyncio.get_running_loop()
        client = self._owned.get(loop)
        if client is None:
            client = self._owned[loop] = make_client(
                self.endpoint, timeout=self.retry.timeout, connections=self.connections
            )
        return client

    def _send(self) -> Callable[..., Awaitable[Any]]:
        """The transport-retried request of the client in use (built once per client)."""
        client = self._openai_client()
        built = self._senders.get(id(client))
        if built is None or built[0] is not client:
            built = self._senders[id(client)] = (client, self._sender(client))
        return built[1]

    def _sender(self, client: Any) -> Callable[..., Awaitable[Any]]:
        """The raw ``chat.completions.create`` call, retried at the transport layer, counted per request."""
        import openai
        from openai.types.chat import ChatCompletion

        is_async = not isinstance(client, openai.OpenAI)
        where = self.endpoint.describe()["base_url"]
        in_process = self.endpoint.is_local or str(getattr(client, "base_url", "")).startswith(LOCAL_BASE_URL)
        add_secret(getattr(client, "api_key", None))  # an injected client's key is redacted too
        create = client.chat.completions.with_raw_response.create  # (first use imports openai's modules)

        async def once(kwargs: dict[str, Any], budget: Budget) -> Any:
            stats = _STATS.get()
            limits = self.limits
            estimate = (
                estimate_tokens(kwargs["messages"], self.endpoint.model, self.max_tokens) if limits.tpm else 0
            )
            with budget.queueing():  # waiting for a rate-limit slot is not the server's time
                await limits.acquire(estimate)
            hold: Hold | None = None
            paid: Usage | None = None  # what the answer reports (None: no answer came back)
            if self.spend is not None:  # past the rate limits: the most it can cost is held, or it stops
                try:
                    hold = self.spend.reserve(prompt_tokens(kwargs, self.endpoint.model))
                except BudgetError:
                    limits.release()
                    raise
            if stats is not None:
                stats.requests += 1
            self.sent += 1  # past the rate limits (and the spending limit): on its way
            # a deadline for the whole request (a server trickling bytes resets an idle timeout forever), cut
            # to the budget left; none in process: a slow CPU is no outage (the worker has its own watchdog)
            deadline = None if in_process else budget.deadline()
            extra: dict[str, Any] = {} if deadline is None else {"timeout": deadline}
            try:
                async with asyncio.timeout(deadline):
                    if is_async:
                        raw = await create(**kwargs, **extra)
                    else:
                        raw = await asyncio.to_thread(functools.partial(create, **kwargs, **extra))
                    limits.observe(raw.headers)
                    completion = raw.parse()
                    paid = usage_from_completion(completion)
            except openai.APIStatusError as exc:
                limits.observe(exc.response.headers)
                raise
            except json.JSONDecodeError as exc:
                raise MalformedResponse(f"response body is not valid JSON ({exc.msg})") from exc
            except TimeoutError:
                if deadline is None:  # not ours: no deadline was set
                    raise
                raise budget.timed_out(deadline) from None
            finally:
                limits.release()
                if hold is not None and self.spend is not None:
                    self.spend.settle(hold, paid)
            used = paid or Usage()
            if not isinstance(completion, ChatCompletion) or not getattr(completion, "choices", None):
                if stats is not None:  # rejected, but the tokens it reports were paid for
                    stats.usage = stats.usage + used
                raise MalformedResponse(f"response is not a chat completion: {str(completion)[:200]!r}")
            limits.settle(estimate, used.prompt_tokens + used.completion_tokens)
            return completion

        def on_failure(failure: Failure) -> None:
            if failure.kind == "rate_limited":
                self.limits.rate_limited()

        async def send(**kwargs: Any) -> Any:
            kwargs = _with_schema(kwargs, _SCHEMA.get(None))
            budget = Budget(self.retry)
            return await call_with_retries(
                lambda: once(kwargs, budget), self.retry, where=where, on_failure=on_failure, budget=budget
            )

        return send


def _with_schema(kwargs: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """``kwargs`` with the answer schema inside a plain ``json_object`` response format (llama.cpp)."""
    if schema is not None and kwargs.get("response_format") == {"type": "json_object"}:
        kwargs["response_format"] = {"type": "json_object", "schema": schema}
    return kwargs


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "answer"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def explain(exc: BaseException, stats: CallStats) -> tuple[str, str]:
    """The error-record ``(type, message)`` for what ``ModelCaller.ask`` raised; re-raises ``EndpointError``
    and ``BudgetError`` (the spending limit stops the work).

    instructor wraps every failure in its own exception; the real cause is what ``cause_of`` finds.
    """
    cause = cause_of(exc)
    if isinstance(cause, EndpointError | BudgetError):
        raise cause
    attempts = f"after {stats.requests} attempt(s)"
    if isinstance(cause, ValidationError):
        return "invalid_output", f"answer invalid {attempts}: {_validation_message(cause)}"
    if isinstance(cause, json.JSONDecodeError):
        return "invalid_output", f"answer invalid {attempts}: not JSON: {cause.msg}"
    failure: Failure = classify(cause)
    if failure.kind == "error":
        if is_incomplete(cause):
            failure = Failure("incomplete_output", "the answer was cut off (max tokens reached)")
        elif gave_up(cause):
            failure = Failure("invalid_output", str(cause))
    status = f" (HTTP {failure.status_code})" if failure.status_code else ""
    return failure.kind, f"{failure.kind.replace('_', ' ')}{status} {attempts}: {failure.message}"
