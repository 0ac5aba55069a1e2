"""The embedded llama.cpp model (``--model local`` or ``local:PATH.gguf``): in process, JSON schema mode (the
schema becomes a grammar), free; no Batch API. Its code runs in a worker process (``prelabel.llm.local``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prelabel.errors import EndpointError
from prelabel.llm.endpoints import is_local_model, local_model_path
from prelabel.llm.registry import Backend


class Local(Backend):
    name = "local"
    title = "the embedded model"
    order = 0
    default_mode = "json_schema"
    batch_api = False
    in_process = True

    def detect(self, base_url: str | None, model: str) -> bool:
        return is_local_model(model)  # whatever the base URL: the model answers in process

    def request_options(self, model: str, options: dict[str, Any]) -> dict[str, Any]:
        return options  # a GGUF named like an OpenAI reasoning model still takes a temperature

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
        """The clients of ``prelabel.llm.local.transport.local_clients`` (``options`` go to
        ``llama_cpp.Llama``, e.g. ``n_ctx``; log-probabilities need none)."""
        try:
            from prelabel.llm.local.transport import local_clients
        except ImportError as exc:
            raise EndpointError(
                f"the local model needs the 'local' extra: pip install 'prelabel[local]' ({exc})"
            ) from None
        sync_client, async_client = local_clients(local_model_path(model), **dict(options or {}))
        return sync_client if sync else async_client

    def price(self, model: str) -> Mapping[str, float] | None:
        return {"input": 0.0, "output": 0.0}
