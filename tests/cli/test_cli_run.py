"""``prelabel run`` end to end against the loopback fake OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli, use_fast_default_retry
from prelabel.testing.fake import FakeModel, FakeServer, Reply, RequestRecord

Capture = pytest.CaptureFixture[str]
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))
KEY = "sk-cli-test-key-0000000000"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def echo_label(request: RequestRecord) -> Reply:
    """Answer with the label named in the item text (``label=x``), so tests can check item → line mapping."""
    text = request.item_text or ""
    label = text.split("label=", 1)[1].split()[0] if "label=" in text else "praise_other.other"
    return Reply.answer(label, delay=0.02 if "slow" in text else 0.0)


@pytest.fixture
def fake() -> FakeModel:
    return FakeModel(default=echo_label)


@pytest.fixture
def server(fake: FakeModel) -> Iterator[FakeServer]:
    with FakeServer(fake) as running:
        yield running


def lines(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (run_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def write_items(tmp_path: Path, rows: list[str], name: str = "items.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_run_labels_every_item_in_input_order(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    rows = [
        json.dumps({"id": f"i{n}", "text": f"{'slow ' if n % 3 == 0 else ''}label={label}"})
        for n, label in enumerate(["product.damaged", "seller.conduct", "payment.charge_issue"] * 4)
    ]
    rows.insert(5, "not json at all")
    rows.insert(8, json.dumps({"id": "i1", "text": "duplicate"}))
    items = write_items(tmp_path, rows)
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--concurrency", "4"
    )
    assert code == 0, stderr
    got = lines(out)
    assert len(got) == 14
    expected_ids = [f"i{n}" for n in range(12)]
    expected_ids.insert(5, None)  # type: ignore[arg-type]
    expected_ids.insert(8, "i1")
    assert [line["item_id"] for line in got] == expected_ids
    labels = [line["label"] for line in got if line["status"] == "ok"]
    assert labels == ["product.damaged", "seller.conduct", "payment.charge_issue"] * 4
    assert [line["status"] for line in got].count("error") == 2
    assert len(fake.requests) == 12
    assert "labeled 14 items with gpt-4o-mini: 12 ok, 0 abstained, 2 errors" in stdout
    assert "invalid_item: 2" in stderr
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["endpoint"]["base_url"] == server.url
    for path in out.iterdir():
        assert KEY.encode() not in path.read_bytes()


def test_run_options_reach_the_server(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("review_id,body\nr1,paket belum sampai\nr2,barang rusak\nr3,x\n", encoding="utf-8")
    out = tmp_path / "run"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(csv_path), "-o", str(out), "--base-url", server.url,
        "--model", "my-vllm-model", "--mode", "json_schema", "--id-col", "review_id", "--text-col", "body",
        "--max-items", "2", "--rationale-language", "Bahasa Indonesia",
    )  # fmt: skip
    assert code == 0, stderr
    assert [line["item_id"] for line in lines(out)] == ["r1", "r2"]
    assert len(fake.requests) == 2
    body = fake.requests[0].body
    assert body["model"] == "my-vllm-model"
    assert body["response_format"]["type"] == "json_schema" and "tools" not in body
    assert "Write the rationale in Bahasa Indonesia" in body["messages"][0]["content"]
    # concurrent requests arrive in any order
    assert sorted(r.item_text or "" for r in fake.requests) == ["barang rusak", "paket belum sampai"]
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["cost_usd"] is None and run_json["rationale_language"] == "Bahasa Indonesia"


def test_retries_and_reasks_through_real_http(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fast_default_retry(monkeypatch, 4)  # the CLI's default policy, but quick
    fake = FakeModel(
        [
            Reply.error(429, "Rate limit reached", headers={"retry-after-ms": "50"}),
            Reply.error(503, "overloaded"),
            Reply.malformed(),
            Reply.raw('{"rationale": "x", "label": "not-a-label", "confidence": 0.4}'),
        ],
        default=echo_label,
    )
    items = write_items(tmp_path, [json.dumps({"id": "only", "text": "label=product.damaged"})])
    with FakeServer(fake) as server:
        code, _, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--base-url", server.url
        )
    assert code == 0, stderr
    [line] = lines(tmp_path / "r")
    assert line["status"] == "ok" and line["label"] == "product.damaged"
    assert line["attempts"] == 5  # 3 transport retries, the off-schema answer, its re-ask


def test_auth_failure_exits_3_with_one_line(capsys: Capture, tmp_path: Path) -> None:
    fake = FakeModel(default=Reply.error(401, f"Incorrect API key provided: {KEY}"))
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    with FakeServer(fake) as server:
        code, stdout, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--base-url", server.url
        )
    assert code == 3
    assert stderr.count("\n") == 1 and stderr.startswith("error: auth (401)")
    assert "Traceback" not in stderr and KEY not in stderr + stdout
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("reply", "start"),
    [
        (
            Reply.error(429, "You exceeded your current quota", code="insufficient_quota"),
            "error: insufficient quota",
        ),
        (
            Reply.error(404, "The model `gpt-9` does not exist", code="model_not_found"),
            "error: model not found",
        ),
    ],
)
def test_quota_and_unknown_model_exit_3(capsys: Capture, tmp_path: Path, reply: Reply, start: str) -> None:
    fake = FakeModel(default=reply)
    items = write_items(tmp_path, [json.dumps({"id": str(n), "text": "x"}) for n in range(5)])
    with FakeServer(fake) as server:
        code, _, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--base-url", server.url
        )
    assert code == 3 and stderr.startswith(start) and stderr.count("\n") == 1
    assert len(fake.requests) <= 5  # no retries: at most one request per item already in flight


def test_unreachable_server_exits_3(capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        url = server.url  # a port that is free once the server stops
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    use_fast_default_retry(monkeypatch, 2)  # the CLI's default policy, but quick
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--base-url", url
    )
    assert code == 3 and "unreachable" in stderr and stderr.count("\n") == 1


def test_missing_key_exits_3(capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"))
    assert code == 3 and "OPENAI_API_KEY" in stderr and stderr.count("\n") == 1


def test_bad_input_exits_2(capsys: Capture, tmp_path: Path) -> None:
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "r")
    )
    assert code == 2 and stderr == f"error: {tmp_path / 'nope.jsonl'}: items file not found\n"
    code, _, stderr = run_cli(
        capsys, "run", str(tmp_path / "nope.yaml"), str(items), "-o", str(tmp_path / "r")
    )
    assert code == 2 and "cannot read file" in stderr and stderr.count("\n") == 1
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--mode", "telepathy"
    )
    assert code == 2 and "unknown mode 'telepathy'" in stderr
    assert not (tmp_path / "r").exists()


def test_dry_run_prints_estimate_and_sends_nothing(capsys: Capture, tmp_path: Path, fake: FakeModel) -> None:
    items = write_items(
        tmp_path, [json.dumps({"id": str(n), "text": "where is my parcel"}) for n in range(3)]
    )
    with FakeServer(fake) as server:
        code, stdout, stderr = run_cli(
            capsys,
            "run",
            SOP_PATH,
            str(items),
            "-o",
            str(tmp_path / "r"),
            "--base-url",
            server.url,
            "--dry-run",
        )
    assert code == 0, stderr
    assert (
        stdout.startswith("dry run: 3 items (0 unusable), ~") and "on gpt-4o-mini; estimated cost $" in stdout
    )
    assert "nothing was sent" in stdout
    assert fake.requests == [] and not (tmp_path / "r").exists()


def test_run_help_lists_options(capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0
    for option in ("--model", "--base-url", "--mode", "--concurrency", "--max-items", "--dry-run",
                   "--rationale-language", "--id-col", "--text-col", "--prices", "-o"):  # fmt: skip
        assert option in out
