"""Prices from genai-prices' bundled data (offline), cache reads and writes, Batch prices, price files."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from prelabel.llm import price_data
from prelabel.llm.usage import Price, PriceTable, Usage, usage_from_completion

M = 1_000_000


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network at all: a price lookup that tried to fetch would fail."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a price lookup tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    price_data.lookup.cache_clear()


@pytest.mark.parametrize(
    ("model", "input", "cached", "output"),
    [
        ("gpt-4o-mini", 0.15, 0.075, 0.60),
        ("gpt-4.1", 2.00, 0.50, 8.00),
        ("claude-3-5-haiku-latest", 0.80, 0.08, 4.00),
        ("gemini-2.5-flash", 0.30, 0.03, 2.50),
    ],
)
def test_known_models_are_priced_from_the_bundled_data(
    offline: None, model: str, input: float, cached: float, output: float
) -> None:
    price = PriceTable().price_for(model)
    assert price is not None
    assert (price.input, price.cached_input, price.output) == pytest.approx((input, cached, output))


def test_cached_tokens_are_billed_at_the_cache_read_price(offline: None) -> None:
    usage = Usage(prompt_tokens=M, cached_tokens=M // 2, completion_tokens=0)
    assert PriceTable().cost("gpt-4o-mini", usage) == pytest.approx(0.5 * 0.15 + 0.5 * 0.075)


def test_anthropic_cache_writes_cost_more_than_input(offline: None) -> None:
    price = PriceTable().price_for("anthropic:claude-3-5-haiku-latest")
    assert price is not None and price.cache_write == pytest.approx(1.0)  # 1.25 x the input price
    usage = Usage(prompt_tokens=3 * M, cached_tokens=M, cache_write_tokens=M, completion_tokens=M)
    assert PriceTable().cost("claude-3-5-haiku-latest", usage) == pytest.approx(0.80 + 0.08 + 1.0 + 4.0)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"])
def test_batch_prices_per_provider(offline: None, model: str) -> None:
    price = PriceTable().price_for(model)
    assert price is not None and price.batch is not None  # the provider's own Batch prices
    assert price.batch.input == pytest.approx(price.input / 2)
    usage = Usage(prompt_tokens=M, completion_tokens=M)
    assert PriceTable().cost(model, usage, batch_usage=usage) == pytest.approx(price.batch.cost(usage))


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai:gpt-4o-mini", "gpt-4o-mini-2024-07-18"])
def test_provider_prefixes_and_dated_names(offline: None, model: str) -> None:
    assert PriceTable().price_for(model) == PriceTable().price_for("gpt-4o-mini") is not None


def test_an_unknown_model_has_no_price(offline: None) -> None:
    assert PriceTable().price_for("my-self-hosted-llama") is None
    assert PriceTable().cost("my-self-hosted-llama", Usage(prompt_tokens=10)) is None
    assert PriceTable({"x": {"input": 1, "output": 1}}, defaults=False).price_for("gpt-4o-mini") is None


def test_a_price_file_overrides_and_extends_with_cache_writes_and_batch_prices(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "gpt-4o-mini: {input: 1, output: 2}\n"
        "my-claude-proxy: {input: 3, cached_input: 0.3, cache_write: 3.75, output: 15,"
        " batch: {input: 1.5, cached_input: 0.15, cache_write: 1.875, output: 7.5}}\n",
        encoding="utf-8",
    )
    table = PriceTable.from_file(path)
    assert table.cost("gpt-4o-mini", Usage(prompt_tokens=M)) == pytest.approx(1.0)  # overridden
    assert table.price_for("gpt-4o") == PriceTable().price_for("gpt-4o") is not None  # the rest kept
    usage = Usage(prompt_tokens=2 * M, cache_write_tokens=M, completion_tokens=M)
    assert table.cost("my-claude-proxy", usage) == pytest.approx(3 + 3.75 + 15)
    assert table.cost("my-claude-proxy", usage, batch_usage=usage) == pytest.approx(1.5 + 1.875 + 7.5)


def test_todays_price_file_format_still_works(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"my-vllm": {"input": 0.1, "cached_input": 0.05, "output": 0.2}}))
    price = PriceTable.from_file(path).price_for("my-vllm")
    assert price == Price(input=0.1, cached_input=0.05, output=0.2)
    assert price.batch_price(0.5) == Price(input=0.05, cached_input=0.025, output=0.1)  # half, by default


def test_usage_of_anthropic_and_gemini_answers() -> None:
    anthropic = SimpleNamespace(
        usage=SimpleNamespace(
            input_tokens=50, output_tokens=20, cache_read_input_tokens=900, cache_creation_input_tokens=100
        )
    )
    assert usage_from_completion(anthropic) == Usage(
        prompt_tokens=1050, completion_tokens=20, cached_tokens=900, cache_write_tokens=100
    )
    gemini = SimpleNamespace(
        usage_metadata=SimpleNamespace(
            prompt_token_count=1000,
            candidates_token_count=30,
            thoughts_token_count=12,
            cached_content_token_count=800,
        )
    )
    assert usage_from_completion(gemini) == Usage(prompt_tokens=1000, completion_tokens=42, cached_tokens=800)


def test_cache_writes_are_written_out_only_when_there_are_some() -> None:
    assert "cache_write_tokens" not in Usage(prompt_tokens=3).model_dump_json()
    assert Usage(cache_write_tokens=2).model_dump()["cache_write_tokens"] == 2
    assert (
        Usage.model_validate_json(
            Usage(prompt_tokens=4, cache_write_tokens=2).model_dump_json()
        ).cache_write_tokens
        == 2
    )
