"""Token usage, prices and cost.

Prices are USD per 1M tokens: ``input``, ``output``, ``cached_input`` (prompt tokens read from the provider's
cache), ``cache_write`` (prompt tokens written to it: Anthropic bills them above the input price) and
``batch`` (the same at the Batch API price). They come from ``genai-prices``' bundled data
(``llm.price_data``, never fetched), and a JSON or YAML file mapping model names to prices overrides or
extends them (``--prices FILE``)::

    gpt-4o-mini: {input: 0.15, cached_input: 0.075, output: 0.60}
    my-vllm-model: {input: 0, output: 0}
    claude-haiku-4-5: {input: 1, cached_input: 0.1, cache_write: 1.25, output: 5,
                       batch: {input: 0.5, output: 2.5}}

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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from prelabel.errors import InputError
from prelabel.llm.price_data import lookup
from prelabel.llm.registry import model_price

__all__ = [
    "BATCH_DISCOUNT",
    "Price",
    "PriceTable",
    "Usage",
    "count_tokens",
    "usage_from_completion",
]


class Usage(BaseModel):
    """Tokens used by model calls. ``prompt_tokens`` counts every prompt token, those read from the
    provider's prompt cache (``cached_tokens``) and those written to it (``cache_write_tokens``) included;
    ``cache_write_tokens`` is written out (``labels.jsonl``, ``run.json``) only when there were some.

        >>> Usage(prompt_tokens=5).model_dump()
        {'prompt_tokens': 5, 'completion_tokens': 0, 'cached_tokens': 0}
    """

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @model_serializer(mode="wrap")
    def _without_zero_cache_writes(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not data.get("cache_write_tokens"):  # OpenAI-style usage stays as it always was
            data.pop("cache_write_tokens", None)
        return data

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
    """USD per 1M tokens; ``cached_input`` and ``cache_write`` default to the input price, ``batch`` (the
    Batch API's prices) to `BATCH_DISCOUNT` times these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    batch: Price | None = None

    def cost(self, usage: Usage) -> float:
        """The cost of ``usage`` in USD."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        total = (usage.prompt_tokens - cached - written) * self.input + cached * cached_price
        return (total + written * write_price + usage.completion_tokens * self.output) / 1_000_000

    def batch_price(self, discount: float) -> Price:
        """The Batch API's prices: `batch` when known, else these times ``discount``."""
        if self.batch is not None:
            return self.batch
        scaled = {
            k: None if v is None else v * discount for k, v in self.model_dump(exclude={"batch"}).items()
        }
        return Price.model_validate(scaled)

    @property
    def most_per_prompt_token(self) -> float:
        """The highest price a prompt token can cost (a cache write costs more than plain input)."""
        return max(self.input, self.cache_write or 0.0)


#: Batch API requests cost this fraction of the price when the price has no ``batch`` prices of its own
#: (OpenAI, Anthropic and Google bill them at half price).
BATCH_DISCOUNT = 0.5

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


class PriceTable:
    """Prices by model name: ``prices`` (a ``--prices`` file), then genai-prices' bundled data
    (``defaults=False``: ``prices`` only)."""

    def __init__(
        self,
        prices: Mapping[str, Price | Mapping[str, Any]] | None = None,
        *,
        defaults: bool = True,
        batch_discount: float = BATCH_DISCOUNT,
    ):
        self.prices: dict[str, Price] = {}
        self.defaults = defaults
        self.batch_discount = batch_discount
        for name, price in (prices or {}).items():
            self.prices[str(name)] = price if isinstance(price, Price) else Price.model_validate(price)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """genai-prices' prices updated with a JSON or YAML file ``{model: {input, cached_input,
        cache_write, output, batch}}``."""
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
        table's by exact name, then without provider prefix or date suffix, else genai-prices'; else
        ``None``."""
        own = model_price(model)
        if own is not None:
            try:
                return Price.model_validate(own)
            except ValidationError as exc:
                raise InputError(f"the backend's price of {model!r} is not a price: {exc}") from None
        for name in (model, model.rsplit("/", 1)[-1], model.split(":", 1)[-1]):
            if name in self.prices:
                return self.prices[name]
            undated = _DATE_SUFFIX.sub("", name)
            if undated in self.prices:
                return self.prices[undated]
        return _known_price(model) if self.defaults else None

    def cost(self, model: str, usage: Usage, *, batch_usage: Usage | None = None) -> float | None:
        """Cost in USD of ``usage`` on ``model``, or ``None`` when the model has no known price.

        ``batch_usage`` is the part of ``usage`` sent through the Batch API, billed at the Batch price
        (``Price.batch_price``).
        """
        price = self.price_for(model)
        if price is None:
            return None
        if batch_usage is None:
            return round(price.cost(usage), 8)
        online = Usage(**{k: max(v - getattr(batch_usage, k), 0) for k, v in usage.model_dump().items()})
        batch = price.batch_price(self.batch_discount)
        return round(price.cost(online) + batch.cost(batch_usage), 8)


@functools.cache
def _known_price(model: str) -> Price | None:
    found = lookup(model)
    return None if found is None else Price.model_validate(found)


def usage_from_completion(completion: Any) -> Usage:
    """Usage of one answer (zeros when the server sent none), in any of the three wire formats: an OpenAI
    chat completion (``usage.prompt_tokens``, ``prompt_tokens_details.cached_tokens``), an Anthropic message
    (``usage.input_tokens`` without the cache's tokens, ``cache_read_input_tokens``,
    ``cache_creation_input_tokens``) or a Gemini response (``usage_metadata``; thinking tokens are billed as
    output). Native backends pass their answers here, so cache reads and writes are counted and priced."""
    gemini = getattr(completion, "usage_metadata", None)
    if gemini is not None:
        return Usage(
            prompt_tokens=_int(gemini, "prompt_token_count"),
            completion_tokens=_int(gemini, "candidates_token_count") + _int(gemini, "thoughts_token_count"),
            cached_tokens=_int(gemini, "cached_content_token_count"),
        )
    usage = getattr(completion, "usage", None)
    if usage is None:
        return Usage()
    if getattr(usage, "input_tokens", None) is not None and getattr(usage, "prompt_tokens", None) is None:
        read, written = _int(usage, "cache_read_input_tokens"), _int(usage, "cache_creation_input_tokens")
        return Usage(
            prompt_tokens=_int(usage, "input_tokens") + read + written,
            completion_tokens=_int(usage, "output_tokens"),
            cached_tokens=read,
            cache_write_tokens=written,
        )
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(
        prompt_tokens=_int(usage, "prompt_tokens"),
        completion_tokens=_int(usage, "completion_tokens"),
        cached_tokens=0 if details is None else _int(details, "cached_tokens"),
    )


def _int(holder: Any, name: str) -> int:
    return int(getattr(holder, name, 0) or 0)


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
