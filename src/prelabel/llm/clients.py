"""The openai clients for an endpoint, built by its backend: the embedded model's in-process pair, or a
remote server's.

>>> from prelabel.llm.endpoints import resolve_endpoint
>>> client = make_client(resolve_endpoint(model="m", base_url="http://localhost:8000/v1", env={}))
>>> str(client.base_url), client.max_retries
('http://localhost:8000/v1/', 0)
"""

from __future__ import annotations

from typing import Any

from prelabel.llm.endpoints import Endpoint, check_credentials

__all__ = ["make_client"]


def make_client(
    endpoint: Endpoint,
    timeout: float | None = None,
    *,
    sync: bool = False,
    max_retries: int = 0,
    connections: int | None = None,
    local_options: dict[str, Any] | None = None,
) -> Any:
    """An ``openai.AsyncOpenAI`` (``sync=True``: ``openai.OpenAI``) for ``endpoint``, from its backend
    (``Backend.client``).

    ``max_retries`` stays 0: prelabel retries itself. ``connections`` sizes the one connection pool of an
    async client to the run's concurrency (kept alive between requests). The embedded model returns the
    clients of ``prelabel.llm.local.transport.local_clients`` (``local_options`` go to ``llama_cpp.Llama``,
    e.g. ``n_ctx``; log-probabilities need none). Raises ``EndpointError`` when the backend needs an API key
    and none is set.
    """
    check_credentials(endpoint)
    return endpoint.kind.client(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        model=endpoint.model,
        sync=sync,
        timeout=timeout,
        max_retries=max_retries,
        connections=connections,
        options=local_options,
    )
