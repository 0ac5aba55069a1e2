"""Rulings written into SOP YAML text (``prelabel.sop.edit``): the file's comments and formatting survive,
only the added lines and the version line change, and rulings outside the SOP are refused."""

from __future__ import annotations

import datetime
import difflib
import textwrap

import pytest

import prelabel
from prelabel import InputError, Ruling, SOPError, parse_sop
from prelabel.sop.edit import edit_sop
from prelabel.sop.versions import bump_version

TODAY = datetime.date(2026, 12, 7)
LATE_RUDE = "Parcel came late and the seller was rude"
LABELS = ("restricted.age_restricted", "off_platform.contact")
RULINGS = {
    "customer_feedback_intent": [
        Ruling(
            "42",
            "Parcel came late and the seller was rude",
            ("seller.conduct",),
            ruling="Rudeness wins.",
            rules=("R1",),
        ),
        Ruling("43", "Is the blue one in stock?", ("praise_other.other",), language="en"),
    ],
    "review_authenticity": [
        Ruling("r1", "nice", ("authentic.short",), ruling="Short and plain.", rules=("R4",), language="en"),
        Ruling("r2", "zzzz", ("cannot_judge",)),
    ],
    "seller_content_risk": [
        Ruling(
            "s1",
            "Vape pods, follow IG @vapes",
            ("restricted.age_restricted", "off_platform.contact"),
            ruling="Two problems: an age-restricted product and a social handle.",
            language="ms",
        ),
    ],
}


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The removed and the added lines of a diff."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    removed = [ln[1:] for ln in diff if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in diff if ln.startswith("+") and not ln.startswith("+++")]
    return removed, added


@pytest.mark.parametrize("name", sorted(RULINGS))
def test_a_bundled_sop_changes_only_by_the_added_lines_and_its_version(name: str) -> None:
    text = prelabel.bundled_sop_path(name).read_text(encoding="utf-8")
    before = parse_sop(text)
    edit = edit_sop(text, RULINGS[name], today=TODAY)
    removed, added = changed_lines(text, edit.text)
    assert removed == [f"version: {before.version}"] and edit.reformatted == 0
    assert f"version: {bump_version(before.version)}" in added
    # taking the added lines out again gives the original file, byte for byte
    kept = [ln for ln in difflib.ndiff(text.splitlines(True), edit.text.splitlines(True)) if ln[0] in " -"]
    assert "".join(ln[2:] for ln in kept) == text
    after = parse_sop(edit.text)
    assert after.version == bump_version(before.version)
    new_cases, new_tests = after.edge_cases[len(before.edge_cases) :], after.tests[len(before.tests) :]
    rulings = RULINGS[name]
    assert [c.text for c in new_cases] == [r.text for r in rulings if r.ruling]
    assert [(t.text, tuple(t.expect), t.language) for t in new_tests] == [
        (r.text, r.label, r.language) for r in rulings
    ]
    assert after.changelog[0].version == after.version and after.changelog[0].date == "2026-12-07"
    assert len(after.changelog[0].changes) == len(rulings)


def test_the_added_lines_follow_the_styles_of_the_entries_above() -> None:
    text = prelabel.bundled_sop_path("customer_feedback_intent").read_text(encoding="utf-8")
    edit = edit_sop(text, RULINGS["customer_feedback_intent"], today=TODAY)
    assert changed_lines(text, edit.text)[1] == [
        "version: 1.1.0",
        "  - id: E5",
        '    text: "Parcel came late and the seller was rude"',  # quoted as E1..E4 are
        "    label: seller.conduct",
        "    ruling: Rudeness wins.",
        "    rules: [R1]",  # a flow list as above
        # flow tests, as above
        '  - {id: T8, text: "Parcel came late and the seller was rude", expect: seller.conduct}',
        '  - {id: T9, text: "Is the blue one in stock?", expect: praise_other.other, language: en}',
        "changelog:",
        "  - version: 1.1.0",
        "    date: 2026-12-07",
        "    changes:",
        "      - Edge case E5 and test T8 from item 42 (label seller.conduct)",
        "      - Test T9 from item 43 (label praise_other.other)",
    ]


