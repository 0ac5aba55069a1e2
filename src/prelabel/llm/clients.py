"""The openai clients for an endpoint: the embedded model's in-process pair, or a remote server's.

>>> from prelabel.llm.endpoints import resolve_endpoint
>>> client = make_client(resolve_endpoint(model="m", base_url="http://localhost:8000/v1", env={}))
>>> str(client.base_url), client.max_retries
('http://localhost:8000/v1/', 0)
"""

from __future__ import annotations

from typing import Any

from prelabel.errors import EndpointError
from prelabel.llm.endpoints import NO_KEY, Endpoint, check_credentials, local_model_path

__all__ = ["make_client"]


def make_client(
    endpoint: Endpoint,
    timeout: float | None = None,
    *,
    sync: bool = False,
    max_retries: int = 0,
    connections: int | None = None,
) -> Any:
    """An ``openai.AsyncOpenAI`` (``sync=True``: ``openai.OpenAI``) for ``endpoint``.

    ``max_retries`` stays 0: prelabel retries itself. ``connections`` sizes the one connection pool of an
    async client to the run's concurrency (kept alive between requests). The embedded model returns the
    clients of ``prelabel.llm.local.transport.local_clients``. Raises ``EndpointError`` when OpenAI is the
    endpoint and no key is set.
    """
    if endpoint.is_local:
        try:
            from prelabel.llm.local.transport import local_clients
        except ImportError as exc:
            raise EndpointError(
                f"the local model needs the 'local' extra: pip install 'prelabel[local]' ({exc})"
            ) from None
        sync_client, async_client = local_clients(local_model_path(endpoint.model))
        return sync_client if sync else async_client
    import openai

    check_credentials(endpoint)
    kwargs: dict[str, Any] = {"api_key": endpoint.api_key or NO_KEY, "max_retries": max_retries}
    if endpoint.base_url:
        kwargs["base_url"] = endpoint.base_url
    if timeout is not None:
        kwargs["timeout"] = timeout
    if connections is not None and not sync:
        import httpx2

        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        kwargs["http_client"] = openai.DefaultAsyncHttpxClient(limits=limits)  # the client sets the timeout
    return openai.OpenAI(**kwargs) if sync else openai.AsyncOpenAI(**kwargs)
