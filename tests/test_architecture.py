"""The layering of the subpackages (``[tool.importlinter]`` in pyproject.toml) holds, and can fail.

The second test copies the package, adds one forbidden import (the old ``llm.endpoints`` -> ``labeling`` kind
of cycle), and checks that import-linter reports the broken contract: the check is real, not decoration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import prelabel

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(prelabel.__file__).resolve().parent


def lint_imports(source_root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(lint), "--config", str(config), "--no-cache"],
        capture_output=True, text=True, env=env, cwd=source_root, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def config() -> Path:
    path = ROOT / "pyproject.toml"
    if not path.is_file():
        pytest.fail("pyproject.toml not found beside tests/: run the tests from a checkout")
    return path


def copy_package(tmp_path: Path) -> Path:
    """A copy of the installed package's code (no data folders), importable from ``tmp_path/src``."""
    target = tmp_path / "src" / "prelabel"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.jinja"))
    return tmp_path / "src"


def test_layers_hold(tmp_path: Path, config: Path) -> None:
    result = lint_imports(copy_package(tmp_path), config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, config: Path) -> None:
    src = copy_package(tmp_path)
    endpoints = src / "prelabel" / "llm" / "endpoints.py"
    endpoints.write_text(
        endpoints.read_text(encoding="utf-8") + "\nfrom prelabel.labeling import runner  # upward\n",
        encoding="utf-8",
    )
    result = lint_imports(src, config)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "prelabel.llm.endpoints -> prelabel.labeling.runner" in result.stdout


def test_instructor_outside_its_one_module_breaks_the_contract(tmp_path: Path, config: Path) -> None:
    src = copy_package(tmp_path)
    labeler = src / "prelabel" / "labeling" / "labeler.py"
    code = labeler.read_text(encoding="utf-8") + "\nimport instructor  # not behind llm.instructed\n"
    labeler.write_text(code, encoding="utf-8")
    result = lint_imports(src, config)
    assert result.returncode != 0
    assert "instructor is behind one module" in result.stdout and "BROKEN" in result.stdout
    assert "prelabel.labeling.labeler -> instructor" in result.stdout
