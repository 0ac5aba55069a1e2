"""A LiteLLM proxy (a host named ``litellm``): tools mode, which it translates for the model behind it; it
serves the Batch API (Files and Batches), also for servers that have none."""

from __future__ import annotations

from prelabel.llm.registry import Backend, host_port


class LiteLLM(Backend):
    name = "litellm"
    title = "a LiteLLM proxy"
    order = 120

    def detect(self, base_url: str | None, model: str) -> bool:
        return "litellm" in host_port(base_url)[0]
