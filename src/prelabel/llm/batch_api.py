"""The OpenAI Files and Batches calls behind Batch API runs, with prelabel's transport retries and errors.

A thin wrapper: upload a request file (``purpose="batch"``), create a batch on ``/v1/chat/completions`` with
a 24 h window, poll it, download its output and error files. Every call goes through ``llm.retry`` (429/5xx,
timeouts and connection errors are retried; auth and quota failures, and any other failure once retries are
spent, raise ``EndpointError`` (exit 3, the key redacted even where the server echoes it)). Works
with a sync ``openai.OpenAI`` or an async ``openai.AsyncOpenAI`` client.

    >>> BatchState(batch_id="b1", status="in_progress", total=10, completed=4, failed=1).finished
    False
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prelabel.errors import EndpointError, add_secret
from prelabel.llm.retry import RetryPolicy, call_with_retries, classify

__all__ = ["BATCH_ENDPOINT", "FINISHED", "MAX_BATCH_BYTES", "MAX_BATCH_REQUESTS", "BatchAPI", "BatchState"]

BATCH_ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
#: Batch states after which nothing more will be answered (an expired batch may still have partial output).
FINISHED = frozenset({"completed", "expired", "cancelled", "failed"})
#: OpenAI's limits per batch: 50,000 requests and a 200 MB input file (we stay a little under the size).
MAX_BATCH_REQUESTS = 50_000
MAX_BATCH_BYTES = 190 * 1024 * 1024


@dataclass(frozen=True)
class BatchState:
    """What the server says about one batch: status, request counts, result files, batch-level errors."""

    batch_id: str
    status: str
    input_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        """True once the batch will not change any more (completed, expired, cancelled or failed)."""
        return self.status in FINISHED

    @property
    def counts(self) -> dict[str, int]:
        """Request counts as the server reports them."""
        return {"total": self.total, "completed": self.completed, "failed": self.failed}


def _state(batch: Any) -> BatchState:
    counts = getattr(batch, "request_counts", None)
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    return BatchState(
        batch_id=batch.id,
        status=str(batch.status),
        input_file_id=getattr(batch, "input_file_id", None),
        total=int(getattr(counts, "total", 0) or 0),
        completed=int(getattr(counts, "completed", 0) or 0),
        failed=int(getattr(counts, "failed", 0) or 0),
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        errors=tuple(f"{getattr(e, 'code', None) or 'error'}: {getattr(e, 'message', '')}" for e in errors),
    )


class BatchAPI:
    """Files and Batches calls on one openai client (sync or async), retried per ``retry``."""

    def __init__(self, client: Any, retry: RetryPolicy | None = None):
        self.client = client
        self.retry = retry or RetryPolicy()
        self.where = str(getattr(client, "base_url", "") or "") or None
        add_secret(getattr(client, "api_key", None))  # an injected client's key is redacted too

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def once() -> Any:
            if inspect.iscoroutinefunction(fn):
                return await fn(*args, **kwargs)
            return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

        try:
            return await call_with_retries(once, self.retry, where=self.where)
        except EndpointError as exc:
            if exc.status_code == 404:  # the retry layer reads a 404 as an unknown model
                raise EndpointError(
                    f"{what}: not found at {self.where} (does this server offer the Batch API?)",
                    status_code=404,
                    code="not_found",
                ) from None
            raise
        except Exception as exc:
            import openai

            if not isinstance(exc, openai.APIError):
                raise
            # a 400 or the last 5xx: one redacted line (the body may echo the key), not openai's raw error
            failure = classify(exc)
            status = f" ({failure.status_code})" if failure.status_code else ""
            raise EndpointError(
                f"{what} failed{status} at {self.where}: {failure.message}",
                status_code=failure.status_code,
                code=failure.code or failure.kind,
            ) from None

    async def submit(self, lines: bytes, filename: str, metadata: dict[str, str] | None = None) -> BatchState:
        """Upload ``lines`` (the request JSONL) and create a batch over it."""
        return await self.create(await self.upload(lines, filename), metadata)

    async def upload(self, lines: bytes, filename: str) -> str:
        """Upload ``lines`` (the request JSONL, ``purpose="batch"``); the file's id."""
        uploaded = await self._call(
            "upload", self.client.files.create, file=(filename, lines, "application/jsonl"), purpose="batch"
        )
        return str(uploaded.id)

    async def create(self, input_file_id: str, metadata: dict[str, str] | None = None) -> BatchState:
        """Create a batch over the uploaded file ``input_file_id``."""
        batch = await self._call(
            "create batch",
            self.client.batches.create,
            input_file_id=input_file_id,
            endpoint=BATCH_ENDPOINT,
            completion_window=COMPLETION_WINDOW,
            metadata=metadata or {},
        )
        return _state(batch)

    async def find(self, input_file_id: str, since: float | None = None) -> BatchState | None:
        """The batch created over ``input_file_id``, from the Batches list (newest first; ``since``: a Unix
        time before which none was created, where the listing may stop), else ``None``."""
        after: str | None = None
        while True:
            page = await self._call("list batches", self._page, after)
            batches = list(getattr(page, "data", None) or [])
            for batch in batches:
                if getattr(batch, "input_file_id", None) == input_file_id:
                    return _state(batch)
            oldest = getattr(batches[-1], "created_at", None) if batches else None
            if not batches or not getattr(page, "has_more", False):
                return None
            if since is not None and isinstance(oldest, int | float) and 0 < oldest < since:
                return None
            after = str(batches[-1].id)

    async def _page(self, after: str | None) -> Any:
        """One page of the Batches list (100 batches, newest first), after the batch ``after``."""
        kwargs: dict[str, Any] = {"limit": 100}
        if after is not None:
            kwargs["after"] = after
        listed = self.client.batches.list
        if inspect.iscoroutinefunction(self.client.files.create):  # an async client: await the first page
            return await listed(**kwargs)
        return await asyncio.to_thread(functools.partial(listed, **kwargs))

    async def retrieve(self, batch_id: str) -> BatchState:
        """The batch's current state."""
        return _state(await self._call(f"batch {batch_id}", self.client.batches.retrieve, batch_id))

    async def download(self, file_id: str) -> bytes:
        """The content of a result file."""
        response = await self._call(f"file {file_id}", self.client.files.content, file_id)
        content = response.content if hasattr(response, "content") else response.read()
        return bytes(content)
