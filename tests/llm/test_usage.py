"""Usage accounting, the price table and offline token counting."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import prelabel
from prelabel.llm.usage import Price, PriceTable, Usage, count_tokens, usage_from_completion


def test_usage_adds_up() -> None:
    a = Usage(prompt_tokens=10, completion_tokens=2, cached_tokens=4)
    b = Usage(prompt_tokens=5, completion_tokens=1)
    assert a + b == Usage(prompt_tokens=15, completion_tokens=3, cached_tokens=4)
    assert Usage.total([a, b, b]) == Usage(prompt_tokens=20, completion_tokens=4, cached_tokens=4)
    assert Usage.total([]) == Usage()


def test_cost_uses_cached_price_for_cached_prompt_tokens() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=500_000, cached_tokens=400_000)
    # 600k uncached at $2, 400k cached at $0.5, 500k output at $8
    assert price.cost(usage) == pytest.approx(1.2 + 0.2 + 4.0)


def test_cached_price_defaults_to_input_price() -> None:
    price = Price(input=1.0, output=0.0)
    assert price.cost(Usage(prompt_tokens=1_000_000, cached_tokens=1_000_000)) == pytest.approx(1.0)


def test_builtin_prices_cover_common_openai_models() -> None:
    table = PriceTable()
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-5-mini", "o4-mini"):
        assert table.price_for(model) is not None, model
    assert table.cost("gpt-4o-mini", Usage(prompt_tokens=1_000_000)) == pytest.approx(0.15)
    assert table.cost("gpt-4o-mini", Usage(completion_tokens=1_000_000)) == pytest.approx(0.60)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o", "gpt-4o"),
    ],
)
def test_model_name_variants_find_their_price(model: str, expected: str) -> None:
    assert PriceTable().price_for(model) == PriceTable().price_for(expected) is not None


def test_unknown_model_costs_none_not_an_error() -> None:
    table = PriceTable()
    assert table.price_for("llama-3.1-8b-instruct") is None
    assert table.cost("llama-3.1-8b-instruct", Usage(prompt_tokens=100)) is None


def test_local_model_is_free() -> None:
    assert PriceTable().cost("local:/models/x.gguf", Usage(prompt_tokens=10**6, completion_tokens=10**6)) == 0


def test_price_file_json_overrides_and_extends(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"gpt-4o-mini": {"input": 1, "output": 2}, "my-vllm": {"input": 0.1, "output": 0.2}})
    )
    table = PriceTable.from_file(path)
    assert table.cost("gpt-4o-mini", Usage(prompt_tokens=10**6)) == pytest.approx(1.0)
    assert table.cost("my-vllm", Usage(completion_tokens=10**6)) == pytest.approx(0.2)
    assert table.price_for("gpt-4o") == PriceTable().price_for("gpt-4o") is not None  # defaults kept


def test_price_file_yaml(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("my-model: {input: 3, cached_input: 1, output: 9}\n")
    assert PriceTable.from_file(path).price_for("my-model") == Price(input=3, cached_input=1, output=9)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.json", "{not json", "not valid json"),
        ("p.yaml", "- a\n- b\n", "must map model names"),
        ("p.yaml", "m: {input: -1, output: 1}\n", "m.input"),
        ("p.yaml", "m: {input: 1, output: 1, typo: 2}\n", "m.typo"),
    ],
)
def test_bad_price_files_raise_input_error(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(prelabel.InputError, match=message):
        PriceTable.from_file(path)


def test_missing_price_file(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="cannot read price file"):
        PriceTable.from_file(tmp_path / "nope.yaml")


def test_usage_from_completion_reads_cached_tokens() -> None:
    details = SimpleNamespace(cached_tokens=30)
    completion = SimpleNamespace(
        usage=SimpleNamespace(prompt_tokens=100, completion_tokens=7, prompt_tokens_details=details)
    )
    assert usage_from_completion(completion) == Usage(
        prompt_tokens=100, completion_tokens=7, cached_tokens=30
    )
    no_details = SimpleNamespace(
        usage=SimpleNamespace(prompt_tokens=5, completion_tokens=1, prompt_tokens_details=None)
    )
    assert usage_from_completion(no_details) == Usage(prompt_tokens=5, completion_tokens=1)
    assert usage_from_completion(SimpleNamespace(usage=None)) == Usage()


def test_count_tokens_offline() -> None:
    short = [{"role": "user", "content": "hello"}]
    long = [{"role": "user", "content": "hello " * 200}]
    assert 0 < count_tokens(short) < count_tokens(long)
    assert count_tokens(long) >= 200
    # unknown model falls back to o200k_base; special-token text is counted as text, not rejected
    assert count_tokens([{"role": "user", "content": "<|endoftext|>"}], "some-llama") > 0


def test_count_tokens_counts_images_and_text_parts() -> None:
    parts = [{"type": "text", "text": "a photo"}, {"type": "image_url", "image_url": {"url": "data:..."}}]
    with_image = count_tokens([{"role": "user", "content": parts}])
    text_only = count_tokens([{"role": "user", "content": "a photo"}])
    assert with_image > text_only


def test_only_the_embedded_model_is_free() -> None:
    table = PriceTable()
    assert table.price_for("local") == table.price_for("local:/m/x.gguf") == Price(input=0, output=0)
    assert table.price_for("localai-7b") is None
