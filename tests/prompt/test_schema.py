"""The answer model built from an SOP: field order, allowed ids, normalisation, rejection, caching."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import prelabel
from prelabel.prompt.schema import answer_labels, schema_name

SINGLE = """\
id: fruit_kind
version: 1.0.0
title: Fruit
labels:
  - id: fruit
    definition: Fruit.
    children:
      - id: fruit.apple
        definition: An apple.
      - id: fruit.pear
        definition: A pear.
  - id: other
    definition: Anything else.
rules:
  - {id: R1, text: Label the main item.}
edge_cases:
  - {id: E1, text: "apple pie", label: other, ruling: Food made of fruit is other.}
abstain: {allowed: true, label: unsure}
"""

MULTI = """\
id: tags
version: 2.0.0
title: Tags
task: multi_label
labels:
  - {id: spam, definition: Spam.}
  - {id: abuse, definition: Abuse.}
  - {id: fine, definition: Nothing wrong.}
abstain: {allowed: true, label: escalate}
"""

NO_RULES = """\
id: bare
version: "1"
title: Bare
labels:
  - {id: yes, definition: Yes.}
  - {id: no, definition: No.}
"""


@pytest.fixture
def single() -> prelabel.SOP:
    return prelabel.parse_sop(SINGLE)


@pytest.fixture
def multi() -> prelabel.SOP:
    return prelabel.parse_sop(MULTI)


def answer(**fields: object) -> dict[str, object]:
    return {"rationale": "because", "cited_rules": [], "confidence": 0.5, **fields}


def test_single_label_fields_in_reasoning_order(single: prelabel.SOP) -> None:
    model = prelabel.response_model(single)
    assert list(model.model_fields) == ["rationale", "label", "cited_rules", "confidence"]
    schema = model.model_json_schema()
    assert list(schema["properties"]) == ["rationale", "label", "cited_rules", "confidence"]
    assert schema["properties"]["label"]["enum"] == ["fruit.apple", "fruit.pear", "other", "unsure"]
    assert schema["properties"]["cited_rules"]["items"]["enum"] == ["R1", "E1"]
    assert schema["additionalProperties"] is False


def test_multi_label_fields(multi: prelabel.SOP) -> None:
    model = prelabel.response_model(multi)
    assert list(model.model_fields) == ["rationale", "labels", "cited_rules", "confidence"]
    ok = model.model_validate(answer(labels=["spam", " ABUSE "]))
    assert answer_labels(ok) == ["spam", "abuse"]


def test_schema_name_is_valid_for_every_provider() -> None:
    sop = prelabel.parse_sop(NO_RULES.replace("id: bare", "id: " + "a.b-c_d" * 20))
    name = schema_name(sop)
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name)
    assert prelabel.response_model(sop).__name__ == name


@pytest.mark.parametrize("variant", [" Fruit.Apple ", "FRUIT.APPLE", "fruit.apple\n", "fruit . apple"])
def test_case_and_whitespace_variants_are_normalised(single: prelabel.SOP, variant: str) -> None:
    model = prelabel.response_model(single)
    assert model.model_validate(answer(label=variant)).label == "fruit.apple"  # type: ignore[attr-defined]


@given(st.sampled_from(["fruit.apple", "fruit.pear", "other", "unsure"]), st.data())
def test_any_case_variant_of_an_answer_id_validates(label_id: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(label_id), max_size=len(label_id)))
    variant = "".join(c.upper() if flip else c for c, flip in zip(label_id, flips, strict=True))
    pad = data.draw(st.sampled_from(["", " ", "\t", "  \n"]))
    model = prelabel.response_model(prelabel.parse_sop(SINGLE))
    assert model.model_validate(answer(label=pad + variant + pad)).label == label_id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        {"label": "fruit"},  # a parent, not a leaf
        {"label": "banana"},
        {"label": "fruit_apple"},  # not a whitespace/case variant
        {"label": 3},
        {"label": "other", "confidence": 1.5},
        {"label": "other", "confidence": -0.1},
        {"label": "other", "cited_rules": ["R9"]},
        {"label": "other", "extra": "field"},
    ],
)
def test_anything_else_is_rejected(single: prelabel.SOP, bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        prelabel.response_model(single).model_validate(answer(**bad))


def test_missing_fields_are_rejected(single: prelabel.SOP) -> None:
    model = prelabel.response_model(single)
    with pytest.raises(ValidationError):
        model.model_validate({"label": "other", "confidence": 0.5})  # no rationale
    with pytest.raises(ValidationError):
        model.model_validate({"rationale": "x", "confidence": 0.5})  # no label


def test_cited_rules_normalised_and_deduplicated(single: prelabel.SOP) -> None:
    model = prelabel.response_model(single)
    parsed = model.model_validate(answer(label="other", cited_rules=["r1", " E1", "R1"]))
    assert parsed.cited_rules == ["R1", "E1"]  # type: ignore[attr-defined]


def test_sop_without_rules_accepts_only_empty_citations() -> None:
    model = prelabel.response_model(prelabel.parse_sop(NO_RULES))
    assert model.model_validate(answer(label="yes")).cited_rules == []  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        model.model_validate(answer(label="yes", cited_rules=["R1"]))


def test_abstain_label_only_when_allowed(single: prelabel.SOP) -> None:
    assert prelabel.response_model(single).model_validate(answer(label="Unsure")).label == "unsure"  # type: ignore[attr-defined]
    strict = prelabel.parse_sop(SINGLE.replace("allowed: true", "allowed: false"))
    with pytest.raises(ValidationError):
        prelabel.response_model(strict).model_validate(answer(label="unsure"))


@pytest.mark.parametrize(
    "labels", [[], ["spam", "spam"], ["spam", "SPAM"], ["ham"], ["escalate", "spam"], "spam"]
)
def test_multi_label_rejections(multi: prelabel.SOP, labels: object) -> None:
    with pytest.raises(ValidationError):
        prelabel.response_model(multi).model_validate(answer(labels=labels))


def test_multi_label_abstain_alone_is_valid(multi: prelabel.SOP) -> None:
    parsed = prelabel.response_model(multi).model_validate(answer(labels=["escalate"]))
    assert answer_labels(parsed) == ["escalate"]


def test_cached_per_sop_hash(single: prelabel.SOP) -> None:
    again = prelabel.parse_sop(SINGLE)
    assert again is not single
    assert prelabel.response_model(again) is prelabel.response_model(single)
    bumped = prelabel.parse_sop(SINGLE.replace("version: 1.0.0", "version: 1.0.1"))
    assert prelabel.response_model(bumped) is not prelabel.response_model(single)


def test_every_bundled_sop_builds(bundled_name: str) -> None:
    sop = prelabel.bundled_sop(bundled_name)
    model = prelabel.response_model(sop)
    field = "labels" if sop.multi_label else "label"
    first = sop.leaf_ids[0]
    parsed = model.model_validate(answer(**{field: [first] if sop.multi_label else first}))
    assert answer_labels(parsed) == [first]


def test_exclusive_leaf_must_stand_alone_in_multi_label_answers() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    model = prelabel.response_model(sop)
    other = next(i for i in sop.leaf_ids if i != "safe")
    assert answer_labels(model.model_validate(answer(labels=["safe"]))) == ["safe"]
    assert answer_labels(model.model_validate(answer(labels=[other]))) == [other]
    with pytest.raises(ValidationError, match="only label"):
        model.model_validate(answer(labels=["safe", other]))
