"""Helpers shared by test modules (importable because pytest puts ``tests/`` on ``sys.path``).

Shared settings live here once: fast retry policies and the environment variables that pick an endpoint.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from prelabel import SOP, RetryPolicy
from prelabel.cli import main

#: The repository root.
ROOT = Path(__file__).resolve().parent.parent

#: Environment variables that choose a model or server; ``conftest.py`` clears them for every test.
ENDPOINT_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "PRELABEL_MODEL",
    "PRELABEL_MODE",
    "PRELABEL_LLAMA_EXTRA_BUFTS",
)


def fast_retry(max_attempts: int = 3, **changes: float) -> RetryPolicy:
    """A retry policy with millisecond waits, so retry tests take no time."""
    settings: dict[str, float] = {
        "initial_delay": 0.001,
        "max_delay": 0.005,
        "max_total": 5.0,
        "timeout": 5.0,
    }
    return RetryPolicy(max_attempts=max_attempts, **{**settings, **changes})  # type: ignore[arg-type]


def use_fast_default_retry(monkeypatch: pytest.MonkeyPatch, max_attempts: int = 3) -> None:
    """Make the default policy (what the CLI and ``run`` use when none is given) fast."""
    policy = fast_retry(max_attempts)
    monkeypatch.setattr("prelabel.llm.caller.RetryPolicy", lambda: policy)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``prelabel ARGS`` in-process; return exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py``, imported from its file (registered in ``sys.modules`` under ``name``)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def check_golden(golden: Path, name: str, actual: str) -> None:
    """Compare ``actual`` with ``golden/name``; ``PRELABEL_UPDATE_GOLDEN=1`` (re)writes the file instead."""
    path = golden / name
    if os.environ.get("PRELABEL_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
    assert path.exists(), f"{path} is missing; create it with PRELABEL_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from the golden file; if intended, PRELABEL_UPDATE_GOLDEN=1"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as JSON lines to ``path`` and return it."""
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_run_dir(root: Path, sop: SOP, sop_path: Path, rows: list[dict[str, Any]]) -> Path:
    """``root/run``: a run directory with ``rows`` as ``labels.jsonl`` and a ``run.json`` naming ``sop``."""
    run_dir = root / "run"
    run_dir.mkdir()
    write_jsonl(run_dir / "labels.jsonl", rows)
    info = {"sop": {"id": sop.id, "version": sop.version, "sha256": sop.sha256, "path": str(sop_path)}}
    (run_dir / "run.json").write_text(json.dumps(info))
    return run_dir


def quiet_import(name: str) -> Any:
    """Import a vendor SDK (a test extra: missing is a failure, not a skip), silencing its own deprecation
    warnings, which the suite otherwise turns into errors."""
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


#: A fenced block right after a ``<!-- tested -->`` line runs (tests/test_docs.py explains the convention).
_TESTED_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)<!-- tested -->\n(?P=indent)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```",
    flags=re.M | re.S,
)


def markers(page: Path) -> int:
    """How many ``<!-- tested -->`` lines the page has (a marker is a line of its own)."""
    return len(re.findall(r"^[ \t]*<!-- tested -->[ \t]*$", page.read_text(encoding="utf-8"), flags=re.M))


def doc_pages() -> list[Path]:
    """The pages whose marked examples run: the README and every page of the documentation site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def marked_blocks(page: Path, language: str | None = None) -> list[str]:
    """The code of the fenced blocks marked ``<!-- tested -->`` on ``page`` (of ``language``, if given), in
    file order, dedented to their fence."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in _TESTED_BLOCK.finditer(text):
        if language is None or match["lang"] == language:
            indent = len(match["indent"])
            blocks.append("".join(line[indent:] for line in match["body"].splitlines(True)))
    return blocks


def block_commands(block: str) -> list[str]:
    """The shell commands of a ```bash block, in order (lines joined over ``\\`` continuations, comments and
    blank lines dropped)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = (line.strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def readme_commands(section: str, page: str = "README.md") -> list[str]:
    """The shell commands of the ```bash blocks of the section titled ``## {section}`` of ``page`` (the
    README, or a page of the docs site such as ``docs/guides/notebooks.md``), in order."""
    readme = (ROOT / page).read_text(encoding="utf-8")
    body = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [c for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S) for c in block_commands(block)]


def run_command_line(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    """Run a README command line ``prelabel ARGS`` in-process in the current directory, split as bash splits
    it (quotes, ``#`` comments, ``*`` globs); pipes, redirections and variables are refused."""
    bare = re.sub(r"'[^']*'|\"[^\"]*\"", "", command).split(" #")[0]  # unquoted, before any comment
    assert not re.search(r"[|&;<>`$()]", bare), command
    argv: list[str] = []
    for word in shlex.split(command, comments=True):
        argv += (sorted(glob.glob(word)) or [word]) if "*" in word else [word]
    assert argv[0] == "prelabel", command
    return run_cli(capsys, *argv[1:])


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with bash in ``cwd`` and ``env`` (``jupyter`` and the like)."""
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


class DiskFull:
    """A file handle whose writes fail with ``ENOSPC`` once ``room`` characters (or bytes) are written."""

    def __init__(self, handle: Any, room: int):
        self._handle = handle
        self._room = room

    def write(self, data: Any) -> int:
        import errno

        if len(data) > self._room:
            self._handle.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return int(self._handle.write(data))

    def __enter__(self) -> DiskFull:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Any:
        return iter(self._handle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def full_disk(monkeypatch: pytest.MonkeyPatch, *names: str, room: int = 0) -> None:
    """From now on the disk is full for the outputs ``names`` (file names, e.g. ``labels.jsonl``): writing
    one, or a temporary file of one (``.NAME...partial``), fails with ``ENOSPC`` after ``room`` characters."""
    import builtins
    import fnmatch
    import io

    real = io.open

    def opened(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real(file, mode, *args, **kwargs)
        if "w" in mode and isinstance(file, str | os.PathLike):
            name = Path(file).name
            if any(name == target or fnmatch.fnmatch(name, f".{target}*.partial") for target in names):
                return DiskFull(handle, room)
        return handle

    monkeypatch.setattr(io, "open", opened)
    monkeypatch.setattr(builtins, "open", opened)
