"""``prelabel run`` end to end against the loopback fake OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
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


@pytest.mark.parametrize("logprobs", [[], ["--logprobs"]])
def test_bad_input_is_the_only_line_even_with_the_smoke_model(
    capsys: Capture, tmp_path: Path, logprobs: list[str]
) -> None:
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    for model in (["--model", "local"], []):  # the smoke note, the --logprobs warning in tools mode
        flags = [*model, *logprobs]
        code, _, stderr = run_cli(capsys, "run", str(tmp_path / "nope.yaml"), str(items), "-o", "r", *flags)
        assert code == 2 and "cannot read file" in stderr and stderr.count("\n") == 1, stderr
        code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(tmp_path / "no.jsonl"), "-o", "r", *flags)
        assert code == 2 and stderr == f"error: {tmp_path / 'no.jsonl'}: items file not found\n"


def test_the_logprobs_warning_comes_once_the_run_starts(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    flags = ["--base-url", server.url, "--mode", "tools", "--logprobs"]
    code, stdout, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), *flags)
    assert code == 0, stderr
    assert "warning: --logprobs: this endpoint answers in tools mode" in stderr
    assert "note:" not in stdout + stderr  # not the smoke model


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
        stdout.startswith("dry run: 3 items to label, 0 unusable; ~")
        and "on gpt-4o-mini; estimated cost $" in stdout
    )
    assert "nothing was sent" in stdout
    assert fake.requests == [] and not (tmp_path / "r").exists()


def test_run_help_lists_options(capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0
    for option in ("--model", "--base-url", "--mode", "--concurrency", "--max-items", "--dry-run",
                   "--rationale-language", "--id-col", "--text-col", "--prices", "-o"):  # fmt: skip
        assert option in out


# --- issue 13: reruns, wrong columns, options, sizes (the `run` side) -------------------------------------


def test_a_failed_rerun_keeps_earlier_results_and_says_what_it_does(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer, fake: FakeModel
) -> None:
    """Item 1: a rerun into a finished RUN_DIR with an unreachable --base-url (exit 3) leaves labels.jsonl and
    run.json holding the earlier results; a rerun says what it does with them."""
    rows = [json.dumps({"id": f"i{n}", "text": f"label=product.damaged {n}"}) for n in range(4)]
    items, out = write_items(tmp_path, rows[:3]), tmp_path / "run"
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)
    assert code == 0, stderr
    before = (out / "labels.jsonl").read_text(encoding="utf-8")
    with FakeServer() as gone:
        unreachable = gone.url  # a port that is free once the server stops
    use_fast_default_retry(monkeypatch, 2)
    more = write_items(tmp_path, rows, name="more.jsonl")  # one new item must be sent: it cannot be
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(more), "-o", str(out), "--base-url", unreachable)
    assert code == 3 and "unreachable" in stderr
    assert stderr.startswith(
        f"resuming {out}: its run.db holds 3 finished items; unchanged items are not sent again, 0 error "
        "items are retried; --restart starts fresh\n"
    )
    after = (out / "labels.jsonl").read_text(encoding="utf-8")
    assert after.startswith(before)  # every earlier line stays; the new item is an error record
    assert json.loads(after.splitlines()[-1])["error"]["type"] == "connection_error"
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["counts"] == {"total": 4, "ok": 3, "abstained": 0, "error": 1} and info["status"] == "aborted"
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", unreachable
    )
    assert code == 0 and "labeled 3 items (3 already done, not sent again)" in stdout  # nothing to send
    assert (out / "labels.jsonl").read_text(encoding="utf-8") == before
    assert len(fake.requests) == 3


def test_a_rerun_says_what_it_kept_what_it_sent_again_and_what_left_the_input(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    """Issue 21: "10 finished items kept" when one was re-sent and three had left the input. The summary
    line counts each, and run.db keeps the answers of the items that left (a later run takes them back)."""
    rows = [{"id": f"i{n}", "text": f"label=product.damaged {n}"} for n in range(10)]
    items, out = write_items(tmp_path, [json.dumps(row) for row in rows]), tmp_path / "run"
    assert run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)[0] == 0
    rows[4]["text"] = "label=seller.conduct 4"
    shorter = write_items(tmp_path, [json.dumps(row) for row in rows[:7]], name="shorter.jsonl")
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(shorter), "-o", str(out), "--base-url", server.url
    )
    assert code == 0, stderr
    assert "labeled 7 items (6 already done, not sent again; 1 changed since, sent again) with " in stdout
    assert (
        f"note: {out / 'run.db'} also keeps the answers of 3 items that are not in {shorter}; a later run "
        "with them takes them back without sending them"
    ) in stderr
    assert len(fake.requests) == 11 and len(lines(out)) == 7
    code, stdout, _ = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)
    assert code == 0 and "labeled 10 items (10 already done, not sent again) with " in stdout
    assert len(fake.requests) == 11  # the three dropped items came back unpaid, and item 4's first answer


def test_a_restart_that_gets_no_answer_puts_the_earlier_run_back(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer, fake: FakeModel
) -> None:
    """--restart against an unreachable endpoint used to leave labels.jsonl empty: the earlier run is set
    aside and put back when no answer comes; a restart that gets answers replaces it."""
    rows = [json.dumps({"id": f"i{n}", "text": f"label=product.damaged {n}"}) for n in range(3)]
    items, out = write_items(tmp_path, rows), tmp_path / "run"
    assert run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)[0] == 0
    before = {name: (out / name).read_bytes() for name in ("labels.jsonl", "run.json", "run.db")}
    with FakeServer() as gone:
        unreachable = gone.url
    use_fast_default_retry(monkeypatch, 2)
    args = ["run", SOP_PATH, str(items), "-o", str(out), "--restart"]
    code, _, stderr = run_cli(capsys, *args, "--base-url", unreachable)
    assert code == 3 and "unreachable" in stderr
    assert {name: (out / name).read_bytes() for name in before} == before and not (out / ".previous").exists()
    code, stdout, _ = run_cli(capsys, *args, "--base-url", server.url)
    assert code == 0 and "labeled 3 items" in stdout and "already done" not in stdout
    assert len(fake.requests) == 6 and not (out / ".previous").exists()


def test_a_killed_restart_is_recovered_by_the_next_run(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    """A --restart killed (SIGKILL, a lost ssh session) before its first answer leaves the earlier run in
    RUN_DIR/.previous/ and an empty ledger in its place: the next run puts the earlier run back, resumes."""
    rows = [json.dumps({"id": f"i{n}", "text": f"label=product.damaged {n}"}) for n in range(3)]
    items, out = write_items(tmp_path, rows), tmp_path / "run"
    args = ["run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url]
    assert run_cli(capsys, *args)[0] == 0
    before = (out / "labels.jsonl").read_bytes()
    (out / ".previous").mkdir()  # what the killed restart left: the earlier run aside, a fresh ledger
    for name in ("run.db", "labels.jsonl", "run.json"):
        (out / name).rename(out / ".previous" / name)
    with sqlite3.connect(out / "run.db") as fresh:
        fresh.execute("CREATE TABLE items (status TEXT, prompt_tokens INT, completion_tokens INT)")
    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 0 and "the earlier run is back in place" in stderr
    assert "3 already done" in stdout and len(fake.requests) == 3 and not (out / ".previous").exists()
    assert (out / "labels.jsonl").read_bytes() == before


def test_results_without_a_ledger_are_never_replaced(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    """labels.jsonl and run.json in a RUN_DIR without run.db (copied, the ledger deleted) would be rewritten
    from an empty ledger: refused, exit 2, before any request; --restart replaces them."""
    items, out = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})]), tmp_path / "run"
    out.mkdir()
    (out / "labels.jsonl").write_text('{"item_id": "old"}\n', encoding="utf-8")
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url)
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith(f"error: {out} holds labels.jsonl but no run.db ledger to resume from")
    assert (out / "labels.jsonl").read_text(encoding="utf-8") == '{"item_id": "old"}\n'
    assert fake.requests == [] and not (out / "run.db").exists()
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--restart"
    )
    assert code == 0, stderr
    assert json.loads((out / "labels.jsonl").read_text(encoding="utf-8"))["item_id"] == "a"


@pytest.mark.parametrize(
    ("name", "content", "flags", "message"),
    [
        (
            "c.csv",
            "id,text,body\n1,late,b1\n",
            ["--text-col", "bdy"],
            "no text column 'bdy' (columns: id, text, body)",
        ),
        (
            "c.csv",
            "id,text,body\n1,late,b1\n",
            ["--id-col", "idnet"],
            "no id column 'idnet' (columns: id, text, body)",
        ),
        ("semi.csv", "id;text\n1;late\n", [], "the header line 'id;text' has no comma"),
        ("other.csv", "a,b\n1,late\n", [], "no id column 'id' (columns: a, b)"),
        ("i.jsonl", '{"id": 1, "text": "x"}\n', ["--id-col", "idnet"], "no 'idnet' field in the only item"),
    ],
)
def test_wrong_columns_are_one_file_level_line_and_exit_2(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel,
    name: str, content: str, flags: list[str], message: str,
) -> None:  # fmt: skip
    """Item 3: exit 2 with one line naming the columns found, before any request or output."""
    items = tmp_path / name
    items.write_text(content, encoding="utf-8")
    out = tmp_path / "r"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, *flags
    )
    assert code == 2 and stderr.startswith(f"error: {items}: {message}") and stderr.count("\n") == 1
    assert fake.requests == [] and not out.exists()


def test_a_parquet_file_without_the_columns_is_exit_2(capsys: Capture, tmp_path: Path) -> None:
    import pandas as pd

    items = tmp_path / "items.parquet"
    pd.DataFrame({"a": [1], "b": ["x"]}).to_parquet(items)
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--dry-run")
    assert (
        code == 2
        and stderr == f"error: {items}: no id column 'id' (columns: a, b); name yours with --id-col\n"
    )


def test_a_run_in_which_every_item_is_an_error_is_not_a_success(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    """Every item bad input: exit 2; every item failed at the model: exit 3; the records are written."""
    rows = [json.dumps({"id": str(n), "text": " "}) for n in range(3)]
    items, out = write_items(tmp_path, rows), tmp_path / "bad"
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url
    )
    assert code == 2 and "0 ok, 0 abstained, 3 errors" in stdout
    assert (
        stderr.splitlines()[-1]
        == f"error: every item is an error (bad input); see the error field in {out}/labels.jsonl"
    )
    assert len(lines(out)) == 3 and fake.requests == []
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "d"), "--dry-run")
    assert code == 2 and stderr == "error: every item is unusable (bad input); nothing would be labeled\n"
    off_schema = FakeModel(default=Reply.raw("no JSON here"))
    good = write_items(tmp_path, [json.dumps({"id": "a", "text": "late"})], name="good.jsonl")
    with FakeServer(off_schema) as other:
        code, _, stderr = run_cli(
            capsys,
            "run",
            SOP_PATH,
            str(good),
            "-o",
            str(tmp_path / "m"),
            "--base-url",
            other.url,
            "--max-reasks",
            "0",
        )
    assert code == 3 and stderr.splitlines()[-1].startswith(
        "error: every item is an error (no answer from the model)"
    )


@pytest.mark.parametrize("model", ["", "   "])
def test_an_empty_model_name_is_exit_2(
    capsys: Capture, tmp_path: Path, server: FakeServer, model: str
) -> None:
    """Item 11: --model "" silently used gpt-4o-mini; "   " was sent as-is."""
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    out = tmp_path / "r"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--model", model
    )
    assert code == 2 and stderr == "error: bad option: model: a model name is required, not an empty one\n"
    assert not out.exists()


@pytest.mark.parametrize(("value", "model"), [("   ", "gpt-4o-mini"), (" gpt-4o ", "gpt-4o")])
def test_a_blank_prelabel_model_counts_as_unset(
    capsys: Capture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: FakeServer,
    value: str,
    model: str,
) -> None:
    """PRELABEL_MODEL="   " was sent as the model name."""
    monkeypatch.setenv("PRELABEL_MODEL", value)
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--base-url", server.url
    )
    assert code == 0 and f"labeled 1 items with {model}:" in stdout, stderr


@pytest.mark.parametrize("url", ["garbage", "ftp://x", "localhost:8000/v1"])
def test_a_base_url_that_is_not_http_is_exit_2_at_once(capsys: Capture, tmp_path: Path, url: str) -> None:
    """Item 11: no connection retries (it took 21 s, then exit 3)."""
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "r"), "--base-url", url
    )
    assert code == 2 and f"base URL '{url}' is not an http(s) URL" in stderr and stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_run_o_that_cannot_be_a_run_directory_is_exit_2_before_any_request(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    """Item 5: -o an existing file, or a path under one: exit 2, one line, nothing sent."""
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    regular = tmp_path / "a_file"
    regular.write_text("keep me", encoding="utf-8")
    for out, message in (
        (regular, "exists and is not a directory"),
        (regular / "sub", "cannot write the run directory"),
    ):
        code, _, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url
        )
        assert code == 2 and stderr.startswith(f"error: {out}: {message}") and stderr.count("\n") == 1
    assert fake.requests == [] and regular.read_text(encoding="utf-8") == "keep me"


def test_max_item_tokens_flag(capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel) -> None:
    """Item 10: the limit is a flag; an item over it is an error record, never sent; the dry run counts it."""
    rows = [json.dumps({"id": "long", "text": "word " * 500}), json.dumps({"id": "short", "text": "late"})]
    items, out = write_items(tmp_path, rows), tmp_path / "r"
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--dry-run", "--max-item-tokens", "100"
    )
    assert code == 0 and stdout.startswith("dry run: 1 items to label, 1 unusable;")
    assert stderr == "note: 1 unusable items are over --max-item-tokens (100)\n"
    code, _, stderr = run_cli(
        capsys,
        "run",
        SOP_PATH,
        str(items),
        "-o",
        str(out),
        "--base-url",
        server.url,
        "--max-item-tokens",
        "100",
    )
    assert code == 0, stderr
    assert [line["status"] for line in lines(out)] == ["error", "ok"] and len(fake.requests) == 1
    assert "per-item limit of 100 tokens" in str(lines(out)[0]["error"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--base-url", ""], "error: bad option: base_url: an empty base URL; leave it out to use OpenAI\n"),
        (
            ["--base-url", "  "],
            "error: bad option: base_url: an empty base URL; leave it out to use OpenAI\n",
        ),
        (["--samples", "100000"], "error: bad option: samples: Input should be less than or equal to 100\n"),
    ],
)
def test_an_empty_base_url_or_absurd_samples_are_exit_2_at_once(
    capsys: Capture, tmp_path: Path, flags: list[str], message: str
) -> None:
    """``--base-url ''`` fell back to OpenAI, exit 3 after retries; ``--samples 100000`` grew to 15 GB."""
    items = write_items(tmp_path, [json.dumps({"id": "a", "text": "x"})])
    out = tmp_path / "r"
    code, _, stderr = run_cli(capsys, "run", SOP_PATH, str(items), "-o", str(out), *flags)
    assert (code, stderr) == (2, message) and not out.exists()


# --- issue 21: --tpm no request fits in, a header-driven pause past the retry budget -----------------------


def test_a_tpm_below_one_request_is_exit_2_before_any_request(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    items, out = write_items(tmp_path, [json.dumps({"id": "a", "text": "late"})]), tmp_path / "run"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--tpm", "300"
    )
    assert code == 2 and len(stderr.splitlines()) == 1, stderr
    assert (
        stderr.startswith("error: --tpm 300 is below the tokens of one request (") and "use --tpm " in stderr
    )
    assert fake.requests == [] and not out.exists()


def test_a_rate_limit_reset_past_the_retry_budget_is_exit_3_naming_the_wait(
    capsys: Capture, tmp_path: Path, server: FakeServer, fake: FakeModel
) -> None:
    hour = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1h"}
    fake.script = [Reply.answer(headers=hour)]
    rows = [json.dumps({"id": f"i{n}", "text": f"label=product.damaged {n}"}) for n in range(5)]
    items, out = write_items(tmp_path, rows), tmp_path / "run"
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--concurrency", "1",
        "--retry-budget", "30",
    )  # fmt: skip
    assert code == 3, stderr
    assert "x-ratelimit-remaining-requests: 0, resetting in 3600 s" in stderr
    assert "longer than the retry budget (30 s, --retry-budget)" in stderr
    assert len(fake.requests) == 1 and lines(out)[0]["status"] == "ok"
