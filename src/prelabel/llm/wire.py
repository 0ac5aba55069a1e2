"""Wire formats: how one provider's API takes a request and gives its answer, for the one model caller.

``ModelCaller`` (``llm.caller``) is provider-neutral: it asks the endpoint's backend for its ``Wire``
(``Backend.wire``; ``None``: this module's ``Wire``, OpenAI's chat completions) and leaves to it what differs
between providers — instructor's provider name, the messages in the provider's shape (``prepare``: the SOP
prefix marked for prompt caching, images in the provider's format), the raw call returning the answer and the
response headers (``sender``), whether an answer is one at all (``check``), its usage, its raw output, and
the SDK's failures in neutral terms (``retry.ProviderError``, which ``retry.classify`` reads). The native
backends' wires are in ``llm/backends/anthropic.py`` and ``llm/backends/gemini.py``.

    >>> Wire().provider, Wire().prepare([{"role": "user", "content": "hi"}], {"model": "m"})[1]
    ('openai', {'model': 'm'})
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from prelabel.llm.retry import MalformedResponse
from prelabel.llm.usage import Usage, usage_from_completion

__all__ = ["Call", "Wire", "header_map"]

Call = Callable[[dict[str, Any], "float | None"], Awaitable[tuple[Any, Mapping[str, str]]]]
"""A wire's raw call: request keyword arguments and a deadline in seconds (``None``: none) to the answer and
the response headers."""


def header_map(headers: Any) -> dict[str, str]:
    """Response headers as a plain dict with lower-cased names (any SDK's headers object, or ``None``)."""
    if headers is None:
        return {}
    items = headers.items() if hasattr(headers, "items") else headers
    return {str(name).lower(): str(value) for name, value in items}


class Wire:
    """OpenAI's chat completions (every OpenAI-compatible server): subclass it for another API."""

    provider: ClassVar[str] = "openai"
    """instructor's name of the provider (``instructor.Provider`` value) whose request and answer shapes
    its mode handlers build and parse."""

    def prepare(
        self, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """The rendered chat ``messages`` (system = SOP prefix, user = item) and request ``options`` as this
        provider takes them, before instructor adds the answer schema."""
        return messages, options

    def sender(self, client: Any) -> Call:
        """The raw ``chat.completions.create`` of ``client`` (async, or a sync client in a thread)."""
        import openai

        create = client.chat.completions.with_raw_response.create
        in_thread = isinstance(client, openai.OpenAI)

        async def call(kwargs: dict[str, Any], timeout: float | None) -> tuple[Any, Mapping[str, str]]:
            extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            if in_thread:
                raw = await asyncio.to_thread(functools.partial(create, **kwargs, **extra))
            else:
                raw = await create(**kwargs, **extra)
            return raw.parse(), raw.headers

        return call

    async def close(self, client: Any) -> None:
        """Close ``client`` (its connection pool)."""
        await client.close()

    def error_headers(self, exc: BaseException) -> Mapping[str, str] | None:
        """The response headers a failed request carried (rate-limit state), if any."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            return exc.response.headers
        return getattr(exc, "headers", None)

    def check(self, response: Any) -> None:
        """Raise ``MalformedResponse`` when ``response`` is not an answer of this API."""
        from openai.types.chat import ChatCompletion

        if not isinstance(response, ChatCompletion) or not getattr(response, "choices", None):
            raise MalformedResponse(f"response is not a chat completion: {str(response)[:200]!r}")

    def usage(self, response: Any) -> Usage:
        """The tokens ``response`` reports (zeros when it reports none)."""
        return usage_from_completion(response)

    def output(self, response: Any) -> str | None:
        """The model's raw answer: tool-call arguments, else message content."""
        choices = getattr(response, "choices", None) or []
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


OPENAI_CHAT = Wire()
