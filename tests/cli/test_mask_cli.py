"""Personal data never reaches the server: ``--mask`` and the SOP's ``privacy:`` section in every command that
sends text (run, run --batch-api and batch collect, test, diff, gaps), with run.json's counts and the mask map
written only with ``--keep-mask-map``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli, use_fast_default_retry
from personal_data import ITEMS, KEPT, MASK, leaked, privacy_sop, sent_texts, write_items
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord
from prelabel.testing.fake_batch import BATCH_HEADER

Capture = pytest.CaptureFixture[str]
PROPOSAL = {
    "rationale": "The buyers ask where their parcels are.",
    "groups": [
        {"id": "logistics.contact", "definition": "Buyers leave contact details.", "item_ids": ["id1"]}
    ],
}


def answer(record: RequestRecord) -> Reply:
    """Labeling requests: a catch-all answer (so ``gaps`` has items); the gaps request: a proposal."""
    if "groups" in json.dumps(record.schema or {}):
        return Reply.raw(json.dumps(PROPOSAL))
    return Reply.answer("praise_other.other")


@pytest.fixture
def fake() -> FakeModel:
    return FakeModel(default=answer)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-mask-test-0000")
    monkeypatch.setenv("PRELABEL_CACHE_DIR", str(tmp_path / "cache"))
    use_fast_default_retry(monkeypatch)


@pytest.fixture
def sop(tmp_path: Path) -> Path:
    return privacy_sop(tmp_path / "sop.yaml", tests=True)


@pytest.fixture
def items(tmp_path: Path) -> Path:
    return write_items(tmp_path / "items.jsonl")


def assert_masked(fake: FakeModel, expected_requests: int) -> None:
    texts = sent_texts(fake)
    assert len(fake.requests) >= expected_requests
    assert leaked(texts) == []
    assert any("<PHONE_1>" in t for t in texts) and any("<ORDER_1>" in t for t in texts)


def test_run_sends_no_personal_data_and_run_json_counts_it(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "run", str(sop), str(items), "-o", str(out), "--base-url", server.url,
                                "--mask", MASK)  # fmt: skip
    assert code == 0, err
    assert_masked(fake, len(ITEMS))
    sent = " ".join(r.item_text or "" for r in fake.requests)
    assert all(kept in sent for kept in KEPT)  # look-alikes reach the model as they are
    assert "masked before sending: 2 CARD, 1 EMAIL, 1 ORDER, 8 PHONE (in 5 items)" in stdout
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["masking"] == {
        "kinds": ["email", "phone", "card"], "regions": ["ID", "TH", "VN", "MY", "PH", "SG", "US"],
        "patterns": ["ORDER"], "items": 5, "counts": {"CARD": 2, "EMAIL": 1, "ORDER": 1, "PHONE": 8},
        "mask_map": None,
    }  # fmt: skip
    lines = [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0]["masked"] == {"PHONE": 2, "EMAIL": 1}
    assert not (out / "mask_map.jsonl").exists()  # never written unless asked
    assert leaked([p.read_text(encoding="utf-8") for p in out.glob("*.json*")]) == []


def test_keep_mask_map_writes_the_placeholders_locally(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, server: FakeServer
) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", str(sop), str(items), "-o", str(out), "--base-url", server.url,
                           "--mask", MASK, "--keep-mask-map")  # fmt: skip
    assert code == 0 and "mask_map.jsonl maps the placeholders back" in err
    rows = [json.loads(line) for line in (out / "mask_map.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["item_id"] for r in rows] == ["id1", "th1", "vn1", "my1", "en1"]
    assert rows[0]["placeholders"] == {
        "<PHONE_1>": "0812-3456-7890",
        "<EMAIL_1>": "budi.santoso@example.co.id",
    }
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["masking"]["mask_map"] == str(out / "mask_map.jsonl")


def test_a_rerun_that_masks_otherwise_is_refused_like_another_sop(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    out = str(tmp_path / "run")
    base = ["run", str(sop), str(items), "-o", out, "--base-url", server.url]
    assert run_cli(capsys, *base, "--mask", "email")[0] == 0
    sent = len(fake.requests)
    assert run_cli(capsys, *base, "--mask", "email")[0] == 0 and len(fake.requests) == sent  # resumed
    code, _, err = run_cli(capsys, *base, "--mask", MASK)
    assert code == 2 and err.count("\n") == 1 and "mask:" in err and "--restart" in err
    assert len(fake.requests) == sent
    code, _, err = run_cli(capsys, *base, "--mask", MASK, "--restart")
    assert code == 0, err
    assert leaked(sent_texts(fake)[sent:]) == []


def test_batch_api_request_files_and_collect_carry_no_personal_data(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", str(sop), str(items), "-o", str(out), "--base-url", server.url,
                           "--batch-api", "--mask", MASK, "--keep-mask-map")  # fmt: skip
    assert code == 0, err
    (request_file,) = (out / "batch").glob("requests-*.jsonl")
    assert leaked([request_file.read_text(encoding="utf-8")]) == []
    code, _, err = run_cli(capsys, "batch", "collect", str(out))
    assert code == 0, err
    assert [r for r in fake.requests if BATCH_HEADER in r.headers]  # the lines went through the batch
    assert_masked(fake, len(ITEMS))
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["masking"]["counts"] == {"CARD": 2, "EMAIL": 1, "ORDER": 1, "PHONE": 8}
    assert (out / "mask_map.jsonl").is_file()


def test_sop_test_sends_its_cases_masked(
    capsys: Capture, sop: Path, fake: FakeModel, server: FakeServer
) -> None:
    code, _, err = run_cli(capsys, "test", str(sop), "--base-url", server.url, "--mask", MASK)
    assert code == 1, err  # the fake answers a catch-all: the cases fail, but they were sent
    assert len(fake.requests) == len(ITEMS)
    assert_masked(fake, len(ITEMS))
    before = len(fake.requests)
    assert run_cli(capsys, "test", str(sop), "--base-url", server.url, "--mask", MASK)[0] == 1
    assert len(fake.requests) == before  # the answer cache keys the masked items
    run_cli(capsys, "test", str(sop), "--base-url", server.url, "--mask", "email,card")
    # phone numbers are not masked now: the four cases holding one are other prompts, asked again; the
    # case without a phone number is the same prompt, answered from the cache
    assert len(fake.requests) == before + 4
    assert all(secret[0] in "+0" for secret in leaked(sent_texts(fake)[before:]))  # phones only


def test_diff_sends_both_versions_masked(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    changed = tmp_path / "b.yaml"
    changed.write_text(sop.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.0.1"))
    code, _, err = run_cli(capsys, "diff", str(sop), str(changed), "--items", str(items), "-o",
                           str(tmp_path / "diff"), "--base-url", server.url, "--mask", MASK)  # fmt: skip
    assert code == 0, err
    assert_masked(fake, 2 * len(ITEMS))  # items and tests, under both versions


def test_gaps_masks_as_the_run_did_without_being_told(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert run_cli(capsys, "run", str(sop), str(items), "-o", str(out), "--base-url", server.url,
                   "--mask", MASK)[0] == 0  # fmt: skip
    sent = len(fake.requests)
    draft = tmp_path / "gaps.yaml"
    code, stdout, err = run_cli(capsys, "gaps", str(out), "-o", str(draft), "--base-url", server.url)
    assert code == 0, err + stdout
    (request,) = fake.requests[sent:]
    prompt = request.body["messages"][1]["content"]
    assert "[id1]" in prompt and "<PHONE_1>" in prompt and leaked([prompt]) == []
    assert leaked([draft.read_text(encoding="utf-8")]) == []  # its examples may end up in the SOP


def test_mask_flag_errors_exit_2_before_anything_is_sent(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    for command in (["run", str(sop), str(items), "-o", str(tmp_path / "r")], ["test", str(sop)]):
        code, _, err = run_cli(capsys, *command, "--base-url", server.url, "--mask", "email,iban")
        assert code == 2 and err.count("\n") == 1 and "unknown mask kind 'iban'" in err
    assert fake.requests == []


def test_an_sop_privacy_section_alone_masks_every_run(
    capsys: Capture, tmp_path: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    sop = privacy_sop(tmp_path / "sop.yaml", {"mask": ["email", "phone", "card"], "patterns": [
        {"name": "ORDER", "regex": r"ORD-\d{4}-\d{6}"}]})  # fmt: skip
    code, _, err = run_cli(capsys, "run", str(sop), str(items), "-o", str(tmp_path / "run"), "--base-url",
                           server.url)  # fmt: skip
    assert code == 0, err
    assert_masked(fake, len(ITEMS))
    assert prelabel.load_sop(sop).privacy.mask == ("email", "phone", "card")


def test_compare_draft_edits_sends_the_clusters_texts_masked(
    capsys: Capture, tmp_path: Path, sop: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = {
        "text": "Where is my parcel?",
        "label": ["logistics.late_delivery"],
        "ruling": "R1.",
        "rules": [],
    }
    fake = FakeModel(default=Reply.raw(json.dumps(draft)))
    results = tmp_path / "labels.jsonl"
    line = {"status": "ok", "label": "logistics.late_delivery", "confidence": 0.95, "cited_rules": []}
    results.write_text("".join(json.dumps({"item_id": i["id"], **line}) + "\n" for i in ITEMS))
    humans = tmp_path / "humans.csv"
    rows = [(i["id"], a, i["text"].replace('"', "")) for i in ITEMS for a in ("ann_a", "ann_b")]
    humans.write_text("item_id,annotator,label,text\n" + "".join(
        f'{item_id},{annotator},product.damaged,"{text}"\n' for item_id, annotator, text in rows
    ), encoding="utf-8")  # fmt: skip
    with FakeServer(fake) as drafting:
        monkeypatch.setenv("OPENAI_BASE_URL", drafting.url)
        code, _, err = run_cli(capsys, "compare", str(results), str(humans), "-o", str(tmp_path / "cmp"),
                               "--sop", str(sop), "--draft-edits", "--top", "1", "--mask", MASK)  # fmt: skip
    assert code == 0, err
    (request,) = fake.requests
    prompt = request.body["messages"][1]["content"]
    assert "Example items:" in prompt and "<PHONE_1>" in prompt and leaked([prompt]) == []


def test_dry_run_and_export_of_a_masked_run(
    capsys: Capture, tmp_path: Path, sop: Path, items: Path, fake: FakeModel, server: FakeServer
) -> None:
    out = str(tmp_path / "run")
    base = ["run", str(sop), str(items), "-o", out, "--base-url", server.url, "--mask", MASK]
    code, stdout, err = run_cli(capsys, *base, "--dry-run")
    assert code == 0 and "5 items to label" in stdout and fake.requests == [], err
    assert run_cli(capsys, *base)[0] == 0
    # the export pairs each line with its item, checked against the ledger's digests of the masked items
    code, _, err = run_cli(capsys, "export", out, "--format", "jsonl", "-o", str(tmp_path / "out.jsonl"))
    assert code == 0, err
