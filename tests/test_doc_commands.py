"""Every marked shell example of the README and of the documentation site runs as written: the ```bash blocks
right after a ``<!-- tested -->`` line (the convention is explained at the top of ``tests/test_docs.py``),
the README's tour of the example items among them, so a page change that breaks a command breaks this test.

Each page's commands run in file order in a temporary directory holding copies of ``sop_specs/`` and
``examples/`` (the ``runs/`` they write stay there for the commands after them): ``prelabel ...`` in-process
(``prelabel.cli.main``, split as bash splits it: quotes, comments, ``*`` globs), anything else with bash.

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
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from helpers import ROOT, block_commands, doc_pages, marked_blocks, run_command_line, shell
from prelabel.testing import FakeServer

SERVER_PLACEHOLDER = "http://localhost:8000/v1"
GGUF_PLACEHOLDER = "/path/to/model.gguf"
LOCAL_ITEMS = 1
#: What a model needs, pointed at the loopback server unless a page's ``export`` line says otherwise.
MODEL_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL")


def page_commands(page: Path) -> list[str]:
    """The commands of the page's marked ```bash blocks, in file order."""
    return [command for block in marked_blocks(page, "bash") for command in block_commands(block)]


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def is_local(command: str) -> bool:
    return bool(re.search(r"--model[ =]local\b", command))


def expected_exit(command: str) -> int:
    """0, or the code the command's trailing comment names (``prelabel validate bad.yaml  # exit 2``)."""
    found = re.search(r"\s#.*\bexit (\d+)\b[^#]*$", command)
    return int(found[1]) if found else 0


def in_process(command: str) -> bool:
    """A plain ``prelabel ...`` line (no pipe, redirection, variable or second command): run by ``main``."""
    bare = re.sub(r"'[^']*'|\"[^\"]*\"", "", command).split(" #")[0]  # unquoted, before any comment
    return command.startswith("prelabel ") and not re.search(r"[|&;<>`$()]", bare)


PAGES = [page for page in doc_pages() if page_commands(page)]
LOCAL_PAGES = [page for page in PAGES if any(is_local(c) for c in page_commands(page))]


def repo_copy(tmp_path: Path, items: int | None = None) -> Path:
    """A copy of what the examples read from the repository root (the first ``items`` example items)."""
    root = tmp_path / "repo"
    for folder in ("sop_specs", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    if items is not None:
        path = root / "examples" / "items.jsonl"
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(True)[:items]), encoding="utf-8")
    return root


