"""Endpoints: which server, which model, which instructor mode, and the openai client to call it.

Resolution order: explicit arguments (``--model``, ``--base-url``, ``--mode``), then the environment
(``PRELABEL_MODEL``, ``OPENAI_BASE_URL``, ``PRELABEL_MODE``, ``OPENAI_API_KEY``), then defaults (OpenAI,
``gpt-4o-mini``). ``model="local"`` or ``"local:PATH.gguf"`` selects the embedded llama.cpp model.

The server's kind is the registered backend that recognises the base URL and model
(``prelabel.llm.registry``); its ``default_mode`` is the instructor mode unless one is chosen: OpenAI → TOOLS;
vLLM and Ollama → JSON_SCHEMA; llama.cpp's server → JSON (``json_object`` with the schema in it); anything
else → TOOLS.

API keys live only in memory: ``Endpoint`` never shows the key in ``repr``, ``describe()`` or dumps, and
the key (with any password in the base URL) is registered for redaction (``prelabel.errors.add_secret``).
Credentials in a base URL (``http://user:PASSWORD@host/v1``) are used for the requests but never shown:
``describe()`` and ``repr`` give the URL without them.

    >>> endpoint = resolve_endpoint(model="llama3.1", base_url="http://localhost:11434/v1", env={})
    >>> endpoint.backend, endpoint.mode.name
    ('ollama', 'JSON_SCHEMA')
    >>> resolve_endpoint(model="m", base_url="http://me:PASSWORD@gpu:8000/v1", env={}).describe()["base_url"]
    'http://gpu:8000/v1'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse, urlunparse

from prelabel.errors import EndpointError, InputError, add_secret
from prelabel.llm import registry
from prelabel.llm.instructed import SCHEMA_IN_JSON_OBJECT, TOOL_MODES, Mode, mode_key, parse_mode

__all__ = [
    "DEFAULT_MODEL",
    "LOCAL_BASE_URL",
    "SMOKE_MODEL",
    "SMOKE_MODEL_MARK",
    "SMOKE_MODEL_NOTE",
    "Endpoint",
    "check_credentials",
    "is_local_model",
    "is_smoke_model",
    "local_model_path",
    "model_label",
    "public_url",
    "resolve_endpoint",
]

DEFAULT_MODEL = "gpt-4o-mini"
LOCAL_BASE_URL = "http://prelabel-local.invalid/v1"
"""The base URL of the in-process embedded model (never resolved: its transport answers every request)."""
SMOKE_MODEL = "local"
"""The bundled smoke model's name (``--model local``): Gemma 3 270M, a base model, to test the plumbing."""
SMOKE_MODEL_MARK = "smoke model: mechanics only"
"""The short mark shown beside the smoke model's name wherever its results appear (see `model_label`)."""
SMOKE_MODEL_NOTE = (
    "model 'local' is the bundled Gemma 3 270M base model, a plumbing/smoke model: its answers are "
    "schema-valid but its labels are poor, so its labels and every figure and ranking computed from them "
    "only illustrate the mechanics (they say nothing about your data or SOP); use --model local:PATH.gguf "
    "with a real instruction-tuned GGUF, or an API model, for useful labels"
)
"""What the smoke model's results are worth: printed and written wherever they appear."""
TOOLS_LOGPROBS_NOTE = (
    "--logprobs: this endpoint answers in tools mode, and tool-call arguments carry no token "
    "log-probabilities (OpenAI), so label_prob will stay empty; use --mode json_schema for the signal"
)
OPENAI_URL = "https://api.openai.com/v1"


def public_url(url: str) -> str:
    """``url`` without the ``user:password@`` part (what may be written or printed)."""
    parsed = urlparse(url)
    if "@" not in parsed.netloc:
        return url
    return urlunparse(parsed._replace(netloc=parsed.netloc.rpartition("@")[2]))


def is_local_model(model: str) -> bool:
    """True for the embedded model: ``local`` or ``local:PATH.gguf``."""
    return model == "local" or model.startswith("local:")


def is_smoke_model(model: object) -> bool:
    """True for the bundled smoke model (``local``; not ``local:PATH.gguf``, a model of your choosing): the
    one test every output uses to mark results as illustrating the mechanics only.

        >>> is_smoke_model("local"), is_smoke_model("local:/models/qwen.gguf"), is_smoke_model(None)
        (True, False, False)
    """
    return isinstance(model, str) and model.strip() == SMOKE_MODEL


def model_label(model: str) -> str:
    """The model's name as shown beside its results: the smoke model carries `SMOKE_MODEL_MARK`.

    >>> model_label("gpt-4o-mini"), model_label("local")
    ('gpt-4o-mini', 'local (smoke model: mechanics only)')
    """
    return f"{model} ({SMOKE_MODEL_MARK})" if is_smoke_model(model) else model


