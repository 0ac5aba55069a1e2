"""The SOP model and loader: tree helpers, hashing, coercions, and the bundled example SOPs."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import prelabel
from prelabel import SOP, SOPError, load_sop, parse_sop

WriteSOP = Callable[..., Path]


def sop_from(text: str) -> SOP:
    return parse_sop(textwrap.dedent(text))


@pytest.fixture
def tree() -> SOP:
    return sop_from(
        """\
        id: tree
        version: 1.0.0
        title: Tree
        labels:
          - id: a
            definition: A.
            children:
              - id: a.x
                definition: A x.
                children:
                  - {id: a.x.deep, definition: Deep.}
              - {id: a.y, definition: A y.}
          - id: b
            definition: B.
        rules:
          - {id: R1, text: One.}
          - {id: R2, text: Two.}
        edge_cases:
          - {id: E1, text: hard, label: a.y, ruling: It is a.y., rules: R1}
        abstain: {allowed: true, label: unsure}
        """
    )


def test_leaf_ids_are_the_leaves_in_tree_order(tree: SOP) -> None:
    assert tree.leaf_ids == ("a.x.deep", "a.y", "b")


def test_label_index_holds_every_node_in_tree_order(tree: SOP) -> None:
    assert list(tree.label_index) == ["a", "a.x", "a.x.deep", "a.y", "b"]
    assert tree.label_index["a.x"].definition == "A x."
    assert not tree.label_index["a.x"].is_leaf
    assert tree.label_index["a.y"].is_leaf


def test_ancestors_root_first(tree: SOP) -> None:
    assert tree.ancestors("a.x.deep") == ["a", "a.x", "a.x.deep"]
    assert tree.ancestors("b") == ["b"]
    assert tree.ancestors("nope") == []


def test_answer_ids_add_the_abstain_label_only_when_allowed(tree: SOP, minimal_sop: str) -> None:
    assert tree.answer_ids == ("a.x.deep", "a.y", "b", "unsure")
    closed = parse_sop(minimal_sop)
    assert closed.abstain.allowed is False
    assert closed.answer_ids == closed.leaf_ids == ("fruit.apple", "fruit.pear", "other")
    assert (tree.abstain_answer, closed.abstain_answer) == ("unsure", None)  # "abstained" in answers


def test_citable_ids_are_rules_then_edge_cases(tree: SOP) -> None:
    assert tree.citable_ids == ("R1", "R2", "E1")


def test_one_or_many_labels_become_lists(tree: SOP) -> None:
    case = tree.edge_cases[0]
    assert case.label == ["a.y"]
    assert case.rules == ["R1"]


def test_exclusion_may_be_plain_text() -> None:
    sop = sop_from(
        """\
        id: demo
        version: "1"
        title: Demo
        labels:
          - id: a
            definition: A.
            exclude: [something else, {text: a b, use: b}]
          - {id: b, definition: B.}
        """
    )
    first, second = sop.labels[0].exclude
    assert (first.text, first.use) == ("something else", None)
    assert (second.text, second.use) == ("a b", "b")


@pytest.mark.parametrize(
    ("written", "version"),
    [("1.10", "1.10"), ("2", "2"), ("1.0", "1.0"), ("2024-05-01", "2024-05-01"), ('"3.2.0"', "3.2.0")],
)
def test_version_is_kept_as_written(written: str, version: str, minimal_sop: str) -> None:
    # YAML reads 1.10 as the float 1.1 and 2024-05-01 as a date: the loader keeps the author's text
    sop = parse_sop(minimal_sop.replace("version: 1.0.0", f"version: {written}  # bumped"))
    assert sop.version == version


def test_numbers_in_text_fields_stay_text(minimal_sop: str) -> None:
    sop = parse_sop(
        minimal_sop + "tests:\n  - {text: 007, expect: other}\n  - text: 1e3\n    expect: other\n"
    )
    assert [t.text for t in sop.tests] == ["007", "1e3"]


def test_bom_and_crlf_are_accepted(write_sop: WriteSOP, minimal_sop: str) -> None:
    path = write_sop(b"\xef\xbb\xbf" + minimal_sop.replace("\n", "\r\n").encode())
    assert load_sop(path) == parse_sop(minimal_sop)


def test_sha256_ignores_formatting(minimal_sop: str) -> None:
    reformatted = """\
        # same SOP, different layout: flow style, quotes, comments, key order
        title: "Demo SOP"
        id: 'demo'
        version: 1.0.0
        rules: [{text: Label the main item., id: R1}]
        labels:
          - id: fruit
            definition: >-
              Fruit.
            children:
              - {definition: An apple., id: fruit.apple}
              - {id: fruit.pear, definition: "A pear."}
          - {id: other, definition: Anything else.}   # trailing comment
        """
    original = parse_sop(minimal_sop)
    other = sop_from(reformatted)
    assert other == original
    assert other.sha256 == original.sha256
    assert len(original.sha256) == 64


def test_sha256_changes_with_content(minimal_sop: str) -> None:
    original = parse_sop(minimal_sop)
    changed = parse_sop(minimal_sop.replace("An apple.", "An apple or a crab apple."))
    bumped = parse_sop(minimal_sop.replace("1.0.0", "1.0.1"))
    assert len({original.sha256, changed.sha256, bumped.sha256}) == 3


def test_parse_sop_names_its_source() -> None:
    with pytest.raises(SOPError) as info:
        parse_sop("- a\n", source="inline.yaml")
    assert info.value.problems[0].file == "inline.yaml"


def test_sop_error_is_a_prelabel_error_and_lists_problems() -> None:
    with pytest.raises(prelabel.PrelabelError) as info:
        parse_sop("id: x\n", source="s.yaml")
    assert isinstance(info.value, SOPError)
    assert [p.path for p in info.value.problems] == ["labels", "title", "version"]


def test_alias_bomb_is_refused_quickly() -> None:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SOPError, match="too many nodes"):
        parse_sop("\n".join(bomb) + "\n")


def test_exclusive_label_alone_is_fine_in_multi_label_sop() -> None:
    sop = sop_from(
        """\
        id: risk
        version: 1.0.0
        title: Risk
        task: multi_label
        labels:
          - {id: weapons, definition: Weapons.}
          - {id: drugs, definition: Drugs.}
          - {id: safe, definition: Nothing wrong., exclusive: true}
        tests:
          - {text: a knife and pills, expect: [weapons, drugs]}
          - {text: a teapot, expect: safe}
        """
    )
    assert sop.multi_label
    assert sop.label_index["safe"].exclusive
    assert [t.expect for t in sop.tests] == [["weapons", "drugs"], ["safe"]]


def test_exclusive_needs_a_multi_label_sop(minimal_sop: str) -> None:
    with pytest.raises(SOPError, match="exclusive: only applies to multi_label SOPs"):
        parse_sop(
            minimal_sop.replace(
                "definition: Anything else.", "definition: Anything else.\n    exclusive: true"
            )
        )


# ---------------------------------------------------------------------------------------------- bundled SOPs


def test_three_sops_are_bundled() -> None:
    assert {"customer_feedback_intent", "seller_content_risk", "review_authenticity"} <= set(
        prelabel.bundled_sops()
    )


def test_bundled_sop_validates_with_tests_and_edge_cases(bundled_name: str) -> None:
    sop = load_sop(prelabel.bundled_sop_path(bundled_name))
    assert sop.id == bundled_name
    assert len(sop.tests) >= 5
    assert len(sop.edge_cases) >= 3
    assert len(sop.rules) >= 3
    # a two-level tree: every top-level label is a leaf or a parent of leaves
    assert all(all(c.is_leaf for c in label.children) for label in sop.labels)
    assert any(not label.is_leaf for label in sop.labels)
    cited = {rule for case in sop.edge_cases for rule in case.rules}
    assert cited <= {r.id for r in sop.rules}
    for expected in [t.expect for t in sop.tests] + [c.label for c in sop.edge_cases]:
        assert set(expected) <= set(sop.answer_ids)


def test_bundled_sop_examples_span_languages(bundled_name: str) -> None:
    sop = prelabel.bundled_sop(bundled_name)
    languages = {ex.language for label in sop.label_index.values() for ex in label.examples}
    languages |= {t.language for t in sop.tests}
    assert {"en", "id", "th", "vi"} <= languages


def test_seller_content_risk_is_multi_label_with_exclusive_safe() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    assert sop.multi_label
    assert sop.label_index["safe"].exclusive
    assert {"prohibited", "restricted", "misleading", "off_platform", "ip", "adult", "hate_harassment"} <= {
        label.id for label in sop.labels
    }
    assert any(len(case.label) > 1 for case in sop.edge_cases)
    assert any(len(test.expect) > 1 for test in sop.tests)
    assert "ms" in {t.language for t in sop.tests}


def test_review_authenticity_is_single_label_and_may_abstain() -> None:
    sop = prelabel.bundled_sop("review_authenticity")
    assert not sop.multi_label
    assert sop.abstain.allowed
    assert sop.abstain.label in sop.answer_ids
    assert any(t.expect == [sop.abstain.label] for t in sop.tests)


def test_validate_cli_accepts_every_bundled_sop(capsys: pytest.CaptureFixture[str]) -> None:
    from prelabel.cli.app import main

    paths = [str(prelabel.bundled_sop_path(name)) for name in prelabel.bundled_sops()]
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", *paths])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    assert err == ""
    assert len(out.splitlines()) == len(paths)
    assert all(": ok (" in line for line in out.splitlines())
