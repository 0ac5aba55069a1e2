"""OpenAI's API (no base URL, or ``api.openai.com``): tools mode; needs an API key; serves the Batch API."""

from __future__ import annotations

from prelabel.llm.registry import Backend, host_port


class OpenAI(Backend):
    name = "openai"
    title = "OpenAI"
    order = 100
    needs_key = True

    def detect(self, base_url: str | None, model: str) -> bool:
        return base_url is None or host_port(base_url)[0] == "api.openai.com"