CUSTOM = """\
# A hand-written SOP: comments, blank lines, 4-space mappings, dashes at the key's column.
id: custom   # the id
version: '2.3'
title: Custom

labels:
- id: a
  definition: A.
- id: b
  definition: B.

rules:
- id: R1
  text: 'Prefer b.'   # the one rule
edge_cases:
- id: E1
  text: 'first'
  label: a
  ruling: Because.  # why

  # after the edge cases
abstain:
    allowed: true
    label: unsure
tests:
- {id: T3, text: 'x', expect: a}

# end of file
changelog:
- {version: '2.2', date: 2024-01-01, changes: [Started.]}
"""


def test_comments_blank_lines_and_indentation_survive() -> None:
    ruling = Ruling(
        "i9", "second one", ("b",), ruling="R1 says b.", rules=("R1",), source="export.json#task 9"
    )
    edit = edit_sop(CUSTOM, [ruling], today=TODAY)
    expected = (
        CUSTOM.replace("version: '2.3'", "version: '2.4'")
        .replace(
            "  ruling: Because.  # why\n",
            "  ruling: Because.  # why\n- id: E2\n  text: 'second one'\n  label: b\n  ruling: R1 says b.\n"
            "  rules: [R1]\n",
        )
        .replace(
            "- {id: T3, text: 'x', expect: a}\n",
            "- {id: T3, text: 'x', expect: a}\n- {id: T4, text: 'second one', expect: b}\n",
        )
        .replace(
            "changelog:\n",
            "changelog:\n- {version: '2.4', date: 2026-12-07, changes: [Edge case E2 and test T4 from "
            "item i9 (label b)]}\n",
        )
    )
    assert edit.text == expected
    assert edit.lines() == [
        "added edge case E2: b (item i9)",
        "added test T4: expect b (item i9)",
        "version 2.3 -> 2.4, changelog entry added",
    ]


def test_missing_sections_are_created_where_the_spec_puts_them() -> None:
    text = "id: s\nversion: 1\ntitle: S\nlabels:\n  - {id: a, definition: A.}\nabstain:\n  allowed: true\n"
    text += "\n# the end\n"
    edit = edit_sop(text, [Ruling("1", "t", ("a",), ruling="r")], today=TODAY)
    keys = [ln.split(":")[0] for ln in edit.text.splitlines() if ln[:1].isalpha()]
    assert keys == ["id", "version", "title", "labels", "edge_cases", "abstain", "tests", "changelog"]
    assert edit.text.endswith("(label a)\n\n# the end\n")  # the file's last comment stays last
    assert "version: 2\n" in edit.text  # a number stays a number
    assert parse_sop(edit.text).version == "2"


def test_crlf_line_endings_are_kept() -> None:
    text = prelabel.bundled_sop_path("customer_feedback_intent").read_text(encoding="utf-8")
    crlf = text.replace("\n", "\r\n")
    edit = edit_sop(crlf, RULINGS["customer_feedback_intent"], today=TODAY)
    assert "\n" not in edit.text.replace("\r\n", "")
    assert (
        edit.text.replace("\r\n", "\n")
        == edit_sop(text, RULINGS["customer_feedback_intent"], today=TODAY).text
    )


@pytest.mark.parametrize(
    ("version", "bump", "expected"),
    [
        ("1.0.0", "minor", "1.1.0"),
        ("1.4.2", "major", "2.0.0"),
        ("1.4.2", "patch", "1.4.3"),
        ("2", "minor", "3"),
        ("v1.2", "minor", "v1.3"),
        ("v1.2", "major", "v2.0"),
        ("1.9", "minor", "1.10"),
    ],
)
def test_version_bumps(version: str, bump: str, expected: str) -> None:
    assert bump_version(version, bump) == expected


