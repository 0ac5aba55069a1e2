"""Files and Batches calls: a failure retries cannot fix is one ``EndpointError`` line, the key redacted."""

from __future__ import annotations

import asyncio
import traceback

import httpx2
import openai
import pytest

from prelabel import EndpointError
from prelabel.llm.batch_api import BatchAPI
from prelabel.llm.retry import RetryPolicy

KEY = "PROXYKEY-SECRET-123"


def echoing_client(status: int) -> openai.AsyncOpenAI:
    """A client whose every request gets ``status`` with a body echoing the key it was sent."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        sent = request.headers.get("authorization", "")
        return httpx2.Response(
            status, json={"error": {"message": f"key {KEY} ({sent}) refused", "code": "x"}}
        )

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handle))
    return openai.AsyncOpenAI(api_key=KEY, base_url="http://fake/v1", max_retries=0, http_client=http)


@pytest.mark.parametrize("status", [400, 413, 500])
def test_a_failed_upload_is_an_endpoint_error_without_the_key(status: int) -> None:
    api = BatchAPI(echoing_client(status), RetryPolicy(max_attempts=2, initial_delay=0.01, jitter=False))
    with pytest.raises(EndpointError) as info:
        asyncio.run(api.submit(b"{}\n", "requests.jsonl"))
    shown = "".join(traceback.format_exception(info.value))  # what a notebook or --debug prints
    assert f"upload failed ({status})" in str(info.value) and "refused" in str(info.value)
    assert KEY not in shown and KEY not in repr(info.value)
