"""The answer cache keys items by the one item digest: what the prompt shows, a local image by its bytes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import prelabel
from prelabel.authoring.answer_cache import AnswerCache, Answerer
from prelabel.inputs.items import Item
from prelabel.labeling.options import LabelOptions
from prelabel.testing import FakeModel

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def test_answers_are_found_again_unless_what_the_prompt_shows_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("photo.png").write_bytes(PNG)
    sop = prelabel.bundled_sop("customer_feedback_intent")
    cache = AnswerCache(tmp_path / "answers.sqlite")
    fake = FakeModel()
    answerer = Answerer(sop, LabelOptions(model="gpt-4o-mini"), client=fake.async_client(), cache=cache)

    def ask(**fields: object) -> None:
        item = Item.model_validate({"text": "see photo", "images": ["photo.png"], **fields})
        asyncio.run(answerer.answer([item]))

    ask(id="a", meta={"market": "TH"})
    ask(id="b", meta={"market": "ID"})  # another id and meta: the same prompt, the cached answer
    assert (len(fake.requests), answerer.from_cache) == (1, 1)
    Path("photo.png").write_bytes(PNG + b"\x01")  # the same path, another image: another prompt
    ask(id="a", meta={"market": "TH"})
    assert (len(fake.requests), answerer.from_cache, len(cache)) == (2, 1, 2)
