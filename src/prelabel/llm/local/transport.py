"""The openai clients of the embedded model: an httpx2 transport that answers from the model, not a socket.

By default the model runs in a worker process (``process.WorkerProcess``): one JSON frame per request over a
pipe, so a native crash becomes ``LocalModelCrashed`` (an ``EndpointError``) in the caller. ``isolated=False``
runs it in this process instead (slightly faster start; a crash then kills the process).

    >>> oai, aoai = local_clients()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai

from prelabel.errors import EndpointError
from prelabel.llm.endpoints import LOCAL_BASE_URL
from prelabel.llm.local.model import default_model_path, open_model, require_llama_cpp
from prelabel.llm.local.process import shared_worker

__all__ = ["AsyncLocalTransport", "LocalTransport", "local_clients"]

Answer = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]


class LocalTransport(httpx2.BaseTransport):
    """Sync ``httpx2`` transport answered by the embedded model."""

    def __init__(self, answer: Answer):
        self._answer = answer

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request."""
        status, body = self._answer(request.method, request.url.path, request.read())
        return httpx2.Response(status, json=body)


class AsyncLocalTransport(httpx2.AsyncBaseTransport):
    """Async ``httpx2`` transport: the model answers in a thread, one request at a time."""

    def __init__(self, answer: Answer):
        self._answer = answer

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request without blocking the event loop."""
        body = await request.aread()
        status, payload = await asyncio.to_thread(self._answer, request.method, request.url.path, body)
        return httpx2.Response(status, json=payload)


def local_clients(
    model_path: str | Path | None = None, *, isolated: bool = True, **llama_kwargs: Any
) -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    """OpenAI clients (sync, async) served by the embedded llama.cpp model; ask them in JSON schema mode (the
    local backend's).

    ``model_path`` defaults to the bundled Gemma 3 270M smoke model; ``llama_kwargs`` go to
    ``llama_cpp.Llama`` (e.g. ``n_ctx``, ``n_threads``, ``n_gpu_layers``, ``use_extra_bufts``). The model
    loads here, once per path and options per process, in a worker process unless ``isolated=False``. A
    missing extra, a missing or unloadable file, or a crash while loading raises ``EndpointError``.
    """
    require_llama_cpp()
    path = Path(model_path).expanduser() if model_path else default_model_path()
    if not path.is_file():
        raise EndpointError(f"local model file not found: {path}")
    answer: Answer = (
        shared_worker(path, llama_kwargs).request if isolated else open_model(path, **llama_kwargs).answer
    )
    common: dict[str, Any] = {"api_key": "local", "base_url": LOCAL_BASE_URL, "max_retries": 0}
    common["timeout"] = 3600.0  # a slow CPU is not a network failure
    sync_client = openai.OpenAI(http_client=httpx2.Client(transport=LocalTransport(answer)), **common)
    async_http = httpx2.AsyncClient(transport=AsyncLocalTransport(answer))
    return sync_client, openai.AsyncOpenAI(http_client=async_http, **common)
