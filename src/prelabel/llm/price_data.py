"""Model prices from ``genai-prices`` (pydantic's maintained price data), read from the data bundled in the
installed package: never fetched (prelabel never starts its ``UpdatePrices`` updater), so it works offline.

``lookup(model)`` returns USD per 1M tokens as a plain mapping — ``input``, ``output``, ``cached_input``
(cache reads), ``cache_write`` (Anthropic's 5-minute cache writes) and ``batch`` (the same keys at the
provider's Batch API price, where genai-prices knows one) — or ``None`` when no provider prices the model.
A provider prefix picks the provider (``anthropic:claude-haiku-4-5``, ``openai/gpt-4o-mini``); a bare name
is matched against every provider's model names (``claude-...`` is Anthropic's, ``gemini-...`` Google's).
Long-context tiers (Anthropic and Google price prompts over 200k tokens higher) are not applied: prelabel
prices summed usage, and its items stay far below (``--max-item-tokens``, 100k by default).

    >>> lookup("gpt-4o-mini")["input"], lookup("gpt-4o-mini")["cached_input"]
    (0.15, 0.075)
    >>> lookup("anthropic:claude-3-5-haiku-latest")["cache_write"]
    1.0
    >>> lookup("my-self-hosted-llama") is None
    True
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["lookup", "source"]

#: The price keys of genai-prices (USD per 1M tokens) and prelabel's names for them.
_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cached_input",
    "cache_write_mtok": "cache_write",
}
_BATCH = {"processing": "batch"}
_PREFIX = re.compile(r"^([A-Za-z][\w.-]*)[:/](.+)$")


def source() -> str:
    """Where the prices come from, as said in notes (``genai-prices 0.2.5 (bundled data)``)."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')} (bundled data)"


@functools.cache
def lookup(model: str) -> dict[str, Any] | None:
    """USD per 1M tokens of ``model`` from genai-prices' bundled data, or ``None`` when unknown."""
    from genai_prices import data_snapshot  # ~0.3 s the first time: only when a price is needed

    snapshot = data_snapshot.get_snapshot()
    found = None
    prefixed = _PREFIX.match(model)
    if prefixed is not None:  # provider:model or provider/model
        provider = data_snapshot.find_provider_by_id(snapshot.providers, prefixed.group(1))
        if provider is not None:
            found = _find(snapshot, prefixed.group(2), provider.id)
    for name in (model, prefixed.group(2) if prefixed else None):
        if found is None and name is not None:
            found = _find(snapshot, name, None)
    if found is None:
        return None
    now = datetime.now(tz=UTC)
    prices = _convert(found.get_prices(now))
    if prices is None:
        return None
    if any(_BATCH == variant.when for variant in found.price_variants or ()):
        batch = _convert(found.get_prices(now, _BATCH))
        if batch is not None and batch != prices:
            prices["batch"] = batch
    return prices


def _find(snapshot: Any, model: str, provider_id: str | None) -> Any:
    """The genai-prices model info of ``model`` (at ``provider_id`` when given), else ``None``."""
    try:
        return snapshot.find_provider_model(model, None, provider_id, None)[1]
    except LookupError:
        return None


def _convert(price: Any) -> dict[str, Any] | None:
    """A genai-prices ``ModelPrice`` as prelabel's keys (a tiered price at its base rate); ``None`` without
    both an input and an output price."""
    out: dict[str, Any] = {}
    for key, name in _KEYS.items():
        value = getattr(price, key, None)
        value = getattr(value, "base", value)  # TieredPrices: the rate below the first tier
        if value is not None:
            out[name] = float(value)
    return out if {"input", "output"} <= out.keys() else None
