"""instructor's per-request preparation, done once per answer model.

instructor's patched ``create`` rebuilds the answer model on every call (``prepare_response_model`` wraps it
with ``pydantic.create_model``, the request handler regenerates its JSON schema, ``reject_async_validators``
walks it several times): about 1.7 ms of CPU per item. ``PreparedAnswer`` does that once, keeps the request's
tool / response-format arguments, and runs each call through instructor's own retry loop
(``retry_async_v2``): the same parsing, validation, re-asks and hooks as the patched ``create``. Modes that
write the schema into the messages (JSON, MD_JSON) still let instructor's handler prepare each request.

    >>> import instructor
    >>> from pydantic import BaseModel
    >>> class Answer(BaseModel):
    ...     label: str
    >>> prepared = PreparedAnswer(Answer, instructor.Mode.TOOLS)
    >>> body = prepared.request([{"role": "user", "content": "hi"}], {"model": "m"})
    >>> body["tool_choice"], body["messages"][0]["content"]
    ({'type': 'function', 'function': {'name': 'Answer'}}, 'hi')
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

__all__ = ["PreparedAnswer"]

_PROBE = ({"role": "system", "content": "\x00probe"}, {"role": "user", "content": "\x00probe"})


class PreparedAnswer:
    """``response_model`` prepared for instructor in ``mode`` (an OpenAI-compatible chat endpoint)."""

    def __init__(self, response_model: type[BaseModel], mode: Any):
        from instructor.v2.core.providers import Provider
        from instructor.v2.core.registry import mode_registry
        from instructor.v2.core.response_model import prepare_response_model

        self.mode = mode
        self.provider = Provider.OPENAI
        self.handlers = mode_registry.get_handlers(self.provider, mode)
        probe = [dict(message) for message in _PROBE]
        model, kwargs = self.handlers.request_handler(
            response_model=prepare_response_model(response_model), kwargs={"messages": probe}
        )
        self.model: Any = model  # a subclass of response_model (instructor's ResponseSchema)
        self.per_request = kwargs.pop("messages") != list(_PROBE)  # the schema goes into the messages
        self.fixed = kwargs  # tools and tool_choice, or response_format

    def request(self, messages: list[dict[str, Any]], base: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the first request for ``messages`` (``base``: model, temperature, ...)."""
        if self.per_request:
            _, kwargs = self.handlers.request_handler(
                response_model=self.model, kwargs={**base, "messages": list(messages)}
            )
            return dict(kwargs)
        return {**base, **self.fixed, "messages": list(messages)}

    async def ask(
        self,
        send: Callable[..., Awaitable[Any]],
        messages: list[dict[str, Any]],
        base: dict[str, Any],
        max_reasks: int,
        hooks: Any,
    ) -> BaseModel:
        """The validated answer: instructor's retry loop (re-asks on invalid answers) around ``send``."""
        from instructor.v2.core.retry import retry_async_v2

        answer = await retry_async_v2(
            func=send,
            response_model=self.model,
            provider=self.provider,
            mode=self.mode,
            context=None,
            max_retries=max_reasks,
            args=(),
            kwargs=self.request(messages, base),
            strict=True,
            hooks=hooks,
        )
        return answer
