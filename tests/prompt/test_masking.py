"""``prompt.masking``: personal data found in the markets' formats and replaced by stable placeholders."""

from __future__ import annotations

import sys
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import prelabel
from helpers import run_cli
from personal_data import ITEMS, KEPT, MASK, PRIVACY, leaked, privacy_sop
from prelabel.errors import InputError
from prelabel.inputs.digest import item_digest
from prelabel.inputs.items import Item
from prelabel.prompt import masking
from prelabel.prompt.masking import MaskPolicy, item_region, luhn_valid, mask_item, mask_policy, mask_text

ALL = MaskPolicy(kinds=("email", "phone", "card"), patterns=(("ORDER", r"ORD-\d{4}-\d{6}"),))
SOP = prelabel.bundled_sop("customer_feedback_intent")


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("hubungi 0812-3456-7890 atau +62 812 3456 7890", "ID"),
        ("โทร 081 234 5678 หรือ +66 81 234 5678", "TH"),
        ("gọi 0912 345 678 hoặc +84 91 234 56 78", "VN"),
        ("call 012-345 6789 or +60 12-345 6789", "MY"),
        ("text 0917 123 4567 or +63 917 123 4567", "PH"),
        ("whatsapp 8123 4567 or +65 8123 4567", "SG"),
        ("call (201) 555-0123 or +1 201 555 0123", "US"),
    ],
)
def test_a_market_number_in_national_and_international_form_is_one_placeholder(
    text: str, region: str
) -> None:
    masked = mask_text(ALL, text, region)
    assert masked.counts == {"PHONE": 2} and masked.text.count("<PHONE_1>") == 2
    assert not any(c.isdigit() for c in masked.text.replace("<PHONE_1>", ""))


def test_the_items_region_comes_from_its_market_or_language() -> None:
    assert item_region(Item(id="a", text="x", meta={"market": "th"})) == "TH"
    assert item_region(Item(id="a", text="x", language="en-PH")) == "PH"
    assert item_region(Item(id="a", text="x", language="vi")) == "VN"
    assert item_region(Item(id="a", text="x")) is None
    # a Thai number written the Thai way is read in Thailand first, whatever the default regions
    item = Item(id="a", text="โทร 081 234 5678 หรือ +66 81 234 5678", language="th")
    assert mask_item(ALL, item)[1].mapping == {"<PHONE_1>": "081 234 5678"}


def test_only_luhn_valid_cards_are_masked_and_look_alikes_stay() -> None:
    text = "card 4111-1111-1111-1111, again 4111111111111111, ref 1234 5678 9012 3456, date 12 03 2024"
    masked = mask_text(ALL, text)
    assert masked.text == "card <CARD_1>, again <CARD_1>, ref 1234 5678 9012 3456, date 12 03 2024"
    assert luhn_valid("5500000000000004") and not luhn_valid("1234567890123456")


def test_dates_amounts_and_digit_runs_before_a_number_stay() -> None:
    text = "on 2024-03-12 and 31/08/2024 paid Rp 85.000.000 (1,299,000), 12 03 2024 0812 3456 7890"
    assert mask_text(ALL, text).text == (
        "on 2024-03-12 and 31/08/2024 paid Rp 85.000.000 (1,299,000), 12 03 2024 <PHONE_1>"
    )


def test_placeholders_are_stable_per_item_and_numbered_in_order() -> None:
    text = "a@x.io b@y.io A@X.IO ORD-2024-000001 ORD-2024-000002 ORD-2024-000001"
    masked = mask_text(ALL, text)
    assert masked.text == "<EMAIL_1> <EMAIL_2> <EMAIL_1> <ORDER_1> <ORDER_2> <ORDER_1>"
    assert masked.counts == {"EMAIL": 3, "ORDER": 3}
    assert masked.mapping == {
        "<EMAIL_1>": "a@x.io", "<EMAIL_2>": "b@y.io", "<ORDER_1>": "ORD-2024-000001",
        "<ORDER_2>": "ORD-2024-000002",
    }  # fmt: skip
    again = mask_text(ALL, "ORD-2024-000002 only")  # another item starts again at 1
    assert again.text == "<ORDER_1> only"


