"""The per-item size limit (issue 13 item 10): oversized items are error records in runs and dry runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel
from prelabel import InputError, LabelOptions, estimate, run
from prelabel.inputs.items import Item
from prelabel.labeling import item_size
from prelabel.labeling.item_size import oversize_reason
from prelabel.testing.fake import FakeModel

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
HUGE = "word " * 1_000_000  # 5 MB, about a million tokens


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    rows = [
        {"id": "small", "text": "late parcel"},
        {"id": "huge", "text": HUGE},
        {"id": "last", "text": "ok"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_5_mb_item_is_an_error_record_and_the_rest_are_labeled(tmp_path: Path, items_file: Path) -> None:
    fake = FakeModel()
    summary = run(SOP_PATH, items_file, tmp_path / "run", client=fake.async_client())
    lines = [json.loads(x) for x in (tmp_path / "run" / "labels.jsonl").read_text().splitlines()]
    assert [line["status"] for line in lines] == ["ok", "error", "ok"]
    assert lines[1]["item_id"] == "huge" and lines[1]["error"]["type"] == "invalid_item"
    assert lines[1]["error"]["message"] == (
        "text too large: 5,000,000 characters, over the per-item limit of 100,000 tokens "
        "(raise it with --max-item-tokens)"
    )
    assert len(fake.requests) == 2  # the huge item was never sent
    assert summary.counts["error"] == 1 and summary.status == "completed"


def test_a_dry_run_estimates_the_rest_and_counts_the_huge_item_unusable(items_file: Path) -> None:
    guess = estimate(SOP_PATH, items_file)  # crashed with "Input too long to encode safely"
    assert (guess.items, guess.bad_items, guess.too_large) == (2, 1, 1)
    assert guess.prompt_tokens < 10_000


def test_the_limit_is_an_option(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "word " * 300}) + "\n", encoding="utf-8")
    assert (estimate(SOP_PATH, path, max_item_tokens=100).bad_items, estimate(SOP_PATH, path).bad_items) == (
        1,
        0,
    )
    assert estimate(SOP_PATH, path, LabelOptions(max_item_tokens=None)).bad_items == 0
    assert LabelOptions().max_item_tokens == 100_000
    with pytest.raises(InputError, match="max_item_tokens"):
        LabelOptions.build(None, {"max_item_tokens": 0})


def test_small_items_are_not_tokenized(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text of no more bytes than the limit is within it (a token is at least a byte): no counting."""

    def refuse(*args: object) -> int:
        raise AssertionError("counted tokens")

    monkeypatch.setattr(item_size, "count_tokens", refuse)
    assert oversize_reason(Item(id="a", text="é" * 50), 100) is None
    with pytest.raises(AssertionError):
        oversize_reason(Item(id="a", text="é" * 51), 100)


def test_counting_stops_once_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = item_size.count_tokens

    def counting(messages: list[dict[str, str]], model: str) -> int:
        calls.append(len(messages[0]["content"]))
        return real(messages, model)

    monkeypatch.setattr(item_size, "count_tokens", counting)
    assert oversize_reason(Item(id="a", text=HUGE), 1000) is not None
    assert calls == [100_000]  # one chunk of 100,000 characters, not the 5,000,000


def test_one_item_labeled_directly_is_bounded_too() -> None:
    """``Labeler.label`` (a notebook's one-off call) refuses what a run would, and sends nothing."""
    fake = FakeModel()
    labeler = prelabel.Labeler(prelabel.load_sop(SOP_PATH), client=fake.async_client(), max_item_tokens=100)
    result = labeler.label({"id": "big", "text": "word " * 300})
    assert result.status == "error" and result.error is not None and result.error.type == "invalid_item"
    assert result.item_id == "big" and fake.requests == []
    assert labeler.label({"id": "small", "text": "late parcel"}).status == "ok"
