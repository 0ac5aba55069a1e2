"""vLLM's OpenAI-compatible server (a host named ``vllm``): JSON schema mode (guided decoding); no Batch API
(it serves no ``/v1/files`` or ``/v1/batches``; a LiteLLM proxy in front of it does)."""

from __future__ import annotations

from prelabel.llm.registry import Backend, host_port


class VLLM(Backend):
    name = "vllm"
    title = "vLLM"
    order = 140
    default_mode = "json_schema"
    batch_api = False

    def detect(self, base_url: str | None, model: str) -> bool:
        return "vllm" in host_port(base_url)[0]
