"""Every command of the README's Quickstart runs as written, from a copy of the repository's root.

The commands are read from the ```bash blocks of README.md's "## Quickstart (CLI)" section, so a README change
that breaks a command breaks this test. Each runs in-process (``prelabel.cli.main``, split as bash splits it:
quotes, comments, ``*`` globs), in a temporary directory holding copies of ``sop_specs/`` and ``examples/``
(the ``runs/`` they write stay there).

Where a model is needed:

- commands that would go to OpenAI go to a loopback ``FakeServer`` (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``);
- the placeholder server ``http://localhost:8000/v1`` is replaced by that server's URL (and the command runs
  without a key, as against a local vLLM);
- the ``--model local`` commands run the real embedded model (marker ``local_model``), the placeholder GGUF
  ``/path/to/model.gguf`` replaced by the bundled model's file, on a copy of ``examples/items.jsonl`` cut to
  its first item: the same commands, a load and one answer each instead of minutes on a CPU.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import readme_commands, run_command_line
from prelabel.testing import FakeServer

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = readme_commands("Quickstart (CLI)")
SERVER_PLACEHOLDER = "http://localhost:8000/v1"
GGUF_PLACEHOLDER = "/path/to/model.gguf"
LOCAL_ITEMS = 1


def is_local(command: str) -> bool:
    return bool(re.search(r"--model[ =]local\b", command))


def repo_copy(tmp_path: Path, items: int | None = None) -> Path:
    """A copy of what the Quickstart reads from the repository root (the first ``items`` example items)."""
    root = tmp_path / "repo"
    for folder in ("sop_specs", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    if items is not None:
        path = root / "examples" / "items.jsonl"
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(True)[:items]), encoding="utf-8")
    return root


def labeled(root: Path, command: str) -> list[dict[str, object]]:
    """The ``labels.jsonl`` lines written by ``prelabel run ... -o RUN_DIR`` or ``batch collect RUN_DIR``."""
    run_dir = re.search(r"-o (\S+)|batch collect (\S+)", command)
    assert run_dir, command
    lines = (root / (run_dir[1] or run_dir[2]) / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_quickstart_has_its_commands_and_placeholders() -> None:
    assert len(COMMANDS) >= 10 and all(c.startswith("prelabel ") for c in COMMANDS), COMMANDS
    assert sum(SERVER_PLACEHOLDER in c for c in COMMANDS) == 1
    assert sum(f"local:{GGUF_PLACEHOLDER}" in c for c in COMMANDS) == 1
    assert sum(is_local(c) for c in COMMANDS) == 2
    assert any(c.startswith("prelabel compare ") and "examples/human_labels.csv" in c for c in COMMANDS)
    for command in COMMANDS:  # every file a command reads is in the repository
        for word in command.split():
            if word.endswith((".yaml", ".jsonl", ".csv")) and "*" not in word:
                assert (ROOT / word).is_file(), f"{word} in {command!r} is not in the repository"


def test_every_quickstart_command_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_copy(tmp_path)
    monkeypatch.chdir(root)
    n_items = len((root / "examples" / "items.jsonl").read_text(encoding="utf-8").splitlines())
    with FakeServer() as server:
        for command in [c for c in COMMANDS if not is_local(c)]:
            if SERVER_PLACEHOLDER in command:  # a server of your own: no key
                monkeypatch.delenv("OPENAI_API_KEY", raising=False)
                monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
                command = command.replace(SERVER_PLACEHOLDER, server.url)
            else:
                monkeypatch.setenv("OPENAI_API_KEY", "sk-quickstart")
                monkeypatch.setenv("OPENAI_BASE_URL", server.url)
            code, stdout, stderr = run_command_line(capsys, command)
            assert code == 0, f"{command}\n{stdout}\n{stderr}"
            if command.startswith(("prelabel run ", "prelabel batch collect ")) and not re.search(
                r"--dry-run|--batch-api", command
            ):
                lines = labeled(root, command)
                assert len(lines) == n_items and {line["status"] for line in lines} == {"ok"}, command
    assert server.model.requests  # the model commands reached the loopback server
    report = root / "runs" / "openai-report"
    assert {"metrics.json", "report.html", "ambiguity_candidates.csv"} <= {p.name for p in report.iterdir()}


@pytest.mark.local_model
def test_the_quickstart_local_model_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prelabel.llm.local.model import default_model_path

    gguf = str(default_model_path())
    root = repo_copy(tmp_path, items=LOCAL_ITEMS)
    monkeypatch.chdir(root)
    for command in [c for c in COMMANDS if is_local(c)]:
        code, stdout, stderr = run_command_line(capsys, command.replace(GGUF_PLACEHOLDER, gguf))
        assert code == 0, f"{command}\n{stdout}\n{stderr}"
        assert len(labeled(root, command)) == LOCAL_ITEMS
