"""instructor, behind this one module and through its public API only.

Every use of instructor in prelabel is here: its modes (``Mode``, the ``--mode`` names), the answer model
prepared once per run (``PreparedAnswer``) and the failures its retry loop raises (``cause_of``). The names
used are public ones: ``instructor.Mode``, ``instructor.patch``, ``instructor.response_schema`` and, from
``instructor.core``, ``retry_async``, ``Hooks`` and the exceptions; so any instructor 1.x will do.

instructor's patched ``create`` prepares the answer model on every call (wraps it in a ``ResponseSchema``
with ``pydantic.create_model``, regenerates its schema, walks it for async validators five times): about
1.7 ms of CPU per item. ``PreparedAnswer`` wraps the model once (``instructor.response_schema``), learns the
request's tool or response-format arguments once from instructor's own patched ``create`` (a first call
whose request is captured, never sent), and runs each call through instructor's public retry loop
(``instructor.core.retry_async``): the same parsing, validation, re-asks and hooks as the patched ``create``.
Modes that write the schema into the messages (JSON, MD_JSON) are prepared once per shape of conversation
(the roles of its messages): instructor prepares one with placeholder contents, the placeholders are filled
per request, and the first request of each shape is checked against instructor's own preparation of it.
Transport retries are not instructor's (it retries invalid answers only): see ``prelabel.llm.retry``.

    >>> from pydantic import BaseModel
    >>> class Answer(BaseModel):
    ...     label: str
    >>> prepared = PreparedAnswer(Answer, Mode.TOOLS)
    >>> body = prepared.request([{"role": "user", "content": "hi"}], {"model": "m"})
    >>> body["tool_choice"], body["messages"][0]["content"]
    ({'type': 'function', 'function': {'name': 'Answer'}}, 'hi')
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import instructor  # a lazy package: ``instructor.Mode`` loads only its enum
from pydantic import BaseModel

from prelabel.errors import InputError

if TYPE_CHECKING:
    from instructor import ResponseSchema

__all__ = [
    "MODES",
    "SCHEMA_IN_JSON_OBJECT",
    "TOOL_MODES",
    "Mode",
    "PreparedAnswer",
    "call_mode",
    "cause_of",
    "gave_up",
    "is_incomplete",
    "mode_key",
    "parse_mode",
]

Mode = instructor.Mode
"""instructor's modes (``Mode.TOOLS``, ``Mode.JSON_SCHEMA``, ...)."""

#: Friendly mode names accepted by ``--mode`` (instructor mode values are accepted too).
MODES: dict[str, Mode] = {
    "tools": Mode.TOOLS,
    "json_schema": Mode.JSON_SCHEMA,
    "json": Mode.JSON,
    "json_object_schema": Mode.JSON,  # + the schema in response_format (llama.cpp servers)
    "md_json": Mode.MD_JSON,
}
SCHEMA_IN_JSON_OBJECT = "json_object_schema"
"""The mode name that sends the schema inside a plain ``json_object`` response format (see ``Endpoint``)."""
TOOL_MODES = (Mode.TOOLS, Mode.TOOLS_STRICT, Mode.FUNCTIONS)
"""Modes whose answer comes back as tool-call arguments (no token log-probabilities there)."""
_CALL_MODES = {Mode.FUNCTIONS: Mode.TOOLS, Mode.TOOLS_STRICT: Mode.TOOLS, Mode.JSON_O1: Mode.JSON_SCHEMA}
_PROBE = ({"role": "system", "content": "\x00probe"}, {"role": "user", "content": "\x00probe"})
_PLACEHOLDER = re.compile("\x00prelabel:([0-9]+)\x00")
_Shape = tuple[tuple[Any, tuple[str, ...]], ...]

# instructor logs every failed attempt at ERROR; prelabel reports them as results. Without a handler, Python's
# last-resort handler prints them; with this one they still reach any logging the application sets up.
logging.getLogger("instructor").addHandler(logging.NullHandler())


def mode_key(value: str) -> str:
    """A mode name as ``MODES`` spells it (``JSON-Schema`` -> ``json_schema``)."""
    return value.strip().lower().replace("-", "_")


def parse_mode(value: str | Mode) -> Mode:
    """An instructor mode from a name (``tools``, ``json_schema``, ``json``, ``md_json``) or a mode.

    >>> parse_mode("json-schema").name
    'JSON_SCHEMA'
    """
    if isinstance(value, Mode):
        return value
    key = mode_key(value)
    if key in MODES:
        return MODES[key]
    for mode in Mode:
        if key in (mode.name.lower(), mode.value.lower()):
            return mode
    raise InputError(f"unknown mode '{value}'; use one of: {', '.join(MODES)}")


