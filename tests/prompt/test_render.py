"""Rendering: golden prompts for every bundled SOP, cache-stable system messages, prompt hashes, images.

Golden files live in ``tests/prompt/golden/<sop>.system.txt`` and ``<sop>.user.txt``. After an intended change
to a template or a bundled SOP, regenerate them and review the diff::

    PRELABEL_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

import helpers
import prelabel
from prelabel import SOP, ItemError, TemplateError, parse_sop, prompt_hash, render, render_prompt

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_ITEM = {
    "id": "golden-1",
    "text": "Paket belum sampai 10 hari, penjual minta transfer ke rekening pribadi 🙏",
    "language": "id",
}
render_module = importlib.import_module("prelabel.prompt.rendering")  # not prelabel.render: a function
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(40))


def check_golden(name: str, actual: str) -> None:
    helpers.check_golden(GOLDEN, name, actual)


def system_of(messages: list[dict[str, object]]) -> object:
    assert messages[0]["role"] == "system"
    return messages[0]["content"]


def user_of(messages: list[dict[str, object]]) -> object:
    assert messages[-1]["role"] == "user"
    return messages[-1]["content"]


def test_golden_prompts(bundled_name: str) -> None:
    messages = render(prelabel.bundled_sop(bundled_name), GOLDEN_ITEM)
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = system_of(messages), user_of(messages)
    assert isinstance(system, str) and isinstance(user, str)
    check_golden(f"{bundled_name}.system.txt", system)
    check_golden(f"{bundled_name}.user.txt", user)


def test_golden_system_prompt_lists_every_label_rule_and_edge_case(bundled_name: str) -> None:
    sop = prelabel.bundled_sop(bundled_name)
    system = (GOLDEN / f"{bundled_name}.system.txt").read_text(encoding="utf-8")
    for label_id in sop.label_index:
        assert f"- {label_id}" in system
    for leaf in sop.leaf_ids:
        assert f"- {leaf} [answer" in system
    for ref in sop.citable_ids:
        assert f"\n{ref}. " in system
    assert sop.version in system


def test_system_message_is_byte_identical_for_every_item(bundled_name: str, tmp_path: Path) -> None:
    sop = prelabel.bundled_sop(bundled_name)
    image = tmp_path / "photo.png"
    image.write_bytes(PNG)
    items: list[dict[str, object]] = [
        {"id": "1", "text": "where is my parcel?"},
        {"id": "2", "text": "สินค้าไม่ตรงปก", "language": "th", "meta": {"market": "TH"}},
        {"id": "3", "images": [str(image)]},
        {"id": "4", "text": "x" * 5000, "images": ["https://example.com/a.jpg"]},
    ]
    systems = {system_of(render(sop, item)) for item in items}
    assert len(systems) == 1


def test_user_message_carries_the_item_between_markers() -> None:
    prompt = render_prompt(prelabel.bundled_sop("customer_feedback_intent"), GOLDEN_ITEM)
    user = user_of(prompt.messages)
    assert isinstance(user, str)
    begin, end = render_module.delimiters(f"{GOLDEN_ITEM['text']}\n{GOLDEN_ITEM['language']}")
    assert user.endswith(f"\n{begin}\n{GOLDEN_ITEM['text']}\n{end}")
    assert 'Item language: "id"' in user
    assert prompt.template == "classify.v1"


def test_multi_label_and_abstain_wording() -> None:
    risk = system_of(render(prelabel.bundled_sop("seller_content_risk"), GOLDEN_ITEM))
    feedback = system_of(render(prelabel.bundled_sop("customer_feedback_intent"), GOLDEN_ITEM))
    assert isinstance(risk, str) and isinstance(feedback, str)
    assert "Multi-label: answer every label that applies" in risk
    assert "- safe [answer; never combined with other labels]" in risk
    assert "answer only the label escalate" in risk
    assert "Single-label: answer exactly one label" in feedback
    assert "answer the label needs_review" in feedback


def test_no_abstain_wording(minimal_sop: str) -> None:
    system = system_of(render(parse_sop(minimal_sop), {"id": "1", "text": "an apple"}))
    assert isinstance(system, str)
    assert "abstaining is not allowed" in system
    assert "needs_review" not in system


# ---------------------------------------------------------------------------------------------- prompt hash


def test_prompt_hash_is_stable_across_items_and_loads(bundled_name: str) -> None:
    first = prelabel.bundled_sop(bundled_name)
    again = prelabel.load_sop(prelabel.bundled_sop_path(bundled_name))
    hashes = {
        render_prompt(first, {"id": "1", "text": "one"}).prompt_hash,
        render_prompt(again, {"id": "2", "text": "two", "language": "vi"}).prompt_hash,
        prompt_hash(first),
        prompt_hash(again, "classify.v1"),
    }
    assert len(hashes) == 1
    (value,) = hashes
    assert value.startswith("sha256:") and len(value) == len("sha256:") + 64


def test_prompt_hash_changes_with_the_sop(minimal_sop: str) -> None:
    base = parse_sop(minimal_sop)
    reworded = parse_sop(minimal_sop.replace("An apple.", "An apple, including crab apples."))
    bumped = parse_sop(minimal_sop.replace("version: 1.0.0", "version: 1.0.1"))
    assert len({prompt_hash(base), prompt_hash(reworded), prompt_hash(bumped)}) == 3


def test_prompt_hash_ignores_sop_formatting(minimal_sop: str) -> None:
    commented = "# a comment\n" + minimal_sop.replace("title: Demo SOP", "title: 'Demo SOP'  # quoted")
    assert prompt_hash(parse_sop(commented)) == prompt_hash(parse_sop(minimal_sop))


def test_prompt_hash_changes_with_the_template_source(
    minimal_sop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sop = parse_sop(minimal_sop)
    before = prompt_hash(sop)
    original = render_module._template_source
    monkeypatch.setattr(render_module, "_template_source", lambda name: original(name) + "{# edited #}")
    assert prompt_hash(sop) != before
    monkeypatch.undo()
    assert prompt_hash(sop) == before


def test_rationale_language_appears_and_changes_the_hash(minimal_sop: str) -> None:
    sop = parse_sop(minimal_sop)
    item = {"id": "1", "text": "apel"}
    plain = render_prompt(sop, item)
    thai = render_prompt(sop, item, rationale_language="Thai")
    assert "Write the rationale in Thai, whatever the language of the item." in str(system_of(thai.messages))
    assert "Write the rationale in" not in str(system_of(plain.messages))
    assert thai.prompt_hash != plain.prompt_hash
    from_sop = parse_sop(minimal_sop + "rationale_language: English\n")
    assert "Write the rationale in English" in str(system_of(render(from_sop, item)))
    assert "Write the rationale in Thai" in str(system_of(render(from_sop, item, rationale_language="Thai")))


# ---------------------------------------------------------------------------------------------- images


@pytest.fixture
def sop(minimal_sop: str) -> SOP:
    return parse_sop(minimal_sop)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def test_local_image_becomes_a_base64_data_url(sop: SOP, write_file: Callable[[str, bytes], Path]) -> None:
    png = write_file("photo.png", PNG)
    content = user_of(render(sop, {"id": "1", "text": "what fruit?", "images": [str(png)]}))
    assert isinstance(content, list)
    text_part, image_part = content
    assert text_part["type"] == "text"
    assert "The item has 1 image(s), attached after this text." in text_part["text"]
    assert image_part["type"] == "image_url"
    url = image_part["image_url"]["url"]
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    assert base64.b64decode(url.removeprefix(prefix)) == PNG


def test_image_type_comes_from_the_content(sop: SOP, write_file: Callable[[str, bytes], Path]) -> None:
    jpeg = write_file("photo.png", b"\xff\xd8\xff\xe0" + bytes(20))  # misnamed JPEG
    webp = write_file("sticker", b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8))
    content = user_of(render(sop, {"id": "1", "images": [str(jpeg), str(webp)]}))
    assert isinstance(content, list)
    urls = [part["image_url"]["url"] for part in content[1:]]
    assert urls[0].startswith("data:image/jpeg;base64,")
    assert urls[1].startswith("data:image/webp;base64,")


def test_image_urls_pass_through(sop: SOP) -> None:
    refs = [
        "https://cdn.example.com/a.jpg?x=1",
        "http://example.com/b.png",
        "data:image/png;base64,iVBORw0KGgo=",
    ]
    content = user_of(render(sop, {"id": "1", "text": "fruit?", "images": refs}))
    assert isinstance(content, list)
    assert [part["image_url"]["url"] for part in content[1:]] == refs


def test_unreadable_image_is_an_item_error(sop: SOP, tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(ItemError, match="cannot read image") as info:
        render(sop, {"id": "item-7", "text": "fruit?", "images": [str(missing)]})
    assert info.value.item_id == "item-7"
    with pytest.raises(ItemError, match="cannot read image"):
        render(sop, {"id": "item-8", "images": [str(tmp_path)]})  # a directory


def test_non_image_file_is_an_item_error(sop: SOP, write_file: Callable[[str, bytes], Path]) -> None:
    text_file = write_file("notes.txt", b"just some notes")
    fake_png = write_file("fake.png", b"<html>not an image</html>")
    with pytest.raises(ItemError, match=r"is not a PNG, JPEG, GIF or WEBP image \(text/plain\)") as info:
        render(sop, {"id": "item-9", "images": [str(text_file)]})
    assert info.value.item_id == "item-9"
    with pytest.raises(ItemError, match=r"is not a PNG, JPEG, GIF or WEBP image \(image/png\)"):
        render(sop, {"id": "item-10", "images": [str(fake_png)]})


def test_item_without_text_or_images_is_an_item_error(sop: SOP) -> None:
    with pytest.raises(ItemError, match="neither text nor images"):
        render(sop, {"id": "1", "text": "   "})
    with pytest.raises(ItemError, match="item must be an object"):
        render(sop, 42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- templates


def test_unknown_template_is_a_template_error(sop: SOP) -> None:
    with pytest.raises(TemplateError, match=r"unknown template 'classify\.v9'; bundled: classify\.v1"):
        render(sop, {"id": "1", "text": "x"}, template="classify.v9")
    with pytest.raises(TemplateError):
        prompt_hash(sop, template="../prompts/classify.v1")  # names, not paths


def test_list_templates() -> None:
    templates = prelabel.list_templates()
    assert "classify.v1" in templates
    assert templates == sorted(templates)
    assert all(not name.endswith(".jinja") for name in templates)
