"""Test helpers: a scripted fake OpenAI-compatible model, over ``httpx2.MockTransport`` or a loopback server.

``FakeModel`` answers ``POST .../chat/completions`` the way an OpenAI-compatible server does, in whatever
shape the request asks for (a forced tool call, or JSON content for ``response_format`` / JSON modes).
Replies come from a script (consumed in order), then from ``default`` — by default a valid answer with the
first label the request's schema allows. Every request is logged. Faults are ordinary replies::

    fake = FakeModel([Reply.error(429, headers={"retry-after": "0.1"}), Reply.answer("product.damaged")])
    client = fake.async_client()                  # openai.AsyncOpenAI over httpx2.MockTransport
    with FakeServer(fake) as server:              # a real HTTP server on 127.0.0.1
        Labeler(sop, base_url=server.url, api_key="test")

Reply kinds: ``answer`` (schema-valid or not), ``raw`` (any assistant text: off-schema answers), ``error``
(status, body, headers: 401, 404, 429 with Retry-After, ``insufficient_quota``, 5xx), ``malformed`` (a 200
whose body is not JSON), ``timeout`` and ``disconnect``; any reply can carry ``delay`` seconds of latency.
A request with ``logprobs: true`` gets token log-probabilities of the content (``Reply.answer(label,
label_prob=0.3)`` sets the label's probability), none in tools mode, as OpenAI.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2

from prelabel.testing._replies import Reply, RequestRecord, dump, first_choice, logprobs_of
from prelabel.testing.fake_batch import FakeBatchAPI

__all__ = ["FakeModel", "FakeServer", "Reply", "RequestRecord"]


class FakeModel:
    """A scripted fake OpenAI-compatible chat model with a request log.

    ``script`` replies are used first, in order; then ``default`` (a ``Reply``, or a function of the
    ``RequestRecord`` returning one). ``latency`` adds seconds to every reply.
    """

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        default: Reply | Callable[[RequestRecord], Reply] | None = None,
        latency: float = 0.0,
        model: str = "fake-model",
    ):
        self.script = list(script)
        self.default = default if default is not None else Reply.answer()
        self.latency = latency
        self.model = model
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._counter = 0
        self.batch_api = FakeBatchAPI(self)
        """The fake Files and Batches endpoints (``prelabel.testing.fake_batch``)."""

    def next_reply(self, record: RequestRecord) -> Reply:
        """Log ``record`` and choose its reply."""
        with self._lock:
            self.requests.append(record)
            if self.script:
                return self.script.pop(0)
        return self.default(record) if callable(self.default) else self.default

    def respond(
        self, path: str, headers: dict[str, str], body: bytes, method: str = "POST"
    ) -> tuple[Reply, int, dict[str, str], bytes]:
        """The reply, status, headers and body for one request (shared by transport and server)."""
        if self.batch_api.handles(path):
            status, out_headers, payload = self.batch_api.respond(method, path, headers, body)
            return Reply("batch_api", status=status), status, out_headers, payload
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        record = RequestRecord(path=path, headers=headers, body=data, time=time.monotonic())
        if not path.rstrip("/").endswith("/chat/completions"):
            return Reply("error"), 404, {}, json.dumps({"error": {"message": f"no route {path}"}}).encode()
        reply = self.next_reply(record)
        reply = replace(reply, delay=reply.delay + self.latency)
        if reply.kind == "error":
            return (
                reply,
                reply.status,
                {"content-type": "application/json", **reply.headers},
                dump(reply.content),
            )
        if reply.kind == "malformed":
            return reply, 200, {"content-type": "application/json"}, bytes(reply.content)
        if reply.kind in ("timeout", "disconnect"):
            return reply, 0, {}, b""
        headers = {"content-type": "application/json", **reply.headers}
        return reply, 200, headers, dump(self._completion(record, reply))

    def _completion(self, record: RequestRecord, reply: Reply) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            number = self._counter
        if reply.kind == "raw":
            output = str(reply.content)
        else:
            answer = dict(reply.content)
            schema = record.schema
            for key in ("label", "labels"):
                if key in answer and answer[key] is None:
                    multi = bool(schema and "labels" in schema.get("properties", {}))
                    answer.pop(key)
                    answer["labels" if multi else "label"] = first_choice(
                        schema, "labels" if multi else "label"
                    )
            output = json.dumps(answer, ensure_ascii=False)
        message: dict[str, Any] = {"role": "assistant", "content": output}
        tools = record.body.get("tools")
        if tools:
            name = tools[0]["function"]["name"]
            call = {
                "id": f"call_{number}",
                "type": "function",
                "function": {"name": name, "arguments": output},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = reply.finish_reason or ("tool_calls" if tools else "stop")
        # as OpenAI: log-probabilities when asked, of the content only (tool-call arguments carry none)
        logprobs = (
            logprobs_of(output, reply.label_prob) if record.body.get("logprobs") and not tools else None
        )
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "cached_tokens": 0, **(reply.usage or {})}
        cached = usage.pop("cached_tokens")
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": record.body.get("model", self.model),
            "choices": [{"index": 0, "finish_reason": finish, "message": message, "logprobs": logprobs}],
            "usage": {
                **usage,
                "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }

    # -------------------------------------------------------------------------------------- mock transport

    def _handler(self, request: httpx2.Request) -> tuple[Reply, httpx2.Response | None]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.url.path
        if self.batch_api.handles(path) and request.url.query:  # the Batches list is paged by its query
            path = request.url.raw_path.decode("ascii")
        reply, status, out_headers, body = self.respond(path, headers, request.read(), request.method)
        if reply.kind == "timeout":
            raise httpx2.ReadTimeout("fake timeout", request=request)
        if reply.kind == "disconnect":
            raise httpx2.RemoteProtocolError("fake disconnect", request=request)
        return reply, httpx2.Response(status, headers=out_headers, content=body)

    def mock_transport(self) -> httpx2.MockTransport:
        """An ``httpx2.MockTransport`` answering as this fake (async: delays sleep without blocking)."""

        async def handle(request: httpx2.Request) -> httpx2.Response:
            reply, response = self._handler(request)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            assert response is not None
            return response

        return httpx2.MockTransport(handle)

    def sync_transport(self) -> httpx2.MockTransport:
        """An ``httpx2.MockTransport`` for sync clients."""

        def handle(request: httpx2.Request) -> httpx2.Response:
            reply, response = self._handler(request)
            if reply.delay:
                time.sleep(reply.delay)
            assert response is not None
            return response

        return httpx2.MockTransport(handle)

    def async_client(self, base_url: str = "http://fake/v1") -> Any:
        """An ``openai.AsyncOpenAI`` (``max_retries=0``) whose requests this fake answers in-process."""
        import openai

        http = httpx2.AsyncClient(transport=self.mock_transport())
        return openai.AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0, http_client=http)

    def client(self, base_url: str = "http://fake/v1") -> Any:
        """A sync ``openai.OpenAI`` (``max_retries=0``) whose requests this fake answers in-process."""
        import openai

        http = httpx2.Client(transport=self.sync_transport())
        return openai.OpenAI(api_key="test", base_url=base_url, max_retries=0, http_client=http)


class _QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that ignores clients hanging up (cancelled or timed-out requests)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """``FakeModel`` served over real HTTP on ``127.0.0.1`` (a free port) from a background thread.

    Use as a context manager; ``url`` is the base URL to pass as ``base_url`` / ``--base-url``.
    """

    def __init__(self, model: FakeModel | None = None):
        self.model = model or FakeModel()
        fake = self.model

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self, method: str = "POST") -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply, status, out_headers, payload = fake.respond(self.path, headers, body, method)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.kind in ("timeout", "disconnect"):
                    self.close_connection = True
                    return
                self.send_response(status)
                for key, value in out_headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if fake.batch_api.handles(self.path):
                    self.do_POST("GET")
                    return
                payload = dump({"object": "list", "data": [{"id": fake.model, "object": "model"}]})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="prelabel-fake", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:54321/v1``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log."""
        return self.model.requests

    def start(self) -> FakeServer:
        """Start serving (``with FakeServer(...)`` does this)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
