"""The documentation site (``mkdocs.yml``, ``docs/``, the generated pages of ``scripts/docs_hooks.py``).

It builds with ``mkdocs build --strict``, offline: no broken link or anchor, no page left out of the nav, no
docstring the API reference cannot render. In the built site every command and flag of ``prelabel`` has an
entry in the CLI reference, every public name one in the Python API reference, every bundled SOP a guideline
page, and no page or stylesheet loads anything from another host. (Its examples run in ``tests/test_docs.py``
and ``tests/test_doc_commands.py``.)
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import prelabel
from helpers import ROOT, load_script


def click_command() -> Any:
    """A fresh click tree of the ``prelabel`` program (each call builds a new one)."""
    return importlib.import_module("prelabel.cli.app").click_command()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as ``make docs`` builds it (strict: any warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "true"}  # the theme's banner about MkDocs 2.0 (not a warning)
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-5000:]
    return out


def test_the_site_builds_strict_and_offline(site: Path) -> None:
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert {"index.html", "reference/cli.html", "reference/api.html", "guidelines/index.html"} <= pages
    assert (site / "search" / "search_index.json").is_file()  # the search runs in the page, on this file


def test_make_docs_builds_into_an_ignored_folder() -> None:
    """``make docs`` writes ``site/`` (mkdocs.yml's ``site_dir``), which git ignores."""
    assert re.search(r"^site_dir: site$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), flags=re.M)
    ignored = subprocess.run(["git", "check-ignore", "-q", "site/index.html"], cwd=ROOT, check=False)
    assert ignored.returncode == 0


# ------------------------------------------------------------------------------------------ the CLI reference


def command_paths(command: Any, path: str = "prelabel") -> Iterator[tuple[str, Any]]:
    """Each command of the tree with its path (``prelabel batch status``), hidden ones left out."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            yield from command_paths(sub, f"{path} {name}")


def entries(command: Any) -> list[str]:
    """What a command's reference entry must show: each spelling of each option, each argument's name."""
    ctx = command.context_class(command)
    names = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "option":
            names += [*param.opts, *param.secondary_opts]
        else:
            names.append(param.metavar or param.name)  # as --help shows it
    return names


def missing_entries(root: Any, html: str) -> list[str]:
    """The commands without a section on the CLI page (anchor ``prelabel-batch-status``), and the options and
    arguments missing from their command's section (up to the next command's anchor)."""
    paths = dict(command_paths(root))
    starts = {path: html.find(f'id="{path.replace(" ", "-")}"') for path in paths}
    missing = [path for path, at in starts.items() if at < 0]
    bounds = sorted(at for at in starts.values() if at >= 0)
    for path, at in starts.items():
        if at >= 0:
            section = html[at : next((b for b in bounds if b > at), len(html))]
            missing += [
                f"{path} {name}" for name in entries(paths[path]) if f"<code>{name}</code>" not in section
            ]
    return sorted(missing)


def cli_page(site: Path) -> str:
    return (site / "reference" / "cli.html").read_text(encoding="utf-8")


def test_every_command_and_flag_has_a_reference_entry(site: Path) -> None:
    root = click_command()
    paths = dict(command_paths(root))
    assert {"prelabel batch status", "prelabel batch collect", "prelabel calibration score"} <= set(paths)
    assert "--max-attempts" in entries(paths["prelabel run"]) and "-o" in entries(paths["prelabel run"])
    assert missing_entries(root, cli_page(site)) == []


def test_a_command_or_flag_without_an_entry_fails_the_check(site: Path) -> None:
    root = click_command()
    run = root.commands["run"]
    extra = copy.copy(run.params[-1])
    extra.opts, extra.secondary_opts, extra.name = ["--not-documented", "-N"], [], "not_documented"
    run.params.append(extra)
    ghost = copy.copy(root.commands["demo"])
    ghost.name = "ghost"
    root.commands["batch"].commands["ghost"] = ghost
    assert missing_entries(root, cli_page(site)) == [
        "prelabel batch ghost",
        "prelabel run --not-documented",
        "prelabel run -N",
    ]


def test_the_cli_reference_shows_help_as_the_program_does(site: Path) -> None:
    """Help text without rich markup or its escapes, and the help a command computes when ``--help`` is shown
    (``prelabel export`` lists the registered formats)."""
    page = cli_page(site)
    text = re.sub(r"<[^>]+>", "", page)
    for leak in ("[bold", "[/", "\\[", "[dim", "[default"):
        assert leak not in text, leak
    export = page[page.index('id="prelabel-export"') : page.index('id="prelabel-route"')]
    for name, exporter in prelabel.exporters().items():
        assert f"{name} ({exporter.suffix})" in export
    run = page[page.index('id="prelabel-run"') :]
    assert "Default: <code>0.05</code>" in page and "<strong>Required.</strong>" in run


def test_rich_markup_in_help_is_shown_as_the_program_shows_it() -> None:
    """No command's help has markup today; one that does would show as ``--help`` shows it, not literally."""
    hooks = load_script("docs_hooks")
    rich, plain = SimpleNamespace(rich_markup_mode="rich"), SimpleNamespace(rich_markup_mode=None)
    assert hooks._plain("[bold]Label[/bold] items \\[x]", rich) == "Label items [x]"
    assert hooks._plain("[bold]Label[/bold]", plain) == "[bold]Label[/bold]"


def test_help_text_is_escaped_for_markdown_but_its_code_spans_kept() -> None:
    escape = load_script("docs_hooks").escape
    assert escape("RUN_DIR/*.jsonl ``RUN_DIR`` `a_b` <b> [x] K >= 2") == (
        "RUN\\_DIR/\\*.jsonl ``RUN_DIR`` `a_b` &lt;b\\> \\[x\\] K \\>= 2"
    )


# ----------------------------------------------------------------------------------- the Python API reference


def test_every_public_name_has_an_api_entry(site: Path) -> None:
    page = (site / "reference" / "api.html").read_text(encoding="utf-8")
    names = [f"prelabel.{name}" for name in prelabel.__all__ if name != "__version__"]
    names += [f"prelabel.testing.{name}" for name in importlib.import_module("prelabel.testing").__all__]
    names += ["prelabel.LabelOptions.concurrency", "prelabel.RetryPolicy.max_attempts"]  # the models' fields
    assert [name for name in names if f'id="{name}"' not in page] == []
    # doctest examples are interpreter sessions (scripts/griffe_doctests.py), not blockquotes three deep
    assert '<span class="gp">&gt;&gt;&gt; </span>' in page and "<blockquote>" not in page


def test_doctest_examples_become_code_blocks() -> None:
    fence = load_script("griffe_doctests").fence_doctests
    text = "Add:\n\n    >>> 1 + 1\n    2\nafter\n\n```python\n>>> kept\n```\n>>> x = 1\n>>> x\n1"
    assert fence(text) == (
        "Add:\n\n```pycon\n>>> 1 + 1\n2\n```\n\nafter\n\n```python\n>>> kept\n```\n\n"
        "```pycon\n>>> x = 1\n>>> x\n1\n```"
    )


# ---------------------------------------------------------------------------------------- example guidelines


@pytest.mark.parametrize("name", prelabel.bundled_sops())
def test_each_bundled_sop_has_its_guideline_page(site: Path, name: str) -> None:
    sop = prelabel.bundled_sop(name)
    page = (site / "guidelines" / f"{name}.html").read_text(encoding="utf-8")
    assert f"<title>{sop.title} - prelabel</title>" in page
    assert all(f'id="label-{label_id}"' in page for label_id in sop.leaf_ids)
    assert f'href="{name}.html"' in (site / "guidelines" / "index.html").read_text(encoding="utf-8")


# -------------------------------------------------------------------------------------------- no remote asset

REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host
LOADED_LINKS = {"stylesheet", "preload", "prefetch", "modulepreload", "preconnect", "dns-prefetch", "icon"}
CSS_URL = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")\s]+)""", re.I)


