"""Token usage, prices and cost.

Prices are USD per 1M tokens (input, cached input, output). The built-in table covers common OpenAI models
and can be overridden or extended by a JSON or YAML file mapping model names to prices::

    gpt-4o-mini: {input: 0.15, cached_input: 0.075, output: 0.60}
    my-vllm-model: {input: 0, output: 0}

An unknown model has no price: its cost is ``None``, never an error. Dry runs count tokens offline with
``bpe-openai`` (tiktoken-compatible encodings shipped inside the package).

    >>> table = PriceTable()
    >>> round(table.cost("gpt-4o-mini", Usage(prompt_tokens=1_000_000, completion_tokens=0)), 4)
    0.15
    >>> table.cost("some-unknown-model", Usage(prompt_tokens=10)) is None
    True
    >>> round(table.cost("gpt-4o-mini", Usage(prompt_tokens=2_000_000),
    ...                  batch_usage=Usage(prompt_tokens=1_000_000)), 4)  # half of it at the Batch price
    0.225
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prelabel.errors import InputError
from prelabel.llm.registry import model_price

__all__ = [
    "BATCH_DISCOUNT",
    "DEFAULT_PRICES",
    "Price",
    "PriceTable",
    "Usage",
    "count_tokens",
    "usage_from_completion",
]


class Usage(BaseModel):
    """Tokens used by model calls; ``cached_tokens`` is the part of the prompt served from cache (cache
    reads), ``cache_write_tokens`` the part written to a provider's prompt cache (Anthropic's
    ``cache_creation_input_tokens``; shown only when not 0). ``prompt_tokens`` counts the whole prompt, both
    parts included, as OpenAI reports it."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = Field(default=0, exclude_if=lambda value: value == 0)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )

    @classmethod
    def total(cls, usages: Iterable[Usage]) -> Usage:
        """The sum of several usages."""
        out = cls()
        for usage in usages:
            out = out + usage
        return out


class Price(BaseModel):
    """USD per 1M tokens; ``cached_input`` defaults to the input price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)

    def cost(self, usage: Usage) -> float:
        """The cost of ``usage`` in USD."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        total = (usage.prompt_tokens - cached) * self.input + cached * cached_price
        return (total + usage.completion_tokens * self.output) / 1_000_000


def _p(input: float, cached_input: float | None, output: float) -> Price:
    return Price(input=input, cached_input=cached_input, output=output)


#: Built-in OpenAI list prices (USD per 1M tokens, standard tier). Check them against your contract;
#: override with ``--prices FILE`` or ``PriceTable.from_file``.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": _p(1.25, 0.125, 10.00),
    "gpt-5-mini": _p(0.25, 0.025, 2.00),
    "gpt-5-nano": _p(0.05, 0.005, 0.40),
    "gpt-4.1": _p(2.00, 0.50, 8.00),
    "gpt-4.1-mini": _p(0.40, 0.10, 1.60),
    "gpt-4.1-nano": _p(0.10, 0.025, 0.40),
    "gpt-4o": _p(2.50, 1.25, 10.00),
    "gpt-4o-mini": _p(0.15, 0.075, 0.60),
    "o4-mini": _p(1.10, 0.275, 4.40),
    "o3": _p(2.00, 0.50, 8.00),
    "o3-mini": _p(1.10, 0.55, 4.40),
    "gpt-4-turbo": _p(10.00, None, 30.00),
    "gpt-3.5-turbo": _p(0.50, None, 1.50),
}

#: Batch API requests cost this fraction of the price (OpenAI bills them at half price).
BATCH_DISCOUNT = 0.5

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


class PriceTable:
    """Prices by model name: the built-in defaults, updated with ``prices``."""

    def __init__(
        self,
        prices: Mapping[str, Price | Mapping[str, Any]] | None = None,
        *,
        defaults: bool = True,
        batch_discount: float = BATCH_DISCOUNT,
    ):
        self.prices: dict[str, Price] = dict(DEFAULT_PRICES) if defaults else {}
        self.batch_discount = batch_discount
        for name, price in (prices or {}).items():
            self.prices[str(name)] = price if isinstance(price, Price) else Price.model_validate(price)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """Defaults updated with a JSON or YAML file ``{model: {input, cached_input, output}}``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read price file: {exc}") from None
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                from ruamel.yaml import YAML

                data = YAML(typ="safe").load(text)
        except Exception as exc:
            raise InputError(
                f"{path}: price file is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: price file must map model names to {{input, cached_input, output}}")
        prices: dict[str, Price] = {}
        for name, value in data.items():
            try:
                prices[str(name)] = Price.model_validate(value)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in (name, *first["loc"]))
                raise InputError(f"{path}: {where}: {first['msg']}") from None
        return cls(prices)

    def price_for(self, model: str) -> Price | None:
        """The price of ``model``: its backend's (``Backend.price``: the embedded model is free), else the
        table's by exact name, then without provider prefix or date suffix; else ``None``."""
        own = model_price(model)
        if own is not None:
            try:
                return Price.model_validate(own)
            except ValidationError as exc:
                raise InputError(f"the backend's price of {model!r} is not a price: {exc}") from None
        for name in (model, model.rsplit("/", 1)[-1]):
            if name in self.prices:
                return self.prices[name]
            undated = _DATE_SUFFIX.sub("", name)
            if undated in self.prices:
                return self.prices[undated]
        return None

    def cost(self, model: str, usage: Usage, *, batch_usage: Usage | None = None) -> float | None:
        """Cost in USD of ``usage`` on ``model``, or ``None`` when the model has no known price.

        ``batch_usage`` is the part of ``usage`` sent through the Batch API, billed at ``batch_discount``
        times the price.
        """
        price = self.price_for(model)
        if price is None:
            return None
        if batch_usage is None:
            return round(price.cost(usage), 8)
        online = Usage(**{k: max(v - getattr(batch_usage, k), 0) for k, v in usage.model_dump().items()})
        return round(price.cost(online) + self.batch_discount * price.cost(batch_usage), 8)


def usage_from_completion(completion: Any) -> Usage:
    """Usage of one chat completion (zeros when the server sent none)."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cached_tokens=int(cached or 0),
    )


@functools.cache
def _encoding(model: str) -> Any:
    with warnings.catch_warnings():  # bpe-openai 0.1.4 loads its data with a deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        try:
            return bpe_openai.encoding_for_model(model.rsplit("/", 1)[-1])
        except Exception:  # not an OpenAI model: o200k_base is a fair estimate for modern tokenizers
            return bpe_openai.get_encoding("o200k_base")


def count_tokens(messages: list[dict[str, Any]], model: str = "gpt-4o-mini") -> int:
    """Estimated prompt tokens of chat ``messages`` (text parts, plus a few tokens per message)."""
    encoding = _encoding(model)
    total = 3
    for message in messages:
        total += 4
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        for part in parts:
            if isinstance(part, dict) and part.get("type") == "text":
                total += len(encoding.encode(str(part.get("text", "")), disallowed_special=()))
            else:
                total += 85  # an image at low detail
    return total
