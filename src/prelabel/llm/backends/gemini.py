"""Google's Gemini API (``--model gemini:gemini-...``, or a base URL on
``generativelanguage.googleapis.com``), through the official ``google-genai`` SDK (extra ``prelabel[gemini]``)
and instructor's GenAI tools mode (a forced function call).

The SOP prefix goes as the ``system_instruction``, byte-identical across items, so Gemini's implicit caching
serves it (no marking needed); ``usage_metadata.cached_content_token_count`` is counted as cached tokens.
Images go as ``inline_data`` parts (embedded files) or ``file_data`` parts (URLs). A 429's ``RetryInfo``
delay is honoured as a ``Retry-After``; 429, 500 and 503 are retried. The key is ``GEMINI_API_KEY`` (or
``GOOGLE_API_KEY``), the base URL ``GOOGLE_GEMINI_BASE_URL`` (or ``--base-url``). No ``--batch-api``.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Mapping
from typing import Any

from prelabel.errors import EndpointError
from prelabel.llm.registry import Backend, host_port
from prelabel.llm.retry import MalformedResponse, ProviderError
from prelabel.llm.usage import Usage
from prelabel.llm.wire import Call, Wire, header_map

PREFIX = "gemini:"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_BAD_KEY = "API_KEY_INVALID"


def _part(part: Any) -> Any:
    """An OpenAI content part as a ``google.genai.types.Part``."""
    from google.genai import types

    if isinstance(part, dict) and part.get("type") == "image_url":
        url = str(part["image_url"]["url"])
        if url.startswith("data:") and ";base64," in url:
            mime, _, data = url[len("data:") :].partition(";base64,")
            return types.Part.from_bytes(data=base64.b64decode(data), mime_type=mime)
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return types.Part.from_uri(file_uri=url, mime_type=mime)
    text = part.get("text", "") if isinstance(part, dict) else str(part)
    return types.Part.from_text(text=str(text))


def _details(body: Any) -> list[dict[str, Any]]:
    """The ``details`` of a Gemini error body (``{"error": {"details": [...]}}``)."""
    error = body.get("error") if isinstance(body, dict) else None
    found = error.get("details") if isinstance(error, dict) else None
    return [detail for detail in found or [] if isinstance(detail, dict)]


def _retry_delay(body: Any) -> str | None:
    """The ``retryDelay`` of a Gemini error's ``RetryInfo`` (``"12s"`` -> ``"12"``), if it has one."""
    for detail in _details(body):
        if detail.get("@type") == _RETRY_INFO and detail.get("retryDelay"):
            return str(detail["retryDelay"]).removesuffix("s")
    return None


def _status(code: int, body: Any) -> int:
    """Gemini answers a bad key with 400 (``reason: API_KEY_INVALID``): an authentication failure (401)."""
    if code == 400 and any(detail.get("reason") == _BAD_KEY for detail in _details(body)):
        return 401
    return code