def call_mode(mode: Mode) -> Mode:
    """The mode requests are sent in: deprecated aliases (FUNCTIONS, TOOLS_STRICT, JSON_O1) as their
    successors, which OpenAI-compatible servers answer the same way."""
    return _CALL_MODES.get(mode, mode)


def cause_of(exc: BaseException) -> BaseException:
    """What really failed: instructor wraps each failure of its retry loop in ``InstructorRetryException``."""
    from instructor.core import InstructorRetryException

    cause = exc
    while isinstance(cause, InstructorRetryException) and cause.__cause__ is not None:
        cause = cause.__cause__
    return cause


def gave_up(exc: BaseException) -> bool:
    """True when instructor's retry loop ran out of re-asks (its message names the last failure)."""
    from instructor.core import InstructorRetryException

    return isinstance(exc, InstructorRetryException)


def is_incomplete(exc: BaseException) -> bool:
    """True when the answer was cut off (``finish_reason: length``)."""
    from instructor.core import IncompleteOutputException

    return isinstance(exc, IncompleteOutputException)


class PreparedAnswer:
    """``response_model`` prepared for instructor in ``mode`` for ``provider`` (``instructor.Provider``'s
    value: ``openai`` for every OpenAI-compatible chat endpoint, ``anthropic``, ``genai``), once.

    A native provider's request (Anthropic's system blocks and tools, Gemini's config with the system
    instruction and the function declaration) is prepared by instructor's handler once per system prompt,
    options and shape of the item's turns: later requests of the same kind reuse it with their own turns,
    once instructor's own preparation of the first one showed that this gives exactly the same request.
    """

    def __init__(self, response_model: type[BaseModel], mode: Mode, provider: str = "openai"):
        self.mode = mode
        self.provider = instructor.Provider(provider)
        # the same name and schema, with ResponseSchema's parsing (``from_response``)
        self.model = cast("type[ResponseSchema]", instructor.response_schema(response_model))
        self._prepare = _Preparer(self.model, mode, self.provider)
        self._templates: dict[_Shape, list[dict[str, Any]] | None] = {}
        self._natives: dict[tuple[str, str, tuple[Any, ...]], tuple[str, list[tuple[str, Any]]] | None] = {}
        self.per_request = True
        self.fixed: dict[str, Any] = {}
        if self.provider is not instructor.Provider.OPENAI:
            return
        probe = self._prepare([dict(message) for message in _PROBE], {})
        self.per_request = probe.pop("messages") != list(_PROBE)  # the schema goes into the messages
        self.fixed = probe  # tools and tool_choice, or response_format

    def request(self, messages: list[dict[str, Any]], base: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the first request for ``messages`` (``base``: model, temperature, ...):
        what ``ask`` sends first, and a Batch API line's body (keys in instructor's order)."""
        if not self.per_request:
            return {"messages": list(messages), **base, **self.fixed}
        if self.provider is not instructor.Provider.OPENAI:
            return self._native_request(messages, base)
        shape = _shape(messages)
        template = self._templates.get(shape) if shape is not None else None
        if template is not None:
            return {"messages": _fill(template, messages), **base, **self.fixed}
        prepared = self._prepare(list(messages), base)
        if shape is not None and shape not in self._templates:
            self._templates[shape] = self._template(messages, base, prepared)
        return prepared

    def _native_request(self, messages: list[Any], base: dict[str, Any]) -> dict[str, Any]:
        """A native provider's request: instructor's for the first of its kind, then the same with these
        turns (see the class docstring)."""
        system = [m for m in messages if isinstance(m, dict) and m.get("role") == "system"]
        turns = [m for m in messages if not (isinstance(m, dict) and m.get("role") == "system")]
        key = (repr(system), repr(base), tuple(_turn_shape(turn) for turn in turns))
        if key in self._natives:
            learned = self._natives[key]
            if learned is not None:
                turns_at, items = learned
                return {name: list(turns) if name == turns_at else value for name, value in items}
            return self._prepare(list(messages), base)
        prepared = self._prepare(list(messages), base)
        found = next((name for name in ("messages", "contents") if prepared.get(name) == turns), None)
        self._natives[key] = None if found is None else (found, list(prepared.items()))
        return prepared

    def _template(
        self, messages: list[dict[str, Any]], base: dict[str, Any], prepared: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """instructor's messages for this shape with placeholder contents, if filling them in gives exactly
        what instructor ``prepared`` for ``messages`` (else ``None``: this shape is prepared per request)."""
        marked = [{**message, "content": f"\x00prelabel:{i}\x00"} for i, message in enumerate(messages)]
        template = self._prepare(marked, {})["messages"]
        filled = {"messages": _fill(template, messages), **base, **self.fixed}
        return template if list(filled.items()) == list(prepared.items()) else None

    async def ask(
        self,
        send: Callable[..., Awaitable[Any]],
        messages: list[dict[str, Any]],
        base: dict[str, Any],
        max_reasks: int,
        on_response: Callable[[Any], None],
    ) -> BaseModel:
        """The validated answer: instructor's retry loop (re-asks on invalid answers) around ``send``;
        ``on_response`` sees every completion (re-asks included)."""
        from instructor.core import Hooks, retry_async

        hooks = Hooks()
        hooks.on("completion:response", on_response)
        answer = await retry_async(
            func=send,
            response_model=self.model,
            args=(),
            kwargs=self.request(messages, base),
            max_retries=max_reasks,
            strict=True,
            mode=self.mode,
            provider=self.provider,
            hooks=hooks,
        )
        return cast(BaseModel, answer)  # None only without a response model

    def parse(self, completion: Any) -> BaseModel:
        """Validate a chat completion obtained elsewhere (a Batch API output line) as ``ask`` validates an
        answer, without re-asks; raises what instructor raises (a ``ValidationError``, ...)."""
        return self.model.from_response(completion, strict=True, mode=self.mode)


def _shape(messages: list[dict[str, Any]]) -> _Shape | None:
    """The roles and keys of ``messages`` when every content is text (else ``None``)."""
    if not all(isinstance(message.get("content"), str) for message in messages):
        return None
    return tuple((message.get("role"), tuple(message)) for message in messages)


def _turn_shape(turn: Any) -> Any:
    """What instructor's preparation of a native provider's request may depend on in one turn: its kind,
    role and the kinds of its parts (never its text)."""
    if isinstance(turn, dict):
        content = turn.get("content")
        if isinstance(content, list):
            return ("dict", turn.get("role"), tuple(_part_kind(part) for part in content))
        return ("dict", turn.get("role"), type(content).__name__)
    parts = getattr(turn, "parts", None) or []
    return (type(turn).__name__, getattr(turn, "role", None), tuple(_part_kind(part) for part in parts))


def _part_kind(part: Any) -> Any:
    if isinstance(part, dict):
        return part.get("type"), tuple(sorted(part))
    if hasattr(part, "model_fields_set"):  # a pydantic part (google.genai.types.Part)
        return type(part).__name__, tuple(sorted(part.model_fields_set))
    return type(part).__name__


def _fill(template: list[dict[str, Any]], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``template`` with each placeholder replaced by that message's content (in one pass)."""
    contents = [message["content"] for message in messages]

    def content(match: re.Match[str]) -> str:
        return str(contents[int(match.group(1))])

    def filled(value: Any) -> Any:
        return _PLACEHOLDER.sub(content, value) if isinstance(value, str) else value

    return [{key: filled(value) for key, value in message.items()} for message in template]


class _Preparer:
    """The request instructor's patched ``create`` would send for ``model`` in ``mode``, captured where it
    would be sent and never sent."""

    def __init__(self, model: type[ResponseSchema], mode: Mode, provider: instructor.Provider):
        self.model = model
        self.create = instructor.patch(create=_capture, mode=mode, provider=provider)

    def __call__(self, messages: list[dict[str, Any]], base: dict[str, Any]) -> dict[str, Any]:
        try:
            self.create(response_model=self.model, messages=messages, max_retries=0, **base)
        except _captured_type() as done:
            request: dict[str, Any] = getattr(done, "request")  # noqa: B009
            return request
        raise AssertionError("instructor's create returned without sending")  # pragma: no cover


@functools.cache
def _captured_type() -> type[Exception]:
    """The exception ``_capture`` raises: an ``IncompleteOutputException``, the one failure instructor's
    retry loop passes on at once, without logging it or re-asking."""
    from instructor.core import IncompleteOutputException

    class Captured(IncompleteOutputException):
        def __init__(self, request: dict[str, Any]):
            super().__init__(message="request captured, not sent")
            self.request = request

    return Captured


def _capture(**kwargs: Any) -> Any:
    raise _captured_type()(dict(kwargs))