def test_an_unparseable_version_needs_an_explicit_one() -> None:
    text = "id: s\nversion: spring-edition\ntitle: S\nlabels:\n  - {id: a, definition: A.}\n"
    ruling = Ruling("1", "t", ("a",))
    with pytest.raises(InputError, match=r"cannot bump version 'spring-edition'.*--version"):
        edit_sop(text, [ruling])
    assert parse_sop(edit_sop(text, [ruling], version="summer-edition").text).version == "summer-edition"
    with pytest.raises(InputError, match="already this SOP's version"):
        edit_sop(text, [ruling], version="spring-edition")


def test_a_float_like_version_stays_text() -> None:
    text = "id: s\nversion: 1.9\ntitle: S\nlabels:\n  - {id: a, definition: A.}\n"
    edit = edit_sop(text, [Ruling("1", "t", ("a",))], today=TODAY)
    assert parse_sop(edit.text).version == "1.10"


SOP_TEXT = prelabel.bundled_sop_path("customer_feedback_intent").read_text(encoding="utf-8")
MULTI_TEXT = prelabel.bundled_sop_path("seller_content_risk").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "ruling", "message"),
    [
        (SOP_TEXT, Ruling("7", "t", ("product.broken",), source="x.json#task 7"),
         "ruling for item 7 (x.json#task 7): label 'product.broken' is not a label of SOP "
         "customer_feedback_intent 1.0.0 (did you mean 'product.damaged'?)"),
        (SOP_TEXT, Ruling("7", "t", ("product",)),
         "ruling for item 7: label 'product' is not a leaf label; use one of its children (product.damaged,"),
        (SOP_TEXT, Ruling("7", "t", ("product.damaged", "seller.conduct")),
         "ruling for item 7: gives 2 labels, but SOP customer_feedback_intent is single_label"),
        (SOP_TEXT, Ruling("7", "t", ("product.damaged",), ruling="r", rules=("R9",)),
         "ruling for item 7: cites rule 'R9', which SOP customer_feedback_intent does not define"),
        (SOP_TEXT, Ruling("7", "  ", ("product.damaged",)), "ruling for item 7: has no item text"),
        (SOP_TEXT, Ruling("7", "t", ()), "ruling for item 7: has no label"),
        (SOP_TEXT, Ruling("7", "The mug arrived in pieces", ("payment.refund_request",)),
         "ruling for item 7: says payment.refund_request, but test T2 with the same text says "
         "product.damaged"),
        (MULTI_TEXT, Ruling("7", "t", ("safe", "ip.counterfeit")),
         "ruling for item 7: combines 'safe' with other labels; 'safe' must stand alone"),
    ],
)  # fmt: skip
def test_rulings_outside_the_sop_are_refused(text: str, ruling: Ruling, message: str) -> None:
    with pytest.raises(InputError) as info:
        edit_sop(text, [ruling])
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_cases_already_in_the_sop_are_not_added_twice() -> None:
    again = Ruling("9", "Came 3 days late and the box was crushed, refund please", ("product.damaged",),
                   ruling="Damage first.", rules=("R1", "E1"))  # fmt: skip
    known = Ruling("10", "The mug  arrived in pieces", ("product.damaged",))  # T2, spaced differently
    edit = edit_sop(SOP_TEXT, [again, known], today=TODAY)
    assert edit.lines() == [
        "added test T8: expect product.damaged (item 9)",
        "ruling for item 9: cites edge case E1, left out of rules: (it lists rules only)",
        "ruling for item 9: not added as an edge case, its text is already E1",
        "ruling for item 10: not added as a test, its text is already test T2",
        "version 1.0.0 -> 1.1.0, changelog entry added",
    ]
    unchanged = edit_sop(edit.text, [again, known], today=TODAY)  # applying the same rulings again
    assert not unchanged.changed and unchanged.text == edit.text and unchanged.new_version == "1.1.0"


def test_an_invalid_sop_is_refused_with_the_loaders_problems() -> None:
    bad = SOP_TEXT.replace("  - id: R1\n", "  - id: R1\n    texx: typo\n", 1)
    with pytest.raises(SOPError, match=r"sop.yaml:\d+:\d+: rules\[0\].texx: unknown key 'texx'"):
        edit_sop(bad, [Ruling("1", "t", ("product.damaged",))], source="sop.yaml")


