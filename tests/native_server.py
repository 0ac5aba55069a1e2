"""Loopback servers speaking Anthropic's and Gemini's wire formats, for the native backends' tests
(importable like ``helpers``).

``WireServer(respond)`` answers every POST with ``respond(index, body)`` -> ``(status, headers, body)`` and
logs each request (``path``, ``headers``, JSON ``body``, arrival time). The bodies are written from the
providers' API references:

- Anthropic Messages: https://docs.anthropic.com/en/api/messages (response ``type: message`` with
  ``tool_use`` content blocks and ``usage.cache_creation_input_tokens`` / ``cache_read_input_tokens``),
  https://docs.anthropic.com/en/api/errors (``{"type": "error", "error": {"type": "overloaded_error", ...}}``,
  429 ``rate_limit_error`` with ``retry-after``, 529 overloaded) and
  https://docs.anthropic.com/en/api/rate-limits (``anthropic-ratelimit-*`` headers, RFC 3339 resets).
- Gemini generateContent: https://ai.google.dev/api/generate-content (``candidates[].content.parts[]
  .functionCall``, ``usageMetadata.cachedContentTokenCount``) and https://ai.google.dev/gemini-api/docs/
  troubleshooting (``{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [RetryInfo]}}``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Response = tuple[int, dict[str, str], dict[str, Any]]
Respond = Callable[[int, dict[str, Any]], Response]

ANSWER = {
    "rationale": "The parcel has not arrived.",
    "label": "logistics.late_delivery",
    "cited_rules": ["R1"],
    "confidence": 0.9,
}


@dataclass
class Logged:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class WireServer:
    """A loopback HTTP server: ``respond(index, body)`` answers each POST; ``requests`` logs them."""

    def __init__(self, respond: Respond):
        self.respond = respond
        self.requests: list[Logged] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    index = len(server.requests)
                    server.requests.append(
                        Logged(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                status, headers, payload = server.respond(index, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def scripted(*script: Response, default: Respond) -> Respond:
    """``script``'s responses in order, then ``default``'s."""

    def respond(index: int, body: dict[str, Any]) -> Response:
        return script[index] if index < len(script) else default(index, body)

    return respond


# --- Anthropic ----------------------------------------------------------------------------------------------


def anthropic_tool_name(body: dict[str, Any]) -> str:
    return str(body["tools"][0]["name"])


def anthropic_message(
    body: dict[str, Any], answer: dict[str, Any] | None = None, *, written: int = 0, read: int = 0
) -> dict[str, Any]:
    """A Messages API answer calling the request's tool with ``answer``."""
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude"),
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": anthropic_tool_name(body),
                "input": ANSWER if answer is None else answer,
            }
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 25,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": 40,
        },
    }


def anthropic_cached(index: int, body: dict[str, Any]) -> Response:
    """Answers as Anthropic's cache does: the first request writes the system prefix, the others read it."""
    first = index == 0
    return 200, {}, anthropic_message(body, written=1500 if first else 0, read=0 if first else 1500)


def anthropic_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return status, dict(headers or {}), {"type": "error", "error": {"type": kind, "message": message}}


# --- Gemini -------------------------------------------------------------------------------------------------


def gemini_function_name(body: dict[str, Any]) -> str:
    return str(body["tools"][0]["functionDeclarations"][0]["name"])


def gemini_answer(
    body: dict[str, Any], answer: dict[str, Any] | None = None, *, cached: int = 0
) -> dict[str, Any]:
    """A generateContent answer calling the request's function with ``answer``."""
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {
                                "name": gemini_function_name(body),
                                "args": ANSWER if answer is None else answer,
                            }
                        }
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 1525,
            "candidatesTokenCount": 40,
            "totalTokenCount": 1565,
            "cachedContentTokenCount": cached,
        },
        "modelVersion": "gemini-2.5-flash",
    }


def gemini_cached(index: int, body: dict[str, Any]) -> Response:
    """Answers as Gemini's implicit caching does: the requests after the first read the system prefix."""
    return 200, {}, gemini_answer(body, cached=0 if index == 0 else 1024)


def gemini_error(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    return (
        status,
        {},
        {"error": {"code": status, "message": message, "status": code, "details": details or []}},
    )
