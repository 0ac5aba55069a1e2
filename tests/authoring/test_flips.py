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
        "outcome", "error_a", "error_b",
    ]  # fmt: skip
    assert {r["outcome"] for r in rows} == {"flip"} and rows[0]["error_a"] == rows[0]["error_b"] == ""
    assert rows[0]["rationale_b"] == "shaped like a pear" and rows[0]["confidence_b"] == "0.6"
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| other | fruit.pear | 2 |" in summary and "| edge_cases/E1 | pass | fail |" in summary
    assert "```diff" in summary
    assert (out / "prompt.diff").read_text(encoding="utf-8").startswith("--- fruit_demo 1.0.0")


def test_cli_diff_bad_items_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_suite_sop(tmp_path / "a.yaml")
    code, _, err = run_cli(capsys, "diff", str(a), str(a), "--items", str(tmp_path / "none.jsonl"), "-o", "x")
    assert code == 2 and "none.jsonl" in err


def write_items(path: Path, items: list[dict[str, str]] = ITEMS) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def test_every_answer_failing_on_both_sides_compares_nothing_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #21: every answer an error under A and B printed "0 of 10 items flip (0%)" and exited 0."""
    a = write_suite_sop(tmp_path / "a.yaml")
    b = write_suite_sop(tmp_path / "b.yaml", SOP_B)
    items, out = write_items(tmp_path / "items.jsonl"), tmp_path / "diff"
    fake = FakeModel(default=Reply.raw("not json at all"))  # every answer invalid: error records
    with FakeServer(fake) as server:
        code, stdout, err = run_cli(
            capsys, "diff", str(a), str(b), "--items", str(items), "-o", str(out), "--base-url", server.url,
            "--no-tests", "--max-reasks", "0",
        )  # fmt: skip
        sent = len(server.requests)
    assert code == 3, (stdout, err)
    assert err == (
        "error: nothing could be compared: every one of the 4 items has a failed answer (errors under A: 4 "
        "(invalid_output 4); under B: 4 (invalid_output 4)); see the error_a/error_b columns of flips.csv\n"
    )
    assert "0 of 4 items flip" not in stdout and "(0%)" not in stdout
    assert "nothing compared: every one of the 4 items has a failed answer" in stdout
    assert f"{sent} requests, 0 answers from cache" in stdout and sent == 2 * len(ITEMS)
    with (out / "flips.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["item_id"], r["outcome"]) for r in rows] == [(i["id"], "not compared") for i in ITEMS]
    assert all(r["error_a"].startswith("invalid_output: ") and r["error_b"] for r in rows)
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "No item could be compared." in summary and "## Not compared: an answer failed" in summary
    assert "| A | invalid_output | 4 |" in summary and "| B | invalid_output | 4 |" in summary


def test_an_answer_failing_on_one_side_is_not_compared_not_a_flip() -> None:
    def b_fails_on_vases(record: RequestRecord) -> Reply:
        if "vase" in (record.item_text or "") and "shaped like one" in str(record.body["messages"][0]):
            return Reply.raw("not json")
        return versioned(record)

    fake = FakeModel(default=b_fails_on_vases)
    a, b = prelabel.parse_sop(SUITE_SOP), prelabel.parse_sop(SOP_B)
    flips = prelabel.label_flips(a, b, ITEMS, client=fake.async_client(), tests=False, max_reasks=0)
    assert [f["item_id"] for f in flips.flips] == ["i2"]  # i4 failed under B: "other → error" is no flip
    assert [r["item_id"] for r in flips.not_compared] == ["i4"] and flips.exit_code == 0
    assert flips.errors("a") == {} and flips.errors("b") == {"invalid_output": 1}
    head, errors = flips.summary().splitlines()[:2]
    assert head.endswith(": 1 of 3 compared items flip (33%); 1 of 4 items not compared (an answer failed)")
    assert errors == "  errors under A: 0; under B: 1 (invalid_output 1)"


def test_nothing_compared_because_every_item_is_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_suite_sop(tmp_path / "a.yaml")
    items = write_items(tmp_path / "items.jsonl", [{"id": "x"}, {"id": "y", "text": ""}])  # no text
    with FakeServer(FakeModel(default=versioned)) as server:
        code, _, err = run_cli(
            capsys, "diff", str(a), str(a), "--items", str(items), "-o", str(tmp_path / "d"),
            "--base-url", server.url, "--no-tests",
        )  # fmt: skip
        assert server.requests == []
    assert code == 2 and err.startswith("error: nothing could be compared") and "invalid_item 2" in err


def test_a_case_that_errors_is_not_a_status_change() -> None:
    """``pass → error`` is no verdict on the wording: the case is listed as not compared."""
    a = prelabel.parse_sop(SUITE_SOP)
    b = prelabel.parse_sop(SOP_B.replace("shaped like a pear", "shaped like a pear FAIL"))

    def fail_e1_under_b(record: RequestRecord) -> Reply:
        return Reply.raw("not json") if "FAIL" in (record.item_text or "") else versioned(record)

    fake = FakeModel(default=fail_e1_under_b)
    flips = prelabel.label_flips(a, b, ITEMS[:1], client=fake.async_client(), max_reasks=0)
    assert flips.case_changes() == [] and flips.cases_not_compared() == [("edge_cases/E1", "pass", "error")]
    assert "1 tests/edge cases not compared (an answer failed)" in flips.summary()


def test_diff_checks_its_output_before_any_model_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #21: an unwritable -o failed after 31 requests."""
    a = write_suite_sop(tmp_path / "a.yaml")
    items, regular = write_items(tmp_path / "items.jsonl"), tmp_path / "a_file"
    regular.write_text("x")
    with FakeServer(FakeModel(default=versioned)) as server:
        for out, message in (
            (regular, f"error: {regular} is a file; -o takes a directory (it is created if missing)\n"),
            (regular / "sub", f"error: cannot write {regular / 'sub'}: Not a directory\n"),
        ):
            args = ["diff", str(a), str(a), "--items", str(items), "-o", str(out), "--base-url", server.url]
            assert run_cli(capsys, *args)[::2] == (2, message)
        assert server.requests == []
