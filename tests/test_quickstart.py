"""Every command of the README's Quickstart runs as written, from a copy of the repository's root.

The commands are read from the ```bash blocks of README.md's "## Quickstart (CLI)" section, so a README change
that breaks a command breaks this test. Each runs in ``bash -c`` in a temporary directory holding copies of
``sop_specs/`` and ``examples/`` (the ``runs/`` they write stay there), ``prelabel`` being this interpreter's.

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
import os
import re
import shutil
from pathlib import Path

import pytest

from helpers import ENDPOINT_ENV, readme_commands, shell
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


def clean_env() -> dict[str, str]:
    """This environment without endpoint settings (``conftest.py`` clears them from ``os.environ`` too)."""
    return {k: v for k, v in os.environ.items() if k not in ENDPOINT_ENV}


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


def test_every_quickstart_command_runs_as_written(tmp_path: Path) -> None:
    root = repo_copy(tmp_path)
    n_items = len((root / "examples" / "items.jsonl").read_text(encoding="utf-8").splitlines())
    with FakeServer() as server:
        for command in [c for c in COMMANDS if not is_local(c)]:
            env = clean_env()
            if SERVER_PLACEHOLDER in command:  # a server of your own: no key
                command = command.replace(SERVER_PLACEHOLDER, server.url)
            else:
                env |= {"OPENAI_API_KEY": "sk-quickstart", "OPENAI_BASE_URL": server.url}
            done = shell(command, root, env)
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            if command.startswith(("prelabel run ", "prelabel batch collect ")) and not re.search(
                r"--dry-run|--batch-api", command
            ):
                lines = labeled(root, command)
                assert len(lines) == n_items and {line["status"] for line in lines} == {"ok"}, command
    assert server.model.requests  # the model commands reached the loopback server
    report = root / "runs" / "openai-report"
    assert {"metrics.json", "report.html", "ambiguity_candidates.csv"} <= {p.name for p in report.iterdir()}


@pytest.mark.local_model
def test_the_quickstart_local_model_commands_run_as_written(tmp_path: Path) -> None:
    from prelabel.llm.local.model import default_model_path

    root = repo_copy(tmp_path, items=LOCAL_ITEMS)
    gguf = str(default_model_path())
    for command in [c for c in COMMANDS if is_local(c)]:
        done = shell(command.replace(GGUF_PLACEHOLDER, gguf), root, clean_env())
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert len(labeled(root, command)) == LOCAL_ITEMS
