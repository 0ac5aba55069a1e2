"""The one item digest: it changes exactly when the prompt an item renders to changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import prelabel
from prelabel.inputs.digest import is_item_digest, item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.prompt.rendering import list_templates, render

SOP = prelabel.bundled_sop("customer_feedback_intent")
CLASSIFY = [name for name in list_templates() if name.startswith("classify.")]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

BASE: dict[str, Any] = {
    "id": "a1",
    "text": "the mug arrived in pieces",
    "language": "en",
    "images": ["https://example.com/mug.jpg"],
    "meta": {"market": "TH"},
}


def shown(item: Item, template: str) -> list[dict[str, Any]]:
    return render(SOP, item, template)


@pytest.mark.parametrize("template", CLASSIFY)
@pytest.mark.parametrize("change", [{"id": "other"}, {"meta": {"market": "ID", "batch": 7}}, {"meta": {}}])
def test_what_the_prompt_does_not_show_changes_neither_prompt_nor_digest(
    template: str, change: dict[str, Any]
) -> None:
    before, after = Item(**BASE), Item(**{**BASE, **change})
    assert shown(before, template) == shown(after, template)  # a template showing more needs a new digest
    assert item_digest(before) == item_digest(after)


@pytest.mark.parametrize("template", CLASSIFY)
@pytest.mark.parametrize(
    "change",
    [
        {"text": "the mug arrived in one piece"},
        {"language": "th"},
        {"language": None},
        {"images": []},
        {"images": ["https://example.com/other.jpg"]},
        {"images": ["https://example.com/mug.jpg", "https://example.com/mug.jpg"]},
    ],
)
def test_what_the_prompt_shows_changes_prompt_and_digest(template: str, change: dict[str, Any]) -> None:
    before, after = Item(**BASE), Item(**{**BASE, **change})
    assert shown(before, template) != shown(after, template)
    assert item_digest(before) != item_digest(after)


def test_a_local_image_counts_by_its_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    image = tmp_path / "photo.png"
    image.write_bytes(PNG)
    for ref in (str(image), "photo.png"):  # absolute, and relative to where the prompt is rendered
        item = Item(id="p", text="see photo", images=[ref])
        first_prompt, first = render(SOP, item), item_digest(item)
        image.write_bytes(PNG + b"\x01")  # the same path, other bytes: another prompt
        assert render(SOP, item) != first_prompt and item_digest(item) != first
        image.write_bytes(PNG)
        assert item_digest(item) == first
    image.unlink()  # an unreadable image still has a digest (its prompt fails, the row becomes an error)
    assert is_item_digest(item_digest(Item(id="p", text="see photo", images=["photo.png"])))


def test_text_items_keep_the_answer_caches_keys() -> None:
    # the values prelabel 0.1.0's answer cache computed (``item_hash``): cached answers stay found
    assert item_digest(Item(id="a", text="late parcel", meta={"market": "TH"})) == (
        "sha256:b5a5f14467a580f337011c9e5da214321d7bea39b864a4d37b815fd6ecdfd19c"
    )
    assert item_digest(Item(id="x", text="แก้ว", language="th", images=["https://e/x.jpg"])) == (
        "sha256:2a79f6d4117d6f2303109e656eb6800caf3b40410455a803c83938fdeed2666a"
    )


def test_lone_surrogates_and_bad_rows_have_digests() -> None:
    assert item_digest(Item(id="s", text="half \ud800 pair")) != item_digest(Item(id="s", text="half pair"))
    bad = item_digest(BadItem(3, "line 4: id: Field required"))
    assert is_item_digest(bad) and bad != item_digest(BadItem(3, "line 4: text: too long"))
    assert bad != item_digest(BadItem(3, "line 4: id: Field required", "x"))
    assert not is_item_digest("f9f9557f99b78af651277a431b4f0c43")  # a ledger row of prelabel 0.1.0