class _Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets and fonts, images and frames, and its inline CSS's."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed") and values.get("src"):
            self.urls.append(values["src"])
        if tag == "link" and LOADED_LINKS & set(values.get("rel", "").lower().split()):
            self.urls.append(values.get("href", ""))
        if tag == "object" and values.get("data"):
            self.urls.append(values["data"])
        self.urls += css_urls(values.get("style", ""))
        self._style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._style:
            self.urls += css_urls(data)

    def handle_endtag(self, tag: str) -> None:
        self._style = False


def css_urls(css: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(css)]


def remote_assets(files: dict[str, str]) -> list[str]:
    """``FILE: URL`` for each asset loaded from another host by an HTML page or a stylesheet of ``files``."""
    found = []
    for name, text in files.items():
        if name.endswith(".css"):
            urls = css_urls(text)
        else:
            parser = _Assets()
            parser.feed(text)
            urls = parser.urls
        found += [f"{name}: {url}" for url in urls if REMOTE.match(url.strip())]
    return found


def test_the_built_site_loads_nothing_from_another_host(site: Path) -> None:
    files = {
        p.relative_to(site).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(site.rglob("*"))
        if p.suffix in (".html", ".css")
    }
    assert any(name.endswith(".css") for name in files) and "index.html" in files
    assert remote_assets(files) == []


def test_a_remote_asset_is_found() -> None:
    page = (
        '<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//fonts.example/css">'
        '<link rel="canonical" href="https://example.org/"><a href="https://example.org/">a link</a>'
        '<script src="assets/local.js"></script><style>@import "https://fonts.example/f.css";</style>'
    )
    css = ".a { background: url(data:image/png;base64,AA) } .b { src: url('https://fonts.example/f.woff2') }"
    assert remote_assets({"page.html": page, "x.css": css}) == [
        "page.html: https://cdn.example/x.js",
        "page.html: //fonts.example/css",
        "page.html: https://fonts.example/f.css",
        "x.css: https://fonts.example/f.woff2",
    ]