def test_the_sops_patterns_run_first_and_other_detectors_do_not_see_their_values() -> None:
    policy = MaskPolicy(kinds=("phone",), patterns=(("NIK", r"\b\d{16}\b"),))
    masked = mask_text(policy, "NIK 3171234567890123, hp 0812 3456 7890", "ID")
    assert masked.text == "NIK <NIK_1>, hp <PHONE_1>"


def test_nothing_to_mask_leaves_the_item_and_its_digest_alone() -> None:
    item = Item(id="a", text="late parcel, no contact details", language="en")
    assert mask_item(ALL, item)[0] is item
    assert masking.masked_digest(ALL, item) == item_digest(item)
    assert mask_item(MaskPolicy(), Item(id="b", text="a@b.co"))[0].text == "a@b.co"  # nothing asked


def test_the_policy_is_the_sops_privacy_section_plus_the_kinds_asked_for(tmp_path: Path) -> None:
    sop = prelabel.load_sop(privacy_sop(tmp_path / "sop.yaml", {**PRIVACY, "mask": ["email"]}))
    policy = mask_policy(sop, "card")
    assert policy.kinds == ("email", "card") and policy.patterns == (("ORDER", r"ORD-\d{4}-\d{6}"),)
    assert MaskPolicy.from_record(policy.record()) == MaskPolicy(kinds=policy.kinds, patterns=policy.patterns)
    assert not mask_policy(SOP).active
    with pytest.raises(ValueError, match="unknown mask kind 'phones'"):
        mask_policy(SOP, ["phones"])


def test_an_sop_without_privacy_keeps_its_hash_and_a_privacy_section_changes_it(tmp_path: Path) -> None:
    # an SOP without privacy: hashes as before the section existed (run ledgers stay valid)
    assert SOP.sha256 == "5cff00098a4c" + SOP.sha256[12:]
    with_privacy = prelabel.load_sop(privacy_sop(tmp_path / "sop.yaml"))
    assert with_privacy.sha256 != SOP.sha256


def test_bad_privacy_sections_are_one_located_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {
        "mask": ["phone", "emial"],
        "phone_regions": ["id", "XYZ"],
        "patterns": [
            {"name": "ORDER", "regex": "("},
            {"name": "PHONE", "regex": "x*"},
            {"name": "order", "regex": "o"},
        ],
    }
    path = privacy_sop(tmp_path / "bad.yaml", bad)
    code, _, err = run_cli(capsys, "validate", str(path))
    lines = err.splitlines()
    assert code == 2 and len(lines) == 6 and all(line.startswith(f"{path}:") for line in lines)
    assert "privacy.mask[1]: must be 'email', 'phone' or 'card', got text 'emial'" in err
    assert "privacy.phone_regions: 'XYZ' is not a two-letter region code" in err
    assert "privacy.patterns[0].regex: not a valid regular expression" in err
    assert "privacy.patterns[1].name: 'PHONE' is a built-in kind's name" in err
    assert "privacy.patterns[1].regex: the regex matches empty text" in err
    assert "privacy.patterns[2].name: invalid name 'order': use capital letters, digits and '_'" in err
    twice = privacy_sop(tmp_path / "twice.yaml", {"patterns": [{"name": "A", "regex": "a"}] * 2})
    code, _, err = run_cli(capsys, "validate", str(twice))
    assert code == 2 and "pattern name 'A' is used twice" in err


def test_masking_phones_without_phonenumbers_is_refused_never_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "phonenumbers", None)  # import phonenumbers -> ImportError
    masking._policy.cache_clear()
    try:
        with pytest.raises(InputError, match=r"pip install 'prelabel\[privacy\]'"):
            mask_policy(SOP, ["phone"])
        assert mask_policy(SOP, ["email"]).kinds == ("email",)  # the other kinds need no package
    finally:
        masking._policy.cache_clear()


