"""``prelabel gaps``: abstained and catch-all items grouped by the model into candidate leaves, as a draft."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import prelabel
from helpers import run_cli
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
ITEMS = [
    {"id": "g1", "text": "Can I pay with gift card points?"},
    {"id": "g2", "text": "How do I redeem my loyalty points?"},
    {"id": "g3", "text": "asdfgh"},
    {"id": "g4", "text": "The mug arrived in pieces"},
]
PROPOSAL = {
    "rationale": "Two items ask about loyalty points, which no label covers.",
    "groups": [
        {
            "id": "payment.loyalty_points",
            "parent": "payment",
            "definition": "Questions about earning or redeeming loyalty or gift card points.",
            "item_ids": ["g1", "g2"],
        }
    ],
}


def labels_of(record: RequestRecord) -> Reply:
    text = record.item_text or ""
    if "points" in text:
        return Reply.answer("praise_other.other")
    return Reply.answer("needs_review" if text == "asdfgh" else "product.damaged")


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # run.json records the items path as given
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    fake = FakeModel(default=labels_of)
    prelabel.run(SOP_PATH, "items.jsonl", tmp_path / "run", client=fake.async_client())
    return tmp_path / "run"


def test_gaps_sends_abstained_and_catch_all_items_and_drafts_leaves(run_dir: Path) -> None:
    fake = FakeModel(default=Reply.raw(json.dumps(PROPOSAL)))
    gaps = prelabel.find_gaps(run_dir, client=fake.async_client())
    (request,) = fake.requests
    prompt = request.body["messages"][1]["content"]
    assert "[g1]" in prompt and "[g2]" in prompt and "[g3]" in prompt and "[g4]" not in prompt
    assert gaps.considered == {"abstained": 1, "catch-all": 2} and gaps.requests == 1
    (proposal,) = gaps
    assert proposal["id"] == "payment.loyalty_points" and proposal["parent"] == "payment"
    assert [e["text"] for e in proposal["examples"]] == [ITEMS[0]["text"], ITEMS[1]["text"]]


def test_gaps_from_a_smoke_model_run_say_so_in_the_summary_and_the_draft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    monkeypatch.chdir(tmp_path)
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    prelabel.run(
        SOP_PATH, "items.jsonl", "run", model="local", client=FakeModel(default=labels_of).async_client()
    )
    drafter = FakeModel(default=Reply.raw(json.dumps(PROPOSAL)))
    gaps = prelabel.find_gaps(
        "run", model="gpt-4o-mini", client=drafter.async_client()
    )  # picked by the smoke model
    assert gaps.run_models == {"local": 4} and gaps.model_note == SMOKE_MODEL_NOTE
    draft = YAML(typ="safe").load(gaps.write(tmp_path / "gaps.yaml"))
    assert draft["model_note"] == SMOKE_MODEL_NOTE
    assert f"# note: {SMOKE_MODEL_NOTE}" in (tmp_path / "gaps.yaml").read_text(encoding="utf-8")
    again = prelabel.find_gaps("run", model="local", client=drafter.async_client())
    assert again.summary().endswith("by local (smoke model: mechanics only)")


def test_the_model_may_only_name_items_it_was_sent(run_dir: Path) -> None:
    bad = {**PROPOSAL, "groups": [{**PROPOSAL["groups"][0], "item_ids": ["g4"]}]}  # type: ignore[dict-item]
    fake = FakeModel(default=Reply.raw(json.dumps(bad)))
    gaps = prelabel.find_gaps(run_dir, client=fake.async_client(), max_reasks=1)
    assert gaps.proposals == [] and gaps.error and len(fake.requests) == 2
    assert "failed:" in gaps.summary()


def test_cli_gaps_writes_a_draft_and_leaves_the_sop_alone(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = SOP_PATH.read_bytes()
    out = tmp_path / "gaps.yaml"
    with FakeServer(FakeModel(default=Reply.raw(json.dumps(PROPOSAL)))) as server:
        code, stdout, _ = run_cli(capsys, "gaps", str(run_dir), "-o", str(out), "--base-url", server.url)
    assert code == 0, stdout
    assert "payment.loyalty_points: Questions about" in stdout and "(2 items)" in stdout
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# DRAFT — candidate new labels")
    draft = YAML(typ="safe").load(text)
    assert draft["draft"] is True and draft["sop"]["id"] == "customer_feedback_intent"
    assert draft["proposed_labels"][0]["item_ids"] == ["g1", "g2"]
    assert SOP_PATH.read_bytes() == before


def test_no_gap_items_means_no_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "items.jsonl").write_text(json.dumps(ITEMS[3]) + "\n", encoding="utf-8")
    prelabel.run(
        SOP_PATH, "items.jsonl", tmp_path / "run", client=FakeModel(default=labels_of).async_client()
    )
    fake = FakeModel()
    gaps = prelabel.find_gaps(tmp_path / "run", client=fake.async_client())
    assert len(gaps) == 0 and fake.requests == [] and gaps.considered == {}


def test_bad_inputs_exit_2(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "gaps", str(run_dir), "--catch-all", "nope", "-o", str(tmp_path / "g.yaml")
    )
    assert code == 2 and "nope" in err
    code, _, err = run_cli(capsys, "gaps", str(run_dir), "--items", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "--items" in err


def test_an_invalid_answer_is_not_no_gaps_exit_3_and_no_draft(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #21: the model's only answer invalid gave exit 0 and an empty draft, read as "no gaps"."""
    out = tmp_path / "gaps.yaml"
    fake = FakeModel(default=Reply.raw("no JSON here"))
    with FakeServer(fake) as server:
        args = ["gaps", str(run_dir), "-o", str(out), "--base-url", server.url, "--max-reasks", "1"]
        code, stdout, err = run_cli(capsys, *args)
    assert code == 3, (stdout, err)
    assert (
        err.startswith("error: the model's answer could not be used (invalid_output") and err.count("\n") == 1
    )
    assert "nothing was proposed for the 3 items sent, which does not mean the tree has no gaps" in err
    assert err.rstrip().endswith("no draft written") and not out.exists()
    assert "; failed: answer invalid after 2 attempt(s)" in stdout and "; 2 requests" in stdout
    gaps = prelabel.find_gaps(run_dir, client=FakeModel(default=Reply.raw("no")).async_client())
    assert (gaps.exit_code, gaps.error_type) == (3, "invalid_output") and gaps.failure
    good = prelabel.find_gaps(
        run_dir, client=FakeModel(default=Reply.raw(json.dumps(PROPOSAL))).async_client()
    )
    assert (good.exit_code, good.failure) == (0, None)


def test_gaps_checks_its_output_before_the_model_call(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "a_file"
    regular.write_text("x")
    with FakeServer(FakeModel(default=Reply.raw(json.dumps(PROPOSAL)))) as server:
        for out, message in (
            (tmp_path, f"error: {tmp_path} is a directory; give a file name\n"),
            (regular / "g.yaml", f"error: cannot write {regular}: Not a directory\n"),
        ):
            args = ["gaps", str(run_dir), "-o", str(out), "--base-url", server.url]
            assert run_cli(capsys, *args)[::2] == (2, message)
        assert server.requests == []
