"""``prelabel run`` and the calling layer: request deadlines and retries from the command line, and secrets.

A key of any shape (here not ``sk-...``) and a password in ``--base-url`` must not reach the console, the
``--debug`` traceback, the exception a notebook gets, the HTTP stack's log records or any file the run writes.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import traceback
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli, use_fast_default_retry, write_jsonl
from loopback import RawServer, hang
from prelabel.testing import FakeModel, FakeServer, Reply

Capture = pytest.CaptureFixture[str]
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))
KEY = "PROXYKEY-SECRET-123"
PASSWORD = "URLPASS-SECRET-456"


def items_file(tmp_path: Path, n: int = 3) -> Path:
    return write_jsonl(tmp_path / "items.jsonl", [{"id": f"i{k}", "text": f"parcel {k}"} for k in range(n)])


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def echoing_server_script() -> list[Reply]:
    """An item-level 400 and an off-schema answer that echo the key, then a 401 that echoes it."""
    echo = f"invalid api key {KEY} (Bearer {KEY})"
    return [
        Reply.error(400, f"bad request for key {KEY}"),
        *[Reply.raw(f'{{"label": "{KEY}"}}')] * 3,  # the answer and its two re-asks
        Reply.error(401, echo, code="invalid_api_key"),
    ]


@pytest.mark.parametrize("debug", [False, True])
def test_a_key_of_any_shape_is_redacted_in_every_stream_and_file(
    capsys: Capture,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    use_fast_default_retry(monkeypatch, 2)
    out = tmp_path / "run"
    with FakeServer(FakeModel(echoing_server_script())) as server:
        url = server.url.replace("http://", f"http://me:{PASSWORD}@")
        flags = ["--debug"] if debug else []
        args = [
            "run",
            SOP_PATH,
            str(items_file(tmp_path)),
            "-o",
            str(out),
            "--base-url",
            url,
            "--concurrency",
            "1",
        ]
        code, stdout, stderr = run_cli(capsys, *flags, *args)
    assert code == 3, stderr
    assert "auth (401)" in stderr and ("Traceback" in stderr) == debug
    written = {path: path.read_bytes() for path in files_under(out)}
    assert {p.name for p in written} >= {"labels.jsonl", "run.json", "run.db"}
    for secret in (KEY, PASSWORD):
        assert secret not in stdout and secret not in stderr and secret not in caplog.text
        for path, content in written.items():
            assert secret.encode() not in content, path
    lines = (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["error"]["type"] for line in lines] == ["bad_request", "invalid_output"]
    assert json.loads((out / "run.json").read_text())["endpoint"]["base_url"] == server.url


def test_the_exception_a_notebook_gets_shows_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeServer(FakeModel(echoing_server_script()[-1:])) as server:
        with pytest.raises(prelabel.EndpointError) as info:
            prelabel.run(SOP_PATH, items_file(tmp_path), tmp_path / "run", base_url=server.url)
    shown = "".join(traceback.format_exception(info.value))  # what IPython prints, chained causes included
    assert "auth (401)" in shown and KEY not in shown and KEY not in repr(info.value)


def test_credentials_in_base_url_are_never_written_or_printed(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    with FakeServer(FakeModel()) as server:
        url = server.url.replace("http://", "http://me:pw1@")  # short: not a registered secret, still hidden
        out = tmp_path / "run"
        code, stdout, stderr = run_cli(
            capsys, "run", SOP_PATH, str(items_file(tmp_path)), "-o", str(out), "--base-url", url
        )
        labeler = prelabel.Labeler(prelabel.bundled_sop("customer_feedback_intent"), base_url=url)
    assert code == 0, stderr
    assert json.loads((out / "run.json").read_text())["endpoint"]["base_url"] == server.url
    for text in (stdout, stderr, (out / "run.json").read_text(), repr(labeler.endpoint)):
        assert "me:pw1@" not in text


def test_a_hung_server_ends_with_exit_3_within_the_budget_given(capsys: Capture, tmp_path: Path) -> None:
    with RawServer(hang) as server:
        args = [
            "run",
            SOP_PATH,
            str(items_file(tmp_path, 20)),
            "-o",
            str(tmp_path / "run"),
            "--base-url",
            server.url,
        ]
        started = time.monotonic()
        code, _, stderr = run_cli(
            capsys, *args, "--timeout", "0.3", "--retry-budget", "2", "--max-attempts", "2"
        )
        elapsed = time.monotonic() - started
    assert code == 3 and stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: endpoint unreachable after retries: timeout after 2 attempt(s)")
    assert elapsed < 5 and server.requests <= 2 * 8  # the first items in flight, two attempts each


@pytest.mark.parametrize(
    ("flags", "requests"),
    [([], 3), (["--max-reasks", "0"], 1), (["--max-reasks", "1"], 2)],
)
def test_max_reasks_bounds_the_re_asks(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], requests: int
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    fake = FakeModel([Reply.answer()], default=Reply.raw('{"label": "nope"}'))  # one answer, then off-schema
    with FakeServer(fake) as server:
        args = ["run", SOP_PATH, str(items_file(tmp_path, 2)), "-o", str(tmp_path / "run")]
        args += ["--base-url", server.url]
        code, _, stderr = run_cli(capsys, *args, *flags, "--concurrency", "1")
    assert code == 0 and "invalid_output: 1" in stderr
    assert len(fake.requests) == 1 + requests


def test_max_attempts_bounds_the_transport_retries(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    fake = FakeModel([Reply.answer()], default=Reply.error(500, "boom"))
    with FakeServer(fake) as server:
        args = ["run", SOP_PATH, str(items_file(tmp_path, 2)), "-o", str(tmp_path / "run")]
        args += ["--base-url", server.url]
        code, _, stderr = run_cli(capsys, *args, "--max-attempts", "2", "--concurrency", "1")
    assert code == 0 and "server_error: 1" in stderr
    assert len(fake.requests) == 3  # one answer, then one item's two attempts


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--timeout", "0", "timeout (--timeout) must be above 0"),
        ("--retry-budget", "-1", "max_total (--retry-budget) must be above 0"),
        ("--max-attempts", "0", "--max-attempts"),
        ("--max-reasks", "-1", "--max-reasks"),
    ],
)
def test_bad_retry_flags_are_bad_input(
    capsys: Capture, tmp_path: Path, flag: str, value: str, message: str
) -> None:
    args = [
        "run",
        SOP_PATH,
        str(items_file(tmp_path)),
        "-o",
        str(tmp_path / "run"),
        "--base-url",
        "http://h/v1",
    ]
    code, _, stderr = run_cli(capsys, *args, flag, value)
    assert code == 2 and message in stderr and stderr.count("\n") == 1, stderr


def test_the_retry_flags_are_documented_with_their_defaults(capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "run", "--help")
    text = " ".join(out.replace("│", " ").split())  # help wraps inside a box
    assert code == 0
    for flag, default in (
        ("--timeout", "120"),
        ("--retry-budget", "300"),
        ("--max-attempts", "6"),
        ("--max-reasks", "2"),
    ):
        assert flag in text and f"(default: {default})" in text


@pytest.mark.parametrize("command", ["run", "test", "diff", "gaps", "compare"])
def test_every_command_that_calls_the_model_takes_the_retry_flags(capsys: Capture, command: str) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    text = " ".join(out.replace("│", " ").split())  # help wraps inside a box
    assert code == 0
    for flag, default in (("--timeout", "120"), ("--retry-budget", "300"), ("--max-attempts", "6")):
        assert flag in text and f"(default: {default})" in text
    assert "--max-reasks" in text


def test_a_bad_retry_flag_on_compare_is_exit_2_before_any_work(capsys: Capture, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["compare", str(tmp_path / "missing.jsonl"), str(tmp_path / "h.csv"), "-o", str(out)]
    code, _, stderr = run_cli(capsys, *args, "--timeout", "0")
    assert code == 2 and "--timeout" in stderr and stderr.count("\n") == 1 and not out.exists()


def test_a_batch_submission_refused_by_an_echoing_server_shows_no_key(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    body = json.dumps({"error": {"message": f"bad request for key {KEY}"}}).encode()
    head = (
        f"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )

    def refuse(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head.encode() + body)

    out = tmp_path / "run"
    with RawServer(refuse) as server:
        args = ["run", SOP_PATH, str(items_file(tmp_path)), "-o", str(out), "--base-url", server.url]
        code, stdout, stderr = run_cli(capsys, "--debug", *args, "--batch-api")
    assert code == 3, stderr
    assert "upload failed (400)" in stderr and "Traceback" in stderr
    assert KEY not in stdout and KEY not in stderr
    for path in files_under(out):
        assert KEY.encode() not in path.read_bytes(), path


def test_an_unexpected_error_carrying_the_key_is_redacted(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"the server said: key {KEY} refused")

    monkeypatch.setattr(prelabel, "submit_batch", broken)
    args = ["run", SOP_PATH, str(items_file(tmp_path)), "-o", str(tmp_path / "run"), "--batch-api"]
    code, stdout, stderr = run_cli(capsys, *args, "--base-url", "http://127.0.0.1:9/v1")
    assert code == 1 and "RuntimeError: the server said: key *** refused" in stderr
    assert KEY not in stdout + stderr
