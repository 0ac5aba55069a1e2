"""The hand-written pages of the docs site stay true to the code.

Every test a promise names exists (so a renamed or deleted test cannot leave a promise without one), every
environment variable the code, scripts and tests read is on the environment page, and every exit code the CLI
uses is on the exit-codes page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names |= set(
            re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), flags=re.M)
        )
    return names


def _test_files() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")}


@pytest.mark.parametrize("page", ["promises.md", "guides/batch-operator.md", "guides/qa-analyst.md"])
def test_every_test_a_page_names_exists(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+)`", text))
    files = {f for f in re.findall(r"`(tests/[\w/.]+\.py)`", text)}
    assert not named - _test_names(), f"{page} names tests that do not exist"
    assert not files - _test_files(), f"{page} names test files that do not exist"


def test_the_promises_page_names_a_test_for_every_promise() -> None:
    text = (DOCS / "promises.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| promise")]
    rows = [row for row in rows if not set(row) <= set("|- ")]
    assert len(rows) >= 30
    for row in rows:
        assert re.search(r"`(test_\w+|tests/[\w/.]+\.py)`", row.rsplit("|", 2)[-2]), row


def _variables_read() -> set[str]:
    found: set[str] = set()
    for folder in ("src", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".sh"} and path.is_file():
                found |= set(re.findall(r"\b(PRELABEL_[A-Z_]+|LABEL_STUDIO_BIN)\b", path.read_text("utf-8")))
    return found


def test_every_environment_variable_is_documented() -> None:
    page = (DOCS / "reference" / "environment.md").read_text(encoding="utf-8")
    variables = _variables_read()
    assert {"PRELABEL_MODEL", "PRELABEL_CACHE_DIR"} <= variables
    assert not {v for v in variables if f"`{v}`" not in page}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        assert f"`{name}`" in page


def test_every_exit_code_is_documented() -> None:
    import importlib

    app = importlib.import_module("prelabel.cli.app")

    page = (DOCS / "reference" / "exit-codes.md").read_text(encoding="utf-8")
    codes = {0, app.EXIT_FAILURES, app.EXIT_BAD_INPUT, app.EXIT_ENDPOINT, app.EXIT_BUDGET}
    codes.add(app.EXIT_INTERRUPTED)
    assert {int(c) for c in re.findall(r"^\| (\d+) \|", page, flags=re.M)} == codes


def test_the_readme_is_short_and_its_links_work() -> None:
    readme = ROOT / "README.md"
    assert readme.stat().st_size <= 12 * 1024
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    assert not [link for link in local if not (ROOT / link).exists()]
