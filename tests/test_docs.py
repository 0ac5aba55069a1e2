"""Documentation that runs: every module's docstring examples, and the README's tested Python blocks.

A Python block of the README or of a page under ``docs/`` runs when the line before its opening fence is
``<!-- tested -->``; a page's blocks share one namespace in file order (like a notebook), with the working
directory at the repository root and ``TMP`` a temporary directory.
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


PAGES = sorted(str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


def _tested_blocks(page: str) -> list[str]:
    text = (ROOT / page).read_text(encoding="utf-8")
    return re.findall(r"<!-- tested -->\n```python\n(.*?)```", text, flags=re.S)


def test_the_site_has_tested_python_blocks() -> None:
    assert sum(len(_tested_blocks(page)) for page in PAGES) >= 6


@pytest.mark.parametrize("page", [p for p in PAGES if _tested_blocks(p)])
def test_python_blocks_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's tested blocks run in one namespace, in file order, from the repository root."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    namespace: dict[str, object] = {"__name__": "docs", "TMP": tmp_path}
    for block in _tested_blocks(page):
        exec(compile(block, page, "exec"), namespace)
