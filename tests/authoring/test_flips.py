"""``prelabel diff`` and ``label_flips``: the prompt diff, exactly the items whose answers differ, the cases
whose status changed, cached answers reused (scripted model)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sop_cases import SUITE_SOP, by_keyword, write_suite_sop

import prelabel
from helpers import run_cli
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

pytestmark = pytest.mark.usefixtures("prelabel_cache")
SOP_B = SUITE_SOP.replace("version: 1.0.0", "version: 1.1.0").replace(
    "definition: A pear.", "definition: A pear, or anything shaped like one."
)
ITEMS = [
    {"id": "i1", "text": "an apple"},
    {"id": "i2", "text": "a pear-shaped bottle"},
    {"id": "i3", "text": "a hammer"},
    {"id": "i4", "text": "a pear-shaped vase"},
]


def versioned(record: RequestRecord) -> Reply:
    """Version B (its system prompt mentions 'shaped like one') calls pear-shaped things pears."""
    system = str(record.body["messages"][0]["content"])
    text = record.item_text or ""
    if "shaped like one" in system and "pear-shaped" in text:
        return Reply.answer("fruit.pear", rationale="shaped like a pear", confidence=0.6)
    if "shaped like a pear" in text:  # E1 under B: the new wording makes the model call it a pear
        return Reply.answer("fruit.pear" if "shaped like one" in system else "fruit.apple")
    return by_keyword({"pear-shaped": "other"})(record)


def test_flips_are_exactly_the_items_whose_answers_differ() -> None:
    fake = FakeModel(default=versioned)
    flips = prelabel.label_flips(
        prelabel.parse_sop(SUITE_SOP), prelabel.parse_sop(SOP_B), ITEMS, client=fake.async_client()
    )
    assert [(f["item_id"], f["label_a"], f["label_b"]) for f in flips.flips] == [
        ("i2", "other", "fruit.pear"),
        ("i4", "other", "fruit.pear"),
    ]
    assert flips.transitions() == {("other", "fruit.pear"): 2}
    assert flips.case_changes() == [("edge_cases/E1", "pass", "fail")]
    assert (
        "\n-  - fruit.pear [answer]: A pear.\n+  - fruit.pear [answer]: A pear, or anything"
        in flips.prompt_diff
    )
    assert flips.prompt_diff.startswith("--- fruit_demo 1.0.0\n+++ fruit_demo 1.1.0\n")
    # "a hammer" is an item and a test: answered once per version, then taken from the cache
    assert (flips.requests, flips.from_cache) == (2 * len(ITEMS) + 2 * 3, 2)


def test_flips_of_the_smoke_model_say_what_they_are_worth(tmp_path: Path) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    fake = FakeModel(default=versioned)
    a, b = prelabel.parse_sop(SUITE_SOP), prelabel.parse_sop(SOP_B)
    flips = prelabel.label_flips(a, b, ITEMS, model="local", client=fake.async_client(), tests=False)
    summary = flips.summary().splitlines()
    assert summary[0].startswith(
        "fruit_demo 1.0.0 → fruit_demo 1.1.0 on local (smoke model: mechanics only):"
    )
    assert summary[-1] == f"note: {SMOKE_MODEL_NOTE}"
    written = flips.save(tmp_path)["summary"].read_text(encoding="utf-8")
    assert "Model `local (smoke model: mechanics only)`" in written and SMOKE_MODEL_NOTE in written


def test_identical_versions_flip_nothing_and_reuse_cached_answers() -> None:
    fake = FakeModel(default=versioned)
    sop = prelabel.parse_sop(SUITE_SOP)
    flips = prelabel.label_flips(sop, sop, ITEMS, client=fake.async_client())
    assert flips.flips == [] and flips.prompt_diff == "" and flips.case_changes() == []
    assert len(fake.requests) == len(ITEMS) + 3  # B reused every answer A got ("a hammer" is asked once)
    assert flips.from_cache == len(ITEMS) + 4 + 1


def test_cli_diff_writes_flips_summary_and_prompt_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_suite_sop(tmp_path / "a.yaml")
    b = write_suite_sop(tmp_path / "b.yaml", SOP_B)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    out = tmp_path / "diff"
    with FakeServer(FakeModel(default=versioned)) as server:
        code, stdout, _ = run_cli(
            capsys, "diff", str(a), str(b), "--items", str(items), "-o", str(out), "--base-url", server.url
        )
        assert code == 0, stdout
        sent = len(server.requests)
        # a second diff (say, after editing B again) reuses every cached answer
        code, _, _ = run_cli(
            capsys, "diff", str(a), str(b), "--items", str(items), "-o", str(out), "--base-url", server.url
        )
        assert code == 0 and len(server.requests) == sent
    assert "+  - fruit.pear [answer]: A pear, or anything shaped like one.\n" in stdout
    assert "2 of 4 items flip (50%)" in stdout and "other → fruit.pear: 2" in stdout
    assert "edge_cases/E1: pass → fail" in stdout
    with (out / "flips.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["item_id"] for r in rows] == ["i2", "i4"]
    assert list(rows[0]) == [
        "item_id", "text", "label_a", "label_b", "rationale_a", "rationale_b", "confidence_a", "confidence_b",
    ]  # fmt: skip
    assert rows[0]["rationale_b"] == "shaped like a pear" and rows[0]["confidence_b"] == "0.6"
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| other | fruit.pear | 2 |" in summary and "| edge_cases/E1 | pass | fail |" in summary
    assert "```diff" in summary
    assert (out / "prompt.diff").read_text(encoding="utf-8").startswith("--- fruit_demo 1.0.0")


def test_cli_diff_bad_items_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_suite_sop(tmp_path / "a.yaml")
    code, _, err = run_cli(capsys, "diff", str(a), str(a), "--items", str(tmp_path / "none.jsonl"), "-o", "x")
    assert code == 2 and "none.jsonl" in err
