"""Backends as registered objects: what a kind of model server is, and how prelabel finds the kinds it knows.

A ``Backend`` says how to recognise its servers from the base URL and model name (``detect``), the instructor
mode to ask them in (``default_mode``), the request options they refuse (``request_options``), how to build
the openai client that calls them (``client``), what their models cost when prelabel knows better than the
price table (``price``), and whether they serve the OpenAI Batch API (``batch_api``). The defaults describe
a plain OpenAI-compatible server.

Every backend, prelabel's own included, is registered under the entry-point group ``prelabel.backends``
(``name = "module:Class"``; prelabel's are in its ``pyproject.toml``) and found when an endpoint is first
resolved, never at ``import prelabel``. Detection asks the backends in ``order`` (then by name): the embedded
model first (by its model name), then plugins (default order 50), then the built-in guesses from the URL,
then the generic ``unknown`` server, which takes anything. Adding a backend is one module and one entry
point (docs/architecture.md, "How to add a backend").

    >>> detect("http://localhost:11434/v1", "llama3.1").name, detect(None, "local").name
    ('ollama', 'local')
    >>> backend("llamacpp").default_mode, backend("llamacpp").batch_api
    ('json_object_schema', False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar
from urllib.parse import urlparse

from prelabel import _plugins
from prelabel.errors import InputError

__all__ = ["GROUP", "NO_KEY", "Backend", "backend", "backends", "detect", "host_port", "model_price"]

GROUP = "prelabel.backends"
NO_KEY = "not-needed"  # placeholder for servers that take no key (the openai client insists on one)
_WHAT = "backend"
_REASONING = re.compile(r"^(o\d|gpt-5)")  # OpenAI's reasoning models: no temperature, max_completion_tokens


def host_port(base_url: str | None) -> tuple[str, int | None]:
    """The lower-cased host and the port of ``base_url`` (``("", None)`` without one or when unparseable).

    >>> host_port("http://Ollama.internal:11434/v1")
    ('ollama.internal', 11434)
    """
    if not base_url:
        return "", None
    try:
        parsed = urlparse(base_url)
        return (parsed.hostname or "").lower(), parsed.port
    except ValueError:  # 'http://[::1', a port out of range: resolve_endpoint says so
        return "", None


class Backend:
    """A kind of OpenAI-compatible model server: subclass it, override what differs, register it.

    A plugin package's backend, registered in its ``pyproject.toml`` as ``acme = "acme_backend:Acme"`` under
    ``[project.entry-points."prelabel.backends"]``::

        class Acme(prelabel.Backend):
            name = "acme"
            title = "Acme Inference"
            default_mode = "json_schema"
            batch_api = False

            def detect(self, base_url, model):
                return model.startswith("acme/")
    """

    name: ClassVar[str] = ""
    """The registered name, recorded in ``run.json`` as the endpoint's backend."""
    title: ClassVar[str] = "an OpenAI-compatible server"
    """What the server is called in messages (``the Batch API needs ...; Ollama has none``)."""
    order: ClassVar[int] = 50
    """Detection order: lower is asked first (the embedded model 0, plugins 50, URL guesses 100-199)."""
    default_mode: ClassVar[str] = "tools"
    """The instructor mode when none is chosen: a ``--mode`` name (``tools``, ``json_schema``, ``json``,
    ``json_object_schema``, ``md_json``)."""
    needs_key: ClassVar[bool] = False
    """True when requests need ``OPENAI_API_KEY`` (hosted APIs): a missing key stops before any work."""
    batch_api: ClassVar[bool] = True
    """True when the server serves the OpenAI Batch API (Files and Batches) for ``--batch-api``."""
    in_process: ClassVar[bool] = False
    """True for a model answering inside this process: no base URL, no key, no network deadline."""

    def detect(self, base_url: str | None, model: str) -> bool:
        """True when ``base_url`` (``None``: none given) and ``model`` are this backend's."""
        return False

    def request_options(self, model: str, options: dict[str, Any]) -> dict[str, Any]:
        """The request ``options`` (model, temperature, max_tokens, logprobs, in that order) as this server
        takes them for ``model``. By default OpenAI's reasoning models, wherever they are served (o1, o3,
        gpt-5, also as ``openai/o3-mini``), get no temperature and ``max_completion_tokens``."""
        if not _REASONING.match(model.rsplit("/", 1)[-1]):
            return options
        renamed = {"max_tokens": "max_completion_tokens"}
        return {renamed.get(key, key): value for key, value in options.items() if key != "temperature"}

    def client(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        sync: bool = False,
        timeout: float | None = None,
        max_retries: int = 0,
        connections: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """An ``openai.AsyncOpenAI`` (``sync=True``: ``openai.OpenAI``) for this server.

        ``connections`` sizes the async client's one connection pool; ``options`` are backend-specific
        (the embedded model's ``llama_cpp.Llama`` options).
        """
        import openai

        kwargs: dict[str, Any] = {"api_key": api_key or NO_KEY, "max_retries": max_retries}
        if base_url:
            kwargs["base_url"] = base_url
        if timeout is not None:
            kwargs["timeout"] = timeout
        if connections is not None and not sync:
            import httpx2

            limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
            kwargs["http_client"] = openai.DefaultAsyncHttpxClient(limits=limits)  # the client's timeout
        return openai.OpenAI(**kwargs) if sync else openai.AsyncOpenAI(**kwargs)

    def price(self, model: str) -> Mapping[str, float] | None:
        """USD per 1M tokens (``input``, ``output``, and optionally ``cached_input``, ``cache_write`` and
        ``batch``: the same keys at the Batch API price; see ``llm.usage.Price``) for ``model`` when this
        backend knows it better than the price table (the embedded model is free); ``None`` defers to the
        table (a ``--prices`` file, then genai-prices' bundled data). A native backend reports cache reads
        and writes through ``llm.usage.usage_from_completion``, which reads its provider's usage shape."""
        return None

    def __repr__(self) -> str:
        return f"<backend {self.name!r}: {type(self).__module__}.{type(self).__qualname__}>"


@cache
def backends() -> dict[str, Backend]:
    """Every registered backend by name, loaded, in detection order."""
    entries = _plugins.registered(GROUP, _WHAT)
    loaded = [_plugins.load(entry, Backend, _WHAT) for entry in entries.values()]
    return {found.name: found for found in sorted(loaded, key=lambda b: (b.order, b.name))}


def backend(name: str) -> Backend:
    """The backend registered as ``name``; ``InputError`` for an unknown one."""
    known = backends()
    if name not in known:
        raise InputError(f"unknown backend '{name}' (registered: {', '.join(sorted(known))})")
    return known[name]


def detect(base_url: str | None, model: str) -> Backend:
    """The first backend (in detection order) that takes ``base_url`` and ``model``."""
    for candidate in backends().values():
        try:
            taken = candidate.detect(base_url, model)
        except Exception as exc:
            raise InputError(f"backend {candidate!r} failed to detect its servers: {exc}") from exc
        if taken:
            return candidate
    raise InputError(f"no registered backend takes base URL {base_url!r} with model {model!r}")


def model_price(model: str) -> Mapping[str, float] | None:
    """The price the backend recognised from ``model`` alone gives it (``Backend.price``), if any."""
    return detect(None, model).price(model)


def _forget() -> None:
    """Forget the registered backends (tests that put a plugin package on ``sys.path``)."""
    _plugins.forget()
    backends.cache_clear()