class GeminiWire(Wire):
    """Gemini's generateContent: a system instruction, contents of parts, a forced function call."""

    provider = "genai"

    def prepare(
        self, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        from google.genai import types

        system = [str(m["content"]) for m in messages if m.get("role") == "system"]
        out: list[Any] = []
        for message in messages:
            content = message.get("content")
            if message.get("role") == "system":
                continue
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            role = "model" if message.get("role") == "assistant" else "user"
            out.append(types.Content(role=role, parts=[_part(part) for part in parts]))
        # as ``system``, instructor's GenAI handlers take it as the system instruction as it is
        return out, ({**options, "system": "\n\n".join(system)} if system else options)

    def sender(self, client: Any) -> Call:
        import httpx2
        from google.genai import errors

        generate = client.aio.models.generate_content

        async def call(kwargs: dict[str, Any], timeout: float | None) -> tuple[Any, Mapping[str, str]]:
            try:
                response = await generate(**kwargs)
            except errors.APIError as exc:
                headers = header_map(getattr(exc.response, "headers", None))
                delay = _retry_delay(exc.details)
                if delay is not None and "retry-after" not in headers:
                    headers["retry-after"] = delay
                status = _status(exc.code, exc.details)
                raise ProviderError(
                    exc.message or str(exc), status_code=status, body=exc.details, headers=headers
                ) from exc
            except httpx2.TimeoutException as exc:
                raise ProviderError("request timed out", timeout=True) from exc
            except httpx2.TransportError as exc:
                raise ProviderError(str(exc) or type(exc).__name__) from exc
            raw = getattr(response, "sdk_http_response", None)
            return response, header_map(getattr(raw, "headers", None))

        return call

    async def close(self, client: Any) -> None:
        await client.aio.aclose()

    def check(self, response: Any) -> None:
        from google.genai import types

        if not isinstance(response, types.GenerateContentResponse) or not response.candidates:
            raise MalformedResponse(f"response is not a Gemini answer: {str(response)[:200]!r}")
        candidate = response.candidates[0]
        if (
            candidate.content is None or not candidate.content.parts
        ):  # e.g. MALFORMED_FUNCTION_CALL: ask again
            reason = getattr(candidate.finish_reason, "value", candidate.finish_reason)
            raise MalformedResponse(f"Gemini answered with no content (finish reason {reason})")

    def usage(self, response: Any) -> Usage:
        meta = getattr(response, "usage_metadata", None)
        if meta is None:
            return Usage()
        output = (meta.candidates_token_count or 0) + (getattr(meta, "thoughts_token_count", 0) or 0)
        return Usage(
            prompt_tokens=meta.prompt_token_count or 0,  # the cached part included, as OpenAI counts it
            completion_tokens=output,  # thinking tokens are billed as output
            cached_tokens=meta.cached_content_token_count or 0,
        )

    def output(self, response: Any) -> str | None:
        candidates = getattr(response, "candidates", None) or []
        content = getattr(candidates[0], "content", None) if candidates else None
        parts = getattr(content, "parts", None) or []
        for part in parts:
            call = getattr(part, "function_call", None)
            if call is not None:
                return json.dumps(call.args, ensure_ascii=False)
        texts = [str(part.text) for part in parts if getattr(part, "text", None)]
        return "".join(texts) if texts else None


_WIRE = GeminiWire()


class Gemini(Backend):
    name = "gemini"
    title = "the Gemini API"
    order = 10  # the model prefix says it all: before the plugins and the URL guesses
    needs_key = True
    batch_api = False
    no_batch_api = (
        "--batch-api does not serve Gemini yet (its batch mode is not wired into prelabel's batch runs); "
        "run without --batch-api"
    )
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"

    def detect(self, base_url: str | None, model: str) -> bool:
        return model.startswith(PREFIX) or host_port(base_url)[0] == "generativelanguage.googleapis.com"

    def request_options(self, model: str, options: dict[str, Any]) -> dict[str, Any]:
        """The model without its ``gemini:`` prefix; no ``logprobs``."""
        out = {key: value for key, value in options.items() if key != "logprobs"}
        out["model"] = model.removeprefix(PREFIX)
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
        """A ``google.genai.Client`` (its ``aio`` half answers; the same for ``sync``), its own retries off,
        over an ``httpx2`` client sized to ``connections``."""
        try:
            import httpx2
            import jsonref  # noqa: F401  (instructor's GenAI mode needs it)
            from google import genai
            from google.genai import types
        except ImportError as exc:
            raise EndpointError(
                f"the gemini backend needs the 'gemini' extra: pip install 'prelabel[gemini]' ({exc})"
            ) from None
        size = connections or 10
        limits = httpx2.Limits(max_connections=size, max_keepalive_connections=size)
        http = types.HttpOptions(
            base_url=base_url,
            timeout=None if timeout is None else int(timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=max_retries + 1),
            httpx_async_client=httpx2.AsyncClient(limits=limits, timeout=timeout),
        )
        return genai.Client(api_key=api_key, vertexai=False, http_options=http)

    def wire(self) -> Any:
        return _WIRE