def written_labels(root: Path, command: str) -> list[dict[str, object]] | None:
    """The ``labels.jsonl`` lines written by ``prelabel run ... -o RUN_DIR`` or ``batch collect RUN_DIR``
    (``None`` for other commands, a dry run, a Batch API submission)."""
    if re.search(r"--dry-run|--batch-api", command):
        return None
    run_dir = re.search(r"^prelabel run .*?(?:-o|--out)[ =](\S+)|^prelabel batch collect (\S+)", command)
    if not run_dir:
        return None
    lines = (root / (run_dir[1] or run_dir[2]) / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def run_commands(
    commands: list[str],
    root: Path,
    server_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[tuple[str, list[dict[str, object]] | None]]:
    """Run ``commands`` in ``root`` as the module docstring says; return each with the labels it wrote."""
    monkeypatch.chdir(root)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    exported: dict[str, str] = {}
    done = []
    for command in commands:
        if server_url is not None:
            command = command.replace(SERVER_PLACEHOLDER, server_url)
        if command.startswith("export "):
            for assignment in shlex.split(command.removeprefix("export "), comments=True):
                name, _, value = assignment.partition("=")
                exported[name] = value
                monkeypatch.setenv(name, value)
            continue
        assert not command.startswith("cd "), f"{command!r}: examples run from one directory"
        for name in MODEL_ENV:  # a server of your own (the placeholder) takes no key
            if server_url is None or (server_url in command and name not in exported):
                monkeypatch.delenv(name, raising=False)
            else:
                default = "sk-docs" if name == "OPENAI_API_KEY" else server_url
                monkeypatch.setenv(name, exported.get(name, default))
        if in_process(command):
            code, stdout, stderr = run_command_line(capsys, command)
        else:
            result = shell(command, root, dict(os.environ))
            code, stdout, stderr = result.returncode, result.stdout, result.stderr
        assert code == expected_exit(command), f"{command}\nexit {code}\n{stdout}\n{stderr}"
        done.append((command, written_labels(root, command) if code == 0 else None))
    return done


def test_the_readme_tour_runs_here() -> None:
    """The README's first commands on the example items are marked to run (and so run below)."""
    commands = page_commands(ROOT / "README.md")
    assert any(c.startswith("prelabel run ") and "examples/items.jsonl" in c for c in commands), commands
    assert any(c.startswith("prelabel compare ") and "examples/human_labels.csv" in c for c in commands)


def test_expected_exit_codes_and_in_process_commands() -> None:
    assert expected_exit("prelabel validate bad.yaml  # exit 2") == 2
    assert expected_exit("prelabel validate sop_specs/*.yaml  # check every SOP") == 0
    assert in_process('prelabel render x.yaml --item \'{"id": "a|b"}\'  # one item')
    assert not in_process("prelabel run x.yaml items.jsonl -o runs/a | tail -1")
    assert not in_process("head -2 runs/a/labels.jsonl")


CONVENTION_PAGE = """\
Set the model once, check the SOPs, then label two items with a server of your own:

<!-- tested -->
```bash
export PRELABEL_MODEL=my-model
prelabel validate sop_specs/*.yaml
prelabel validate examples/items.jsonl  # exit 2: items are no SOP
prelabel run sop_specs/customer_feedback_intent.yaml examples/items.jsonl -o runs/server \\
    --base-url http://localhost:8000/v1 --max-items 2
test "$(wc -l < runs/server/labels.jsonl)" -eq 2 && grep -q '"model": "my-model"' runs/server/labels.jsonl
```
"""


def test_a_page_runs_as_the_convention_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``export``, an expected exit code, a continued line, the placeholder server, and a bash line; a
    command that exits otherwise than its page says fails the test."""
    page = tmp_path / "page.md"
    page.write_text(CONVENTION_PAGE, encoding="utf-8")
    commands = page_commands(page)
    assert len(commands) == 5 and not in_process(commands[-1])
    root = repo_copy(tmp_path)
    with FakeServer() as server:
        done = run_commands(commands, root, server.url, monkeypatch, capsys)
        assert len(server.requests) == 2  # without the key: a server of your own
        assert "sk-docs" not in server.requests[0].headers.get("authorization", "")
        with pytest.raises(AssertionError, match="exit 2"):
            run_commands(["prelabel validate examples/items.jsonl"], root, server.url, monkeypatch, capsys)
    command, labels = done[-2]
    assert command.startswith("prelabel run ") and command.endswith(f"--base-url {server.url} --max-items 2")
    assert labels is not None and [line["status"] for line in labels] == ["ok", "ok"]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_shell_examples_run_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = repo_copy(tmp_path)
    n_items = len((root / "examples" / "items.jsonl").read_text(encoding="utf-8").splitlines())
    with FakeServer() as server:
        commands = [c for c in page_commands(page) if not is_local(c)]
        done = run_commands(commands, root, server.url, monkeypatch, capsys)
    for command, lines in done:
        if lines is not None:  # the loopback model answered every item it was sent
            assert lines and {line["status"] for line in lines} <= {"ok", "abstained", "error"}, command
            if "examples/items.jsonl" in command and "--max-items" not in command:
                assert len(lines) == n_items and {line["status"] for line in lines} == {"ok"}, command


@pytest.mark.local_model
@pytest.mark.parametrize("page", LOCAL_PAGES, ids=page_id)
def test_local_model_examples_run_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prelabel.llm.local.model import default_model_path

    gguf = str(default_model_path())
    root = repo_copy(tmp_path, items=LOCAL_ITEMS)
    commands = [c.replace(GGUF_PLACEHOLDER, gguf) for c in page_commands(page) if is_local(c)]
    for command, lines in run_commands(commands, root, None, monkeypatch, capsys):
        if lines is not None:
            assert len(lines) == LOCAL_ITEMS, command
