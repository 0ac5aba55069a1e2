"""Broken SOPs: each problem is one FILE:LINE:COL: field.path: message line pointing at the offending node.

Each case writes a small broken YAML file and checks the exact file, line, column, field path and a message
fragment, through ``load_sop`` (``SOPError.problems``) and, for a few, through ``prelabel validate``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import run_cli
from prelabel import Problem, SOPError, load_sop

Capture = pytest.CaptureFixture[str]

WriteSOP = Callable[..., Path]
# (line, column, field path, message fragment); field path "" is the document itself
Expected = tuple[int, int, str, str]


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(SOPError) as info:
        load_sop(path)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return info.value.problems


def assert_problems(path: Path, *expected: Expected) -> None:
    """The file has exactly these problems, in this order."""
    found = problems_of(path)
    assert all(p.file == str(path) for p in found), found
    assert [(p.line, p.col, p.path) for p in found] == [e[:3] for e in expected], found
    for problem, (*_, fragment) in zip(found, expected, strict=True):
        assert fragment in problem.message, problem


CASES = [
    # ------------------------------------------------------------------ YAML itself
    pytest.param(
        """\
        id: demo
        version: [1.0
        title: Demo
        """,
        [(3, 6, "", "YAML error: expected ',' or ']', but got ':' (while parsing a flow sequence at line 2")],
        id="yaml-syntax-error",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        id: other
        labels: [{id: a, definition: A.}]
        """,
        [(4, 1, "", "duplicate key 'id' (first at line 1)")],
        id="duplicate-top-level-key",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: a
            definition: A.
            definition: Also A.
        """,
        [(7, 5, "", "duplicate key 'definition' (first at line 6)")],
        id="duplicate-nested-key",
    ),
    pytest.param(
        "id: demo\nversion: 1.0.0\ntitle: Demo\nlabels:\n\t- id: a\n\t  definition: A.\n",
        [(5, 1, "", "a tab character cannot indent YAML; use spaces")],
        id="tab-indentation",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        ---
        id: second
        """,
        [(5, 1, "", "more than one YAML document")],
        id="multiple-documents",
    ),
    pytest.param(
        """\
        - id: a
          definition: A.
        """,
        [(1, 1, "", "an SOP must be a mapping (id:, version:, labels:, ...), got a list")],
        id="document-is-a-list",
    ),
    pytest.param(
        "just a sentence\n",
        [(1, 1, "", "must be a mapping (id:, version:, labels:, ...), got text 'just a sentence'")],
        id="document-is-a-scalar",
    ),
    pytest.param("", [(1, 1, "", "file is empty")], id="empty-file"),
    pytest.param(
        "# TODO: write the SOP\n\n   # id: demo\n", [(1, 1, "", "file is empty")], id="comments-only-file"
    ),
    # ------------------------------------------------------------------ unknown keys (typos)
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        titel: Demo
        labels: [{id: a, definition: A.}]
        """,
        # the typo is reported once: not also as "missing required field 'title'"
        [(3, 1, "titel", "unknown key 'titel' (did you mean 'title'?)")],
        id="unknown-top-level-key",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: a
            definiton: A.
        """,
        [(6, 5, "labels[0].definiton", "unknown key 'definiton' (did you mean 'definition'?)")],
        id="unknown-key-in-label",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: a
            definition: A.
            exclude:
              - {text: not this, usee: b}
          - id: b
            definition: B.
        """,
        [(8, 26, "labels[0].exclude[0].usee", "unknown key 'usee' (did you mean 'use'?)")],
        id="unknown-key-in-exclusion",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        edge_cases:
          - id: E1
            text: a hard one
            label: a
            rulling: It is a.
        """,
        [(9, 5, "edge_cases[0].rulling", "unknown key 'rulling' (did you mean 'ruling'?)")],
        id="unknown-key-in-edge-case",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        abstain:
          allowed: true
          lable: unsure
        """,
        [(7, 3, "abstain.lable", "unknown key 'lable' (did you mean 'label'?)")],
        id="unknown-key-in-abstain",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        tests:
          - text: an apple
            expected: a
        """,
        [(7, 5, "tests[0].expected", "unknown key 'expected' (did you mean 'expect'?)")],
        id="unknown-key-in-test",
    ),
    # ------------------------------------------------------------------ wrong types
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: fruit, vegetables
        """,
        [(4, 9, "labels", "expected a list, got text 'fruit, vegetables'")],
        id="labels-as-a-string",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        rules:
          R1: Label the main item.
        """,
        [(6, 3, "rules", "expected a list of rules (id:, text:), got a mapping")],
        id="rules-as-a-mapping",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        abstain:
          allowed: maybe
        """,
        [(6, 12, "abstain.allowed", "expected true or false, got text 'maybe'")],
        id="allowed-maybe",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: a
            definition: [An apple, or a pear]
        """,
        [(6, 17, "labels[0].definition", "expected text, got a list")],
        id="definition-as-a-list",
    ),
    pytest.param(
        """\
        id: demo
        version:
        title: Demo
        labels: [{id: a, definition: A.}]
        """,
        [(2, 1, "version", "expected text, got an empty value")],
        id="empty-version",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        task: multiple
        labels: [{id: a, definition: A.}]
        """,
        [(4, 7, "task", "must be 'single_label' or 'multi_label', got text 'multiple'")],
        id="unknown-task",
    ),
    # ------------------------------------------------------------------ missing fields
    pytest.param(
        """\
        id: demo
        labels:
          - id: a
            definition: A.
        """,
        [
            (1, 1, "title", "missing required field 'title'"),
            (1, 1, "version", "missing required field 'version'"),
        ],
        id="missing-top-level-fields",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: a
            definition: A.
          - id: b
            name: Bee
        """,
        [(7, 5, "labels[1].definition", "missing required field 'definition'")],
        id="missing-label-definition",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        edge_cases:
          - id: E1
            text: a hard one
            label: a
        """,
        [(6, 5, "edge_cases[0].ruling", "missing required field 'ruling'")],
        id="missing-edge-case-ruling",
    ),
    # ------------------------------------------------------------------ ids
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: fruit
            definition: Fruit.
            children:
              - id: fruit.apple
                definition: An apple.
              - id: fruit.apple
                definition: Another apple.
        """,
        [
            (
                10,
                13,
                "labels[0].children[1].id",
                "duplicate label id 'fruit.apple' (first at labels[0].children",
            )
        ],
        id="duplicate-label-id",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        rules:
          - id: R1
            text: One.
          - id: R1
            text: Also one.
        """,
        [(8, 9, "rules[1].id", "duplicate id 'R1' (first at rules[0])")],
        id="duplicate-rule-id",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        rules:
          - {id: R1, text: One.}
        edge_cases:
          - {id: R1, text: hard, label: a, ruling: It is a.}
        """,
        # rules and edge cases share one namespace: answers cite either by id
        [(8, 10, "edge_cases[0].id", "duplicate id 'R1' (first at rules[0])")],
        id="edge-case-id-collides-with-rule",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: fruit
            definition: Fruit.
            children:
              - id: apple
                definition: An apple.
        """,
        [(8, 13, "labels[0].children[0].id", "child id 'apple' must be 'fruit.<name>'")],
        id="child-id-not-extending-parent",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: fruit.apple
            definition: An apple.
        """,
        [(5, 9, "labels[0].id", "top-level label id 'fruit.apple' must not contain '.'")],
        id="top-level-id-with-dot",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: Red Apple
            definition: An apple.
        rules:
          - id: 1
            text: One.
        """,
        [
            (5, 9, "labels[0].id", "invalid id 'Red Apple': use lowercase letters, digits"),
            (8, 9, "rules[0].id", "invalid id '1': use a letter, then letters, digits"),
        ],
        id="invalid-id-pattern",
    ),
    # ------------------------------------------------------------------ references
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: apple
            definition: An apple.
            exclude:
              - text: a pear
                use: paer
          - id: pear
            definition: A pear.
        """,
        [(9, 14, "labels[0].exclude[0].use", "'paer' is not a label of this SOP (did you mean 'pear'?)")],
        id="dangling-use",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: fruit
            definition: Fruit.
            children:
              - {id: fruit.apple, definition: An apple.}
              - {id: fruit.pear, definition: A pear.}
          - id: other
            definition: Other.
            exclude: [{text: any fruit, use: fruit}]
        """,
        [(12, 38, "labels[1].exclude[0].use", "'fruit' is not a leaf label; use one of its children (fruit")],
        id="use-points-to-non-leaf",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: fruit
            definition: Fruit.
            children:
              - {id: fruit.apple, definition: An apple.}
        edge_cases:
          - id: E1
            text: an apple pie
            label: fruit
            ruling: It is fruit.
        """,
        [(12, 12, "edge_cases[0].label", "label 'fruit' is not a leaf label")],
        id="edge-case-label-not-a-leaf",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - {id: apple, definition: An apple.}
        edge_cases:
          - id: E1
            text: a crab apple
            label: aple
            ruling: It is an apple.
        """,
        [(9, 12, "edge_cases[0].label", "label 'aple' is not a label of this SOP (did you mean 'apple'?)")],
        id="edge-case-label-unknown",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: a, definition: A.}]
        rules:
          - {id: R1, text: One.}
        edge_cases:
          - id: E1
            text: a hard one
            label: a
            ruling: It is a.
            rules: [R1, R2]
        """,
        [(12, 17, "edge_cases[0].rules[1]", "cites rule 'R2', which is not defined under rules:")],
        id="edge-case-cites-unknown-rule",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: apple, definition: An apple.}]
        tests:
          - text: a banana
            expect: banana
        """,
        [(7, 13, "tests[0].expect", "expect 'banana' is not a label of this SOP")],
        id="test-expects-unknown-label",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: fruit
            definition: Fruit.
            children:
              - {id: fruit.apple, definition: An apple.}
              - {id: fruit.pear, definition: A pear.}
        tests:
          - {text: a fruit salad, expect: fruit}
        """,
        [(11, 35, "tests[0].expect", "expect 'fruit' is not a leaf label; use one of its children")],
        id="test-expects-non-leaf",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - {id: apple, definition: An apple.}
          - {id: pear, definition: A pear.}
        tests:
          - text: apple and pear
            expect: [apple, pear]
        """,
        [(9, 13, "tests[0].expect", "expect lists 2 labels, but task is single_label")],
        id="several-labels-in-single-label-sop",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - {id: apple, definition: An apple.}
          - {id: unclear, definition: Cannot tell.}
        abstain:
          allowed: true
          label: unclear
        """,
        [(9, 10, "abstain.label", "abstain label 'unclear' is also a label of the tree")],
        id="abstain-label-collides-with-label",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: [{id: apple, definition: An apple.}]
        tests:
          - text: gibberish
            expect: needs_review
        """,
        [(7, 13, "tests[0].expect", "'needs_review' is the abstain label, but abstain.allowed is false")],
        id="abstain-label-used-while-not-allowed",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        task: multi_label
        labels:
          - {id: weapons, definition: Weapons.}
          - {id: drugs, definition: Drugs.}
          - {id: safe, definition: Nothing wrong., exclusive: true}
        edge_cases:
          - {id: E1, text: a toy gun, label: [safe, weapons], ruling: Toy guns are safe.}
        """,
        [(10, 38, "edge_cases[0].label", "combines 'safe' with other labels, but 'safe' must stand alone")],
        id="exclusive-label-combined",
    ),
    pytest.param(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels: []
        """,
        [(4, 9, "labels", "the label tree is empty; add at least one label")],
        id="empty-tree",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_broken_sop(write_sop: WriteSOP, text: str, expected: list[Expected]) -> None:
    assert_problems(write_sop(text), *expected)


def test_non_utf8_byte_reports_its_line_and_column(write_sop: WriteSOP) -> None:
    path = write_sop("id: demo\ntitle: Caf\xe9 SOP\n".encode("latin-1"))
    assert_problems(path, (2, 11, "", "file is not UTF-8 text (byte 0xe9)"))


def test_non_utf8_column_counts_characters_not_bytes(write_sop: WriteSOP) -> None:
    # "สวัสดี " is 7 characters but 19 bytes: the column must be an editor column
    path = write_sop(b"id: demo\ntitle: " + "สวัสดี ".encode() + b"\xff\n")
    assert_problems(path, (2, 15, "", "byte 0xff"))


def test_nul_byte_is_reported_as_binary(write_sop: WriteSOP) -> None:
    path = write_sop(b"id: demo\nversion: 1\x00\n")
    assert_problems(path, (2, 11, "", "NUL byte"))


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert_problems(path, (1, 1, "", "cannot read file: No such file or directory"))


def test_several_problems_reported_at_once_sorted_by_line(write_sop: WriteSOP) -> None:
    # field errors (typo, wrong type) and cross-reference errors (dangling use, bad expect) in one pass
    path = write_sop(
        """\
        id: demo
        version: 1.0.0
        title: Demo
        labels:
          - id: apple
            definition: An apple.
            exclude: [{text: a pear, use: pears}]
          - id: pear
            definiton: A pear.
        tests:
          - {text: apple and pear, expect: [apple, pear]}
        abstain: {allowed: maybe}
        colour: red
        """
    )
    assert_problems(
        path,
        (7, 35, "labels[0].exclude[0].use", "use: 'pears' is not a label of this SOP (did you mean 'pear'?)"),
        (9, 5, "labels[1].definiton", "unknown key 'definiton' (did you mean 'definition'?)"),
        (11, 36, "tests[0].expect", "expect lists 2 labels, but task is single_label"),
        (12, 20, "abstain.allowed", "expected true or false, got text 'maybe'"),
        (13, 1, "colour", "unknown key 'colour'"),
    )


def test_problem_str_is_one_line_with_file_line_col_path(write_sop: WriteSOP) -> None:
    path = write_sop(
        "id: demo\nversion: 1.0.0\ntitle: Demo\nlabels: [{id: a, definition: A.}]\ncolour: red\n"
    )
    (problem,) = problems_of(path)
    assert str(problem) == f"{path}:5:1: colour: unknown key 'colour'"
    (root,) = problems_of(write_sop("- a\n"))
    assert str(root).startswith(f"{path}:1:1: <root>: ")


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_validate_prints_one_line_per_problem(write_sop: WriteSOP, capsys: Capture) -> None:
    path = write_sop(
        """\
        id: demo
        version: 1.0.0
        titel: Demo
        labels:
          - {id: apple, definition: An apple.}
        tests:
          - {text: a banana, expect: banana}
        """
    )
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"{path}:3:1: titel: unknown key 'titel' (did you mean 'title'?)",
        f"{path}:7:30: tests[0].expect: expect 'banana' is not a label of this SOP",
    ]
    assert "Traceback" not in err


def test_cli_validate_reports_every_file(write_sop: WriteSOP, capsys: Capture) -> None:
    good = write_sop(
        "id: demo\nversion: 1.0.0\ntitle: Demo\nlabels: [{id: a, definition: A.}]\n", "good.yaml"
    )
    empty = write_sop("", "empty.yaml")
    listed = write_sop("- a\n", "list.yaml")
    code, out, err = run_cli(capsys, "validate", str(empty), str(good), str(listed))
    assert code == 2
    assert out == f"{good}: ok (demo 1.0.0, 1 leaf label, 0 tests)\n"
    assert [line.split(": ")[0] for line in err.splitlines()] == [f"{empty}:1:1", f"{listed}:1:1"]


def test_cli_validate_non_utf8_and_yaml_errors(write_sop: WriteSOP, capsys: Capture) -> None:
    binary = write_sop(b"id: demo\ntitle: \xff\xfe\n", "binary.yaml")
    dup = write_sop("id: a\nid: b\n", "dup.yaml")
    code, _, err = run_cli(capsys, "validate", str(binary), str(dup))
    assert code == 2
    assert err.splitlines() == [
        f"{binary}:2:8: <root>: file is not UTF-8 text (byte 0xff); save it as UTF-8",
        f"{dup}:2:1: <root>: YAML error: duplicate key 'id' (first at line 1); "
        "a key may appear only once in a mapping",
    ]


def test_cli_render_with_broken_sop_exits_2_without_traceback(write_sop: WriteSOP, capsys: Capture) -> None:
    path = write_sop("id: demo\nversion: 1.0.0\ntitle: Demo\nlabels: []\n")
    code, out, err = run_cli(capsys, "render", str(path), "--item", '{"id": "1", "text": "hi"}')
    assert code == 2
    assert out == ""
    assert err == f"{path}:4:9: labels: the label tree is empty; add at least one label\n"


def test_cli_debug_shows_traceback_for_sop_error_in_render(write_sop: WriteSOP) -> None:
    path = write_sop("id: demo\nversion: 1.0.0\ntitle: Demo\nlabels: []\n")
    args = ["render", str(path), "--item", '{"id": "1", "text": "hi"}']
    plain = subprocess.run(
        [sys.executable, "-m", "prelabel", *args], capture_output=True, text=True, timeout=120
    )
    debug = subprocess.run(
        [sys.executable, "-m", "prelabel", "--debug", *args], capture_output=True, text=True, timeout=120
    )
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert plain.stderr.strip() == f"{path}:4:9: labels: the label tree is empty; add at least one label"
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "prelabel.errors.SOPError" in debug.stderr


def test_cli_validate_reports_control_characters_xml_cannot_carry(
    write_sop: WriteSOP, capsys: Capture
) -> None:
    """Issue #21: an SOP text with a control character (a YAML escape) passed validate, then made an invalid
    label_config.xml; the SOP is where it is removed, so validate says where, one line per text."""
    path = write_sop(
        r"""
        id: demo
        version: 1.0.0
        title: "Demo \a"
        labels:
          - id: apple
            definition: "An \e[31mapple\e[0m, tab\tand newline\n are fine."
          - {id: pear, definition: "A pear\0\x02."}
        """
    )
    code, out, err = run_cli(capsys, "validate", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}:4:8: title: holds BEL (U+0007), a control character XML cannot carry (label_config.xml, "
        "JUnit); remove it",
        f"{path}:7:17: labels[0].definition: holds ESC (U+001B), a control character XML cannot carry "
        "(label_config.xml, JUnit); remove it",
        f"{path}:8:28: labels[1].definition: holds NUL (U+0000), U+0002, control characters XML cannot "
        "carry (label_config.xml, JUnit); remove it",
    ]
