"""Ollama (a host named ``ollama``, or port 11434): JSON schema mode (the schema in ``response_format``
becomes a grammar); no Batch API."""

from __future__ import annotations

from prelabel.llm.registry import Backend, host_port


class Ollama(Backend):
    name = "ollama"
    title = "Ollama"
    order = 130
    default_mode = "json_schema"
    batch_api = False

    def detect(self, base_url: str | None, model: str) -> bool:
        host, port = host_port(base_url)
        return "ollama" in host or port == 11434
