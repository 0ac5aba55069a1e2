"""The embedded llama.cpp model (extra ``prelabel[local]``), behind the same openai client seam as any server.

Modules: ``model`` (loading with safe options, request translation, answering one request).
May import: ``llm.endpoints``, ``errors``.
"""

from prelabel.llm.local.model import (
    EXTRA_BUFTS_ENV,
    GEMMA_TOKENIZER_CONFIG,
    SMOKE_MODEL_NOTE,
    default_model_path,
    load_local_model,
    local_clients,
)

__all__ = [
    "EXTRA_BUFTS_ENV",
    "GEMMA_TOKENIZER_CONFIG",
    "SMOKE_MODEL_NOTE",
    "default_model_path",
    "load_local_model",
    "local_clients",
]
