"""The foundation commands of the CLI: help, validate, render, exit codes, ``python -m prelabel``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli

Capture = pytest.CaptureFixture[str]
FEEDBACK = str(prelabel.bundled_sop_path("customer_feedback_intent"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["validate", "render", "--debug"]),
        (["validate", "--help"], ["SOP", "FILE:LINE:COL"]),
        (["render", "--help"], ["--item", "--template", "--rationale-language"]),
    ],
)
def test_help(capsys: Capture, args: list[str], expected: list[str]) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "Usage: " in out
    for word in expected:
        assert word in out


@pytest.mark.parametrize(
    "command", [[], ["run"], ["compare"], ["demo"], ["export"], ["test"], ["calibration"]]
)
def test_help_shows_flags_as_flags(capsys: Capture, command: list[str]) -> None:
    code, out, err = run_cli(capsys, *command, "--help")
    assert code == 0, err
    assert "--help" in out and "<bool>" not in out  # `--debug`, `--wide`, `--help` take no value
    if command == ["compare"]:
        assert "--wide " in out and "<int range>" in out  # options that take a value still show its type


def test_version(capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert (code, out.strip()) == (0, prelabel.__version__)


def test_validate_ok(capsys: Capture) -> None:
    code, out, err = run_cli(capsys, "validate", FEEDBACK)
    assert code == 0
    assert err == ""
    sop = prelabel.bundled_sop("customer_feedback_intent")
    assert out == f"{FEEDBACK}: ok ({sop.id} {sop.version}, {sop.size()})\n"
    assert sop.size().startswith(
        f"{len(sop.leaf_ids)} leaf labels ({len(sop.label_index)} labels in the tree)"
    )


def test_render_prints_messages_as_json(capsys: Capture) -> None:
    item = {"id": "a1", "text": "Paket belum sampai", "language": "id"}
    code, out, err = run_cli(capsys, "render", FEEDBACK, "--item", json.dumps(item))
    assert code == 0, err
    data = json.loads(out)
    sop = prelabel.bundled_sop("customer_feedback_intent")
    assert data["messages"] == prelabel.render(sop, item)
    assert data["template"] == "classify.v1"
    assert data["prompt_hash"] == prelabel.prompt_hash(sop)


def test_render_rationale_language_option(capsys: Capture) -> None:
    item = json.dumps({"id": "a1", "text": "hello"})
    code, out, _ = run_cli(capsys, "render", FEEDBACK, "--item", item, "--rationale-language", "Vietnamese")
    assert code == 0
    assert "Write the rationale in Vietnamese" in json.loads(out)["messages"][0]["content"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{bad json", "error: --item is not valid JSON: Expecting property name enclosed in double quotes"),
        ('["a list"]', "error: item must be an object, got list"),
        ('{"id": "1"}', "error: item has neither text nor images"),
        ('{"id": "1", "text": "x", "colour": "red"}', "error: colour: Extra inputs are not permitted"),
    ],
)
def test_render_bad_item_is_one_line_exit_2(capsys: Capture, item: str, message: str) -> None:
    code, out, err = run_cli(capsys, "render", FEEDBACK, "--item", item)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(message)
    assert "Traceback" not in err


def test_render_unknown_template_exit_2(capsys: Capture) -> None:
    code, _, err = run_cli(
        capsys, "render", FEEDBACK, "--item", '{"id": "1", "text": "x"}', "--template", "nope"
    )
    assert code == 2
    assert err == f"error: unknown template 'nope'; bundled: {', '.join(prelabel.list_templates())}\n"
    assert "classify.v1" in err


def test_render_unreadable_image_exit_2(capsys: Capture, tmp_path: Path) -> None:
    item = json.dumps({"id": "1", "images": [str(tmp_path / "gone.png")]})
    code, _, err = run_cli(capsys, "render", FEEDBACK, "--item", item)
    assert code == 2
    assert err.startswith("error: cannot read image")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["validate"], "Missing argument"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
        (["render", FEEDBACK], "Missing option '--item'"),
        (["run", FEEDBACK, "x.jsonl", "-o", "r", "--samples", "0"], "Invalid value for '--samples'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(capsys: Capture, args: list[str], says: str) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and says in line and line.endswith("--help)")
    assert "Traceback" not in err


def test_python_dash_m_prelabel_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prelabel", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m prelabel" in result.stdout
    assert "validate" in result.stdout


def test_python_dash_m_prelabel_validate_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("labels: []\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "prelabel", "validate", FEEDBACK, str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout.startswith(f"{FEEDBACK}: ok")
    assert all(line.startswith(f"{bad}:") for line in result.stderr.splitlines())
    assert len(result.stderr.splitlines()) == 4  # labels empty; id, title, version missing


def test_ctrl_c_outside_run_does_not_promise_a_resume(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``prelabel run`` keeps results and resumes; Ctrl-C in ``compare`` says just that it stopped."""

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(prelabel, "compare", interrupted)
    humans = tmp_path / "h.csv"
    humans.write_text("item_id,annotator,label\n1,a,x\n", encoding="utf-8")
    code, _, stderr = run_cli(
        capsys, "compare", str(tmp_path / "labels.jsonl"), str(humans), "-o", str(tmp_path / "o")
    )
    assert (code, stderr) == (130, "error: interrupted\n")
