"""Documentation that runs: every module's docstring examples, and the README's tested Python blocks.

A README block runs when the line before its opening fence is ``<!-- tested -->``; blocks share one namespace
in file order (like a notebook), with the working directory at the repository root.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import prelabel

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(prelabel.__path__, "prelabel.") if m.name != "prelabel.__main__"
)


def test_every_module_is_collected() -> None:
    assert {"prelabel.labeling.runner", "prelabel.llm.local.model", "prelabel.comparison.metrics"} <= set(
        MODULES
    )


@pytest.mark.parametrize("name", ["prelabel", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def _tested_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"<!-- tested -->\n```python\n(.*?)```", text, flags=re.S)


def test_readme_has_tested_python_blocks() -> None:
    assert len(_tested_blocks()) >= 2


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    namespace: dict[str, object] = {"__name__": "readme", "TMP": tmp_path}
    for block in _tested_blocks():
        exec(compile(block, "README.md", "exec"), namespace)
