"""Documentation that runs: every module's docstring examples, and the marked examples of the README and of
every page of the documentation site (``docs/**/*.md``).

The marker convention, for ``README.md`` and every ``docs/**/*.md`` page:

- A fenced block runs when the line right before its opening fence is ``<!-- tested -->``, at the fence's own
  indentation (so a block inside an admonition or a tab can be marked too). The marker goes before a
  ```python or a ```bash block only; a marker before anything else fails here. Unmarked blocks are not run:
  show outputs, file contents and set-up commands in ```text, ```json or unmarked blocks.
- ```python blocks (this module): the marked blocks of one page share one namespace and run in file order,
  like a notebook's cells, with the working directory at the repository root (``tests/data/...`` and
  ``sop_specs/...`` paths work). ``TMP`` is a fresh temporary directory (write files there). No
  ``OPENAI_API_KEY`` is set: use ``prelabel.testing.FakeModel`` where a model answers.
- ```bash blocks (``tests/test_doc_commands.py``): the marked blocks of one page run command by command in
  file order (lines joined over ``\\`` continuations; comment lines dropped), in a temporary directory holding
  copies of ``sop_specs/`` and ``examples/`` (what a command writes, ``runs/...``, stays for the next ones).
  ``prelabel ...`` runs in-process, split as bash splits it; any other program, or a line with a pipe,
  redirection or ``$``, runs with bash. ``export NAME=VALUE`` sets a variable for the commands after it;
  ``cd`` is refused. Each command must exit 0, or the code its trailing comment names:
  ``prelabel validate broken.yaml  # exit 2``. The model is a loopback ``FakeServer``: ``OPENAI_API_KEY`` and
  ``OPENAI_BASE_URL`` point at it; the placeholder server ``http://localhost:8000/v1`` is replaced by its URL
  (and the key unset). ``--model local`` and ``--model local:/path/to/model.gguf`` commands run the embedded
  model on the first item only (marker ``local_model``; the placeholder GGUF is the bundled model's file).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import prelabel
from helpers import ROOT, doc_pages, marked_blocks, markers

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(prelabel.__path__, "prelabel.") if m.name != "prelabel.__main__"
)
PYTHON_PAGES = [page for page in doc_pages() if marked_blocks(page, "python")]


def test_every_module_is_collected() -> None:
    assert {"prelabel.labeling.runner", "prelabel.llm.local.model", "prelabel.comparison.metrics"} <= set(
        MODULES
    )


@pytest.mark.parametrize("name", ["prelabel", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_the_readme_and_the_site_are_read() -> None:
    pages = {page.relative_to(ROOT).as_posix() for page in doc_pages()}
    assert {"README.md", "docs/index.md", "docs/guides/notebooks.md", "docs/reference/formats.md"} <= pages
    assert sum(len(marked_blocks(page, "python")) for page in doc_pages()) >= 6


@pytest.mark.parametrize("page", doc_pages(), ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_marker_marks_a_python_or_bash_block(page: Path) -> None:
    """A marker before anything else (a typo in the fence, a ```sh block) would silently test nothing."""
    assert markers(page) == len(marked_blocks(page, "python")) + len(marked_blocks(page, "bash"))


def test_a_stray_marker_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- tested -->\n```python\nx = 1\n```\n\n!!! note\n    <!-- tested -->\n    ```bash\n    prelabel "
        "--help\n    ```\n\n<!-- tested -->\n```sh\nls\n```\n\nThe marker `<!-- tested -->` in prose is "
        "no marker.\n",
        encoding="utf-8",
    )
    assert marked_blocks(page, "python") == ["x = 1\n"]
    assert marked_blocks(page, "bash") == ["prelabel --help\n"]
    assert markers(page) == 3  # the ```sh one is a stray marker: the test above fails on such a page


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    name = page.relative_to(ROOT).as_posix()
    namespace: dict[str, object] = {"__name__": name.replace("/", ".").removesuffix(".md"), "TMP": tmp_path}
    for block in marked_blocks(page, "python"):
        exec(compile(block, name, "exec"), namespace)
