"""Azure OpenAI (``*.openai.azure.com``, its v1 API): tools mode; needs an API key; serves the Batch API."""

from __future__ import annotations

from prelabel.llm.registry import Backend, host_port


class Azure(Backend):
    name = "azure"
    title = "Azure OpenAI"
    order = 110
    needs_key = True

    def detect(self, base_url: str | None, model: str) -> bool:
        return host_port(base_url)[0].endswith(".azure.com")