def local_model_path(model: str) -> str | None:
    """The GGUF path of a ``local:PATH`` model (``None`` for plain ``local``: the bundled model)."""
    _, _, path = model.partition(":")
    return path or None


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call the model; the API key is kept out of ``repr`` and ``describe()``."""

    model: str
    backend: str
    """The registered backend's name (see ``kind``)."""
    mode: Mode
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    schema_in_json_object: bool = False
    """Send ``response_format={"type": "json_object", "schema": ...}`` (llama.cpp servers turn it into a
    grammar) instead of instructor's plain ``json_object``; only with ``Mode.JSON``."""

    @property
    def kind(self) -> registry.Backend:
        """The registered backend of this endpoint: its quirks, client and flags."""
        return registry.backend(self.backend)

    @property
    def is_local(self) -> bool:
        """True for a model answering in this process (the embedded llama.cpp model)."""
        return self.kind.in_process

    @property
    def smoke_note(self) -> str | None:
        """A warning when this is the bundled smoke model (schema-valid answers, poor labels)."""
        return SMOKE_MODEL_NOTE if is_smoke_model(self.model) else None

    @property
    def logprobs_note(self) -> str | None:
        """A warning for ``logprobs`` in tools mode: tool-call arguments carry no log-probabilities."""
        return TOOLS_LOGPROBS_NOTE if self.mode in TOOL_MODES else None

    def notes(self, logprobs: bool = False) -> list[str]:
        """The lines to print before labeling with this endpoint: the smoke-model note, and the ``logprobs``
        warning for tools mode when ``logprobs`` is asked."""
        lines = [f"note: {self.smoke_note}"] if self.smoke_note else []
        if logprobs and self.logprobs_note:
            lines.append(f"warning: {self.logprobs_note}")
        return lines

    def __repr__(self) -> str:
        url = None if self.base_url is None else public_url(self.base_url)
        return (
            f"Endpoint(model={self.model!r}, backend={self.backend!r}, mode={self.mode!r}, base_url={url!r}, "
            f"schema_in_json_object={self.schema_in_json_object!r})"
        )

    def describe(self) -> dict[str, Any]:
        """What ``run.json`` records about the endpoint (never the key, nor credentials in the URL)."""
        url = "in-process" if self.is_local else public_url(self.base_url or self.kind.default_base_url)
        mode = SCHEMA_IN_JSON_OBJECT.upper() if self.schema_in_json_object else self.mode.name
        return {"model": self.model, "backend": self.backend, "base_url": url, "mode": mode}


def resolve_endpoint(
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    mode: str | Mode | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Resolve model, server, key and instructor mode from arguments, then the environment, then defaults."""
    env = os.environ if env is None else env
    # a blank PRELABEL_MODEL counts as unset
    model = model or env.get("PRELABEL_MODEL", "").strip() or DEFAULT_MODEL
    if mode is None and env.get("PRELABEL_MODE"):
        mode = env["PRELABEL_MODE"]
    given_url = base_url
    base_url = (base_url or env.get("OPENAI_BASE_URL") or "").rstrip("/") or None
    kind = registry.detect(base_url, model)
    if not given_url and kind.base_url_env != "OPENAI_BASE_URL":  # a native API: its own variable
        base_url = (env.get(kind.base_url_env) or "").rstrip("/") or None
    if mode is None:
        mode = kind.default_mode
    chosen_mode = parse_mode(mode)
    wants_schema = isinstance(mode, str) and mode_key(mode) == SCHEMA_IN_JSON_OBJECT
    if kind.in_process:  # no server: the base URL and the key are not used
        return Endpoint(model=model, backend=kind.name, mode=chosen_mode, schema_in_json_object=wants_schema)
    _check_base_url(base_url)
    key = api_key or next((env[name] for name in kind.key_env if env.get(name)), None)
    add_secret(key)
    if base_url is not None:
        add_secret(urlparse(base_url).password)
    return Endpoint(
        model=model,
        backend=kind.name,
        mode=chosen_mode,
        base_url=base_url,
        api_key=key,
        schema_in_json_object=wants_schema,
    )


def _check_base_url(base_url: str | None) -> None:
    """A server URL must be ``http(s)://host...``: anything else would only fail after every retry."""
    if base_url is None:
        return
    try:
        parsed = urlparse(base_url)
        _ = parsed.port  # a port out of range raises here, else only when the client is built
    except ValueError as exc:  # 'http://[::1', 'http://host:99999/v1'
        shown = re.sub(r"//[^/]*@", "//", base_url)  # no user:password@, even in a broken URL
        raise InputError(
            f"base URL {shown!r} is not a valid URL: {exc} (check --base-url or OPENAI_BASE_URL)"
        ) from None
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        raise InputError(
            f"base URL {public_url(base_url)!r} is not an http(s) URL, e.g. http://localhost:8000/v1 "
            "(check --base-url or OPENAI_BASE_URL)"
        )


def check_credentials(endpoint: Endpoint) -> None:
    """Raise ``EndpointError`` when the endpoint's backend needs an API key and none is set (OpenAI,
    Azure)."""
    kind = endpoint.kind
    if endpoint.api_key is None and kind.needs_key:
        if kind.key_env != registry.Backend.key_env:  # a native API: its own key
            names = " or ".join(kind.key_env)
            raise EndpointError(f"no API key for {kind.title}: set {names}")
        raise EndpointError(
            "no API key: set OPENAI_API_KEY (or pass --base-url for a server that needs none, "
            "or --model local for the embedded model)"
        )