def test_a_multi_line_ruling_is_a_literal_block() -> None:
    ruling = Ruling("1", "line one\nline two", ("product.damaged",), ruling="First.\nSecond.")
    after = parse_sop(edit_sop(SOP_TEXT, [ruling], today=TODAY).text)
    assert (
        after.edge_cases[-1].text == "line one\nline two" and after.edge_cases[-1].ruling == "First.\nSecond."
    )
    assert after.tests[-1].text == "line one\nline two"


def test_the_dry_run_diff_is_a_unified_diff() -> None:
    edit = edit_sop(SOP_TEXT, RULINGS["customer_feedback_intent"], today=TODAY)
    diff = edit.diff("sop.yaml")
    assert diff.startswith("--- a/sop.yaml\n+++ b/sop.yaml\n@@ ")
    assert "-version: 1.0.0\n+version: 1.1.0\n" in diff


def test_sections_without_template_entries_use_block_style() -> None:
    text = textwrap.dedent("""\
        id: s
        version: 1.0.0
        title: S
        labels:
          - {id: a, definition: A.}
          - {id: b, definition: B.}
        edge_cases: []
        """)
    edit = edit_sop(text, [Ruling("1", "t", ("a",), ruling="r")], today=TODAY)
    assert parse_sop(edit.text).edge_cases[0].id == "E1"


HEAD = "id: s\nversion: 1.0.0\ntitle: S\nlabels:\n  - {id: a, definition: A.}\n"
CASE = "edge_cases:\n  - id: E1\n    text: t1\n    label: a\n"


@pytest.mark.parametrize(
    ("section", "after"),
    [
        (
            "edge_cases:\n  - id: E1\n    text: t1\n    label: a\n    ruling: >-\n      folded\n      more\n",
            "\n",
        ),
        ("edge_cases:\n  - id: E1\n    text: t1\n    label: a\n    ruling: plain\n", "\n"),
        ("edge_cases:\n  - id: E1\n    text: t1\n    label: a\n    ruling: plain  # eol\n", "\n  # after\n"),
        ("tests:\n  - {id: T1, text: t1, expect: a}   # eol\n", "\n  # after\n"),
    ],
)
def test_blank_lines_and_comments_after_a_section_stay_after_the_added_entries(
    section: str, after: str
) -> None:
    text = f"{HEAD}{section}{after}abstain: {{allowed: true}}\n"
    new = edit_sop(text, [Ruling("1", "t", ("a",), ruling="r")], today=TODAY).text
    assert section in new and f"{after}abstain: {{allowed: true}}\n" in new
    added = new.split(section, 1)[1].split(after + "abstain:", 1)[0]
    assert added.startswith("  - ") and "\n\n" not in added  # the new entries follow the last one directly


def test_lines_the_yaml_writer_cannot_keep_are_counted_and_said() -> None:
    text = f"{HEAD}".replace("title: S\n", "title: A title\n  wrapped over two lines\n")
    edit = edit_sop(text, [Ruling("1", "t", ("a",))], today=TODAY)
    assert edit.reformatted == 2 and "title: A title wrapped over two lines\n" in edit.text
    assert edit.lines()[-1] == "note: the YAML writer reformats 2 other line(s) (see --dry-run)"


def test_two_rulings_on_one_text_with_different_labels_are_refused() -> None:
    first = Ruling("1", "late and rude", ("seller.conduct",), ruling="Rude.")
    second = Ruling("2", "late  and rude", ("logistics.late_delivery",), source="ls.json#task 2")
    with pytest.raises(InputError) as info:
        edit_sop(SOP_TEXT, [first, second])
    assert str(info.value).startswith(
        "ruling for item 2 (ls.json#task 2): says logistics.late_delivery, but test T8 with the same text "
        "says seller.conduct"
    )
    same = edit_sop(SOP_TEXT, [first, Ruling("2", "late and rude", ("seller.conduct",))], today=TODAY)
    assert [kind for kind, _, _ in same.added] == ["edge_case", "test"]  # the second one is said and skipped
    assert same.notes == ("ruling for item 2: not added as a test, its text is already test T8",)
