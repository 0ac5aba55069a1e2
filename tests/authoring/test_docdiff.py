"""doc-diff: exactly the changes between two fixture versions (``data/sop_v1.yaml`` → ``sop_v2.yaml``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import prelabel
from helpers import check_golden

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"

EXPECTED = [
    ("added", "label", "delivery.late", "include"),
    ("added", "label", "delivery.late", "examples"),
    ("reworded", "label", "product.broken", "definition"),
    ("added", "label", "product.fake", ""),
    ("renamed", "label", "delivery.missing", ""),
    ("reworded", "label", "delivery.missing", "definition"),
    ("removed", "label", "product.wrong", ""),
    ("reworded", "rule", "R2", "text"),
    ("added", "rule", "R4", ""),
    ("removed", "rule", "R3", ""),
    ("reworded", "edge_case", "E1", "ruling"),
    ("added", "edge_case", "E2", ""),
    ("added", "changelog", "2.0.0", ""),
]


@pytest.fixture
def versions() -> tuple[prelabel.SOP, prelabel.SOP]:
    return prelabel.load_sop(DATA / "sop_v1.yaml"), prelabel.load_sop(DATA / "sop_v2.yaml")


def test_exactly_the_fixture_changes(versions: tuple[prelabel.SOP, prelabel.SOP]) -> None:
    diff = prelabel.diff_sops(*versions)
    assert [(c.kind, c.section, c.target, c.field) for c in diff.changes] == EXPECTED
    renamed = next(c for c in diff.changes if c.kind == "renamed")
    assert (renamed.before, renamed.after) == ("delivery.lost", "delivery.missing")
    assert diff.counts() == {"added": 6, "reworded": 4, "renamed": 1, "removed": 2}


def test_golden_documents(versions: tuple[prelabel.SOP, prelabel.SOP]) -> None:
    diff = prelabel.diff_sops(*versions)
    check_golden(GOLDEN, "sop_v1_to_v2.diff.md", diff.render("md"))
    check_golden(GOLDEN, "sop_v1_to_v2.diff.html", diff.render("html"))


def test_no_changes_and_reverse(versions: tuple[prelabel.SOP, prelabel.SOP]) -> None:
    a, b = versions
    same = prelabel.diff_sops(a, a)
    assert same.changes == [] and "No change affects annotators" in same.render("md")
    back = prelabel.diff_sops(b, a)
    assert ("renamed", "delivery.lost") in [(c.kind, c.target) for c in back.changes]
    assert ("removed", "product.fake") in [(c.kind, c.target) for c in back.changes]


def test_word_diff_and_escaping() -> None:
    a = prelabel.parse_sop(
        "id: d\nversion: 1\ntitle: D\nlabels: [{id: a, definition: 'Old <b>words</b> here.'}]"
    )
    b = prelabel.parse_sop(
        "id: d\nversion: 2\ntitle: D\nlabels: [{id: a, definition: 'New <b>words</b> here.'}]"
    )
    (change,) = prelabel.diff_sops(a, b).changes
    assert change.words == [("removed", "Old "), ("added", "New "), ("same", "<b>words</b> here.")]
    html = prelabel.diff_sops(a, b).render("html")
    assert "<del>Old </del><ins>New </ins>&lt;b&gt;words&lt;/b&gt;" in html


def test_write_doc_diff(tmp_path: Path, versions: tuple[prelabel.SOP, prelabel.SOP]) -> None:
    out = tmp_path / "changes.html"
    diff = prelabel.write_doc_diff(*versions, out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and diff.summary().startswith("shop")
    with pytest.raises(prelabel.InputError, match="already exists"):
        prelabel.write_doc_diff(*versions, out)