def test_render_shows_the_masked_prompt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sop = privacy_sop(tmp_path / "sop.yaml")
    item = '{"id": "1", "language": "id", "text": "' + ITEMS[0]["text"] + ' ORD-2024-000123"}'
    code, out, err = run_cli(capsys, "render", str(sop), "--item", item, "--mask", MASK)
    assert code == 0, err
    assert "hubungi <PHONE_1> atau <PHONE_1>, email <EMAIL_1> <ORDER_1>" in out
    assert '"masked": {' in out and '"PHONE": 2' in out and not leaked([out])
    code, out, _ = run_cli(capsys, "render", str(sop), "--item", item)  # the SOP's own pattern alone
    assert code == 0 and "<ORDER_1>" in out and "0812-3456-7890" in out
    code, _, err = run_cli(capsys, "render", str(sop), "--item", item, "--mask", "email,fax")
    assert code == 2 and err.count("\n") == 1 and "unknown mask kind 'fax'" in err


# ------------------------------------------------------------------------------------------- property

_WORDS = st.text(st.sampled_from("abcdefghij klmnop qrst uvwxyz ,.!?ก่าวเđươ"), max_size=30)


def _phone(region: str, international: bool) -> str:
    kind = phonenumbers.PhoneNumberType.MOBILE
    number = phonenumbers.example_number_for_type(region, kind)
    form = (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
        if international
        else phonenumbers.PhoneNumberFormat.NATIONAL
    )
    return phonenumbers.format_number(number, form)


def _card(prefix: str, body: str) -> str:
    digits = (prefix + body)[:15]
    check = next(d for d in "0123456789" if luhn_valid(digits + d))
    return " ".join((digits + check)[i : i + 4] for i in range(0, 16, 4))


_USER = st.from_regex(r"[a-z][a-z0-9.]{0,8}[a-z]", fullmatch=True)
_VALUES = st.one_of(
    st.builds(lambda user, host: f"{user}@{host}.com", _USER, st.from_regex(r"[a-z]{2,8}", fullmatch=True)),
    st.builds(_phone, st.sampled_from(["ID", "TH", "VN", "MY", "PH", "SG", "US"]), st.booleans()),
    st.builds(_card, st.sampled_from(["4", "51", "37", "6011"]), st.from_regex(r"[0-9]{15}", fullmatch=True)),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(_WORDS, _VALUES), min_size=1, max_size=4), tail=_WORDS)
@example(parts=[("", "081 234 5678")] * 3, tail="")  # not one long number and a rest: three numbers (CI)
def test_masked_text_never_contains_a_detected_or_planted_value(
    parts: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(f"{words} {value} " for words, value in parts) + tail
    masked = mask_text(ALL, text)
    for original in masked.mapping.values():
        assert original not in masked.text
    for _, value in parts:  # every planted email, market phone number and Luhn-valid card is found
        assert value not in masked.text, (value, masked.text)
    # the same value gets the same placeholder: as many distinct placeholders as distinct values at most
    assert len(masked.mapping) <= len({v.casefold() for _, v in parts})


def test_kept_look_alikes_reach_the_model() -> None:
    text = ITEMS[-1]["text"]
    masked = mask_text(ALL, text)
    assert all(kept in masked.text for kept in KEPT if kept in text)


def test_label_options_take_kinds_as_text_or_a_list() -> None:
    assert prelabel.LabelOptions(mask="phone, email").mask == ("email", "phone")
    assert prelabel.LabelOptions(mask=["card"]).mask == ("card",)
    with pytest.raises(InputError, match="bad option: mask: unknown mask kind 'sms'"):
        prelabel.LabelOptions.build(None, {"mask": "sms"})


def test_a_videos_transcript_and_on_screen_text_are_masked_with_the_items_placeholders() -> None:
    """The transcript and OCR text are item text the prompt shows: masked with one numbering per item."""
    from prelabel.inputs.items import Item
    from prelabel.prompt.masking import mask_item, mask_policy

    sop = prelabel.bundled_sop("customer_feedback_intent")
    item = Item(
        id="v1",
        text="seller live, mail ana@example.com",
        video="clip.mp4",
        transcript="write to ana@example.com or bob@example.org",
        ocr_text="promo: bob@example.org",
    )
    masked, found = mask_item(mask_policy(sop, ["email"]), item)
    assert masked.text == "seller live, mail <EMAIL_1>"
    assert masked.transcript == "write to <EMAIL_1> or <EMAIL_2>"
    assert masked.ocr_text == "promo: <EMAIL_2>"
    assert found.counts == {"EMAIL": 4}
