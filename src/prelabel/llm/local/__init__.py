"""The embedded llama.cpp model (extra ``prelabel[local]``), behind the same openai client seam as any server.

llama.cpp is native code: it runs in a worker process, so a crash in it (SIGSEGV, SIGILL) is an
``EndpointError`` in the caller, never a dead notebook kernel or batch job; models load with extra buffer
types (CPU-specific weight repacking, e.g. AMX) off unless ``PRELABEL_LLAMA_EXTRA_BUFTS=1``.

Modules: ``model`` (loading with safe options, answering one request), ``lazy_grammar`` (greedy grammar-
constrained tokens: the grammar asked about the model's best token first), ``logprobs`` (token
log-probabilities read as tokens are sampled, without llama.cpp's ``logits_all``), ``_sample_hook`` (both
wrap ``Llama.sample`` for one request), ``worker`` (the worker process), ``process``
(starting it, crash reports), ``transport`` (the openai clients), ``_wire`` (frames on the pipe).
May import: ``llm.endpoints``, ``errors``.
"""

from prelabel.llm.local.model import (
    EXTRA_BUFTS_ENV,
    GEMMA_TOKENIZER_CONFIG,
    default_model_path,
    load_local_model,
)
from prelabel.llm.local.process import LocalModelCrashed

# ``local_clients`` is in ``prelabel.llm.local.transport``: it imports openai, which the worker never needs

__all__ = [
    "EXTRA_BUFTS_ENV",
    "GEMMA_TOKENIZER_CONFIG",
    "LocalModelCrashed",
    "default_model_path",
    "load_local_model",
]
