"""Anthropic's Messages API (``--model anthropic:claude-...``, or a base URL on ``api.anthropic.com``),
through the official ``anthropic`` SDK (extra ``prelabel[anthropic]``) and instructor's Anthropic tools mode.

The SOP prefix (the system prompt, byte-identical across items) is sent as a system block marked
``cache_control: {type: ephemeral}``, so every item after the first reads it from Anthropic's prompt cache;
``usage.cache_creation_input_tokens`` (cache writes) and ``cache_read_input_tokens`` (cache reads) are
counted. Images go as ``image`` blocks (base64 source for embedded files, URL source for http(s) URLs).
Rate-limit headers (``anthropic-ratelimit-*``) pace the run as OpenAI's ``x-ratelimit-*`` do; 429 and 529
(overloaded) are retried honouring ``retry-after``. The key is ``ANTHROPIC_API_KEY``, the base URL
``ANTHROPIC_BASE_URL`` (or ``--base-url``). No ``--batch-api`` (Message Batches are not wired yet).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import inspect
import json
import time
from collections.abc import Mapping
from typing import Any

from prelabel.errors import EndpointError
from prelabel.llm.registry import Backend, host_port
from prelabel.llm.retry import MalformedResponse, ProviderError
from prelabel.llm.usage import Usage
from prelabel.llm.wire import Call, Wire, header_map

PREFIX = "anthropic:"
DEFAULT_MAX_TOKENS = 1024
"""``max_tokens`` when ``--max-tokens`` is not given (Anthropic requires one; an answer is far shorter)."""
CACHE_CONTROL = {"type": "ephemeral"}


def _image(url: str) -> dict[str, Any]:
    """An OpenAI ``image_url`` as an Anthropic image block: a data URL as base64, anything else by URL."""
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[len("data:") :].partition(";base64,")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _part(part: Any) -> Any:
    if isinstance(part, dict) and part.get("type") == "image_url":
        return _image(str(part["image_url"]["url"]))
    return part


def _seconds_until(stamp: str | None, now: float) -> float | None:
    """Seconds from ``now`` to an RFC 3339 time (``anthropic-ratelimit-*-reset``), never below 0."""
    if not stamp:
        return None
    try:
        when = dt.datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(when.timestamp() - now, 0.0)


def openai_style(headers: Any) -> dict[str, str]:
    """Anthropic's response headers, plus their rate-limit state as OpenAI names it
    (``x-ratelimit-remaining-requests``, ``x-ratelimit-reset-tokens`` in seconds), which ``llm.ratelimit``
    and ``llm.retry`` read.

    >>> past = "2000-01-01T00:00:00Z"
    >>> headers = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": past}
    >>> openai_style(headers)["x-ratelimit-reset-requests"]
    '0.000'
    """
    out = header_map(headers)
    now = time.time()
    for kind in ("requests", "tokens"):
        remaining = out.get(f"anthropic-ratelimit-{kind}-remaining")
        if remaining is not None:
            out.setdefault(f"x-ratelimit-remaining-{kind}", remaining)
        reset = _seconds_until(out.get(f"anthropic-ratelimit-{kind}-reset"), now)
        if reset is not None:
            out.setdefault(f"x-ratelimit-reset-{kind}", f"{reset:.3f}")
    return out


class AnthropicWire(Wire):
    """Anthropic's Messages API: system blocks with ``cache_control``, image blocks, tool use."""

    provider = "anthropic"

    def prepare(
        self, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        out: list[Any] = []
        for message in messages:
            content = message.get("content")
            if message.get("role") == "system" and isinstance(content, str):
                # instructor moves system messages' blocks into ``system`` as they are
                content = [{"type": "text", "text": content, "cache_control": dict(CACHE_CONTROL)}]
            elif isinstance(content, list):
                content = [_part(part) for part in content]
            out.append({**message, "content": content})
        return out, options

    def sender(self, client: Any) -> Call:
        import anthropic

        create = client.messages.with_raw_response.create
        in_thread = isinstance(client, anthropic.Anthropic)

        async def call(kwargs: dict[str, Any], timeout: float | None) -> tuple[Any, Mapping[str, str]]:
            extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            try:
                if in_thread:
                    raw = await asyncio.to_thread(functools.partial(create, **kwargs, **extra))
                else:
                    raw = await create(**kwargs, **extra)
            except anthropic.APIStatusError as exc:
                headers = openai_style(exc.response.headers)
                raise ProviderError(
                    exc.message, status_code=exc.status_code, body=exc.body, headers=headers
                ) from exc
            except anthropic.APITimeoutError as exc:
                raise ProviderError("request timed out", timeout=True) from exc
            except anthropic.APIConnectionError as exc:
                raise ProviderError(str(exc.__cause__ or exc)) from exc
            parsed = raw.parse()  # the async client's is a coroutine
            if inspect.isawaitable(parsed):
                parsed = await parsed
            return parsed, openai_style(raw.headers)

        return call

    def check(self, response: Any) -> None:
        from anthropic.types import Message

        if not isinstance(response, Message):
            raise MalformedResponse(f"response is not an Anthropic message: {str(response)[:200]!r}")

    def usage(self, response: Any) -> Usage:
        usage = getattr(response, "usage", None)
        if usage is None:
            return Usage()
        read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        written = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        fresh = int(getattr(usage, "input_tokens", 0) or 0)
        return Usage(
            prompt_tokens=fresh
            + written
            + read,  # as OpenAI counts it: the whole prompt, cached part included
            completion_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cached_tokens=read,
            cache_write_tokens=written,
        )

    def output(self, response: Any) -> str | None:
        blocks = getattr(response, "content", None) or []
        for block in blocks:
            if getattr(block, "type", None) == "tool_use":
                return json.dumps(getattr(block, "input", None), ensure_ascii=False)
        texts = [
            str(getattr(block, "text", "")) for block in blocks if getattr(block, "type", None) == "text"
        ]
        return "".join(texts) if texts else None


_WIRE = AnthropicWire()


class Anthropic(Backend):
    name = "anthropic"
    title = "Anthropic's API"
    order = 10  # the model prefix says it all: before the plugins and the URL guesses
    needs_key = True
    batch_api = False
    no_batch_api = (
        "--batch-api does not serve Anthropic yet (Message Batches are not wired into prelabel's batch "
        "runs); run without --batch-api (the SOP prefix is still read from the prompt cache)"
    )
    key_env = ("ANTHROPIC_API_KEY",)
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"

    def detect(self, base_url: str | None, model: str) -> bool:
        return model.startswith(PREFIX) or host_port(base_url)[0] == "api.anthropic.com"

    def request_options(self, model: str, options: dict[str, Any]) -> dict[str, Any]:
        """The model without its ``anthropic:`` prefix, a ``max_tokens`` always (Anthropic requires one), no
        ``logprobs`` (Anthropic has none) and no ``temperature`` (SDK 2.x's ``messages.create`` takes
        none)."""
        out = {key: value for key, value in options.items() if key not in ("logprobs", "temperature")}
        out["model"] = model.removeprefix(PREFIX)
        out.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        return out

    def client(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        sync: bool = False,
        timeout: float | None = None,
        max_retries: int = 0,
        connections: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """An ``anthropic.AsyncAnthropic`` (``sync=True``: ``anthropic.Anthropic``), its own retries off."""
        try:
            import anthropic
        except ImportError as exc:
            raise EndpointError(
                "the anthropic backend needs the 'anthropic' extra: "
                f"pip install 'prelabel[anthropic]' ({exc})"
            ) from None
        kwargs: dict[str, Any] = {"api_key": api_key, "max_retries": max_retries}
        if base_url:
            kwargs["base_url"] = base_url
        if timeout is not None:
            kwargs["timeout"] = timeout
        if connections is not None and not sync:
            import httpx2

            limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
            kwargs["http_client"] = anthropic.DefaultAsyncHttpxClient(limits=limits)
        return anthropic.Anthropic(**kwargs) if sync else anthropic.AsyncAnthropic(**kwargs)

    def wire(self) -> Any:
        return _WIRE
