"""Any other OpenAI-compatible server (backend ``unknown``): tools mode, asked last, takes every URL."""

from __future__ import annotations

from prelabel.llm.registry import Backend


class Generic(Backend):
    name = "unknown"
    order = 1000

    def detect(self, base_url: str | None, model: str) -> bool:
        return True
