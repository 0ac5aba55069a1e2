"""llama.cpp's server (a host named ``llamacpp`` or ``llama-cpp``, or port 8080): JSON mode with the answer
schema inside the ``json_object`` response format, which it turns into a grammar; no Batch API."""

from __future__ import annotations

from prelabel.llm.registry import Backend, host_port


class LlamaCpp(Backend):
    name = "llamacpp"
    title = "a llama.cpp server"
    order = 150
    default_mode = "json_object_schema"
    batch_api = False

    def detect(self, base_url: str | None, model: str) -> bool:
        host, port = host_port(base_url)
        return "llamacpp" in host or "llama-cpp" in host or port == 8080
