"""Both install modes find the bundled SOPs, prompt templates, document templates and examples (the demo's
and the README Quickstart's items and human labels), which live once, at the repository's top, and the
export formats prelabel registers as entry points.

A wheel (what ``pip install .`` and CI install) carries them inside the package; an editable install
(``pip install -e .``, the README's command) puts ``src/`` on ``sys.path`` (hatchling's ``.pth``), and they
are read from the checkout. Each mode is checked in a fresh interpreter, outside the repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, prelabel
from prelabel._documents import document_templates
from prelabel._resources import data_dir
sop = prelabel.bundled_sop("customer_feedback_intent")
prompt = prelabel.render_prompt(sop, {"id": "p", "text": "late parcel"})
print(json.dumps({
    "package": prelabel.__file__, "sops": prelabel.bundled_sops(), "templates": prelabel.list_templates(),
    "sop_dir": str(data_dir("sop_specs")), "prompt_dir": str(data_dir("prompts")),
    "doc_dir": str(data_dir("doc_templates")), "documents": document_templates(),
    "example_dir": str(data_dir("examples")), "demo_items": len(prelabel.demo.demo_items()),
    "formats": list(prelabel.exporters()),
    "version": prelabel.__version__, "hash": prompt.prompt_hash,
}))
"""


def probe(python_path: Path, cwd: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(python_path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def expected_names(folder: str, suffix: str) -> list[str]:
    """The files of ``folder`` in the checkout (nested ones too, by path inside it) ending in ``suffix``."""
    root = ROOT / folder
    files = (p for p in root.rglob(f"*{suffix}") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(p.relative_to(root).as_posix().removesuffix(suffix) for p in files)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("prelabel-*.whl")
    return path


FOLDERS = (("sop_specs", ".yaml"), ("prompts", ".jinja"), ("doc_templates", ".jinja"), ("examples", ""))


def declared_formats() -> list[str]:
    """The export formats ``pyproject.toml`` registers (entry-point group ``prelabel.exporters``)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return sorted(project["entry-points"]["prelabel.exporters"])


def test_the_wheel_carries_sop_specs_prompts_and_examples_once(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder, suffix in FOLDERS:
        prefix = f"prelabel/{folder}/"
        inside = sorted(n.removeprefix(prefix).removesuffix(suffix) for n in names if n.startswith(prefix))
        assert inside == expected_names(folder, suffix)
    assert not any(n.startswith(tuple(f"{folder}/" for folder, _ in FOLDERS)) for n in names)  # not loose
    assert not any("/demo/data/" in n for n in names)  # the demo reads examples/: no second copy


def test_the_wheel_carries_every_module(wheel: Path) -> None:
    """Every module of the checkout is in the wheel (hatchling leaves out what .gitignore names: an ignore
    pattern such as ``runs/`` once hid the ``prelabel.runs`` subpackage)."""
    names = set(zipfile.ZipFile(wheel).namelist())
    source = ROOT / "src"
    modules = {p.relative_to(source).as_posix() for p in (source / "prelabel").rglob("*.py")}
    assert "prelabel/runs/run_dir.py" in modules and modules <= names, sorted(modules - names)


def test_a_wheel_install_finds_them(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    found = probe(site, cwd=tmp_path)
    assert str(found["package"]).startswith(str(site))
    assert found["sop_dir"] == str(site / "prelabel" / "sop_specs")
    assert found["prompt_dir"] == str(site / "prelabel" / "prompts")
    assert found["doc_dir"] == str(site / "prelabel" / "doc_templates")
    assert found["example_dir"] == str(site / "prelabel" / "examples") and found["demo_items"] == 32
    assert found["sops"] == expected_names("sop_specs", ".yaml")
    assert found["templates"] == expected_names("prompts", ".jinja")
    assert found["documents"] == expected_names("doc_templates", ".jinja")
    assert found["formats"] == declared_formats()  # the wheel's own metadata registers them


def test_an_editable_install_finds_them_in_the_checkout(tmp_path: Path) -> None:
    found = probe(ROOT / "src", cwd=tmp_path)  # what hatchling's editable .pth puts on sys.path
    assert str(found["package"]).startswith(str(ROOT / "src"))
    assert found["sop_dir"] == str(ROOT / "sop_specs")
    assert found["prompt_dir"] == str(ROOT / "prompts")
    assert found["doc_dir"] == str(ROOT / "doc_templates")
    assert found["example_dir"] == str(ROOT / "examples") and found["demo_items"] == 32
    assert found["sops"] == expected_names("sop_specs", ".yaml")
    assert found["templates"] == expected_names("prompts", ".jinja")
    assert found["documents"] == expected_names("doc_templates", ".jinja")
    assert found["formats"] == declared_formats()  # the install's metadata is current (else reinstall)


def test_both_modes_render_the_same_prompt(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert probe(site, cwd=tmp_path)["hash"] == probe(ROOT / "src", cwd=tmp_path)["hash"]


def test_a_wheel_install_registers_prelabels_backends(wheel: Path, tmp_path: Path) -> None:
    """Built-in backends are found through the wheel's own entry points, as a plugin's would be."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from prelabel.llm import registry; print(' '.join(registry.backends()))"
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    order = ["local", "anthropic", "gemini", "openai", "azure", "litellm", "ollama", "vllm", "llamacpp"]
    order.append("unknown")  # as detected: the model prefixes first, then the URL guesses
    assert done.stdout.split() == order


def test_one_version_string(wheel: Path) -> None:
    from prelabel._version import __version__

    assert f"prelabel-{__version__}-" in wheel.name


def setup_targets() -> list[str]:
    """What the README's two set-up commands install, in order (the demo's extras, then the tests')."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"""scripts/install\.sh -e ["'](\.\[[a-z,]+\])["']""", section)


def resolve(target: str, report: Path) -> dict[str, str]:
    """The versions pip would install for ``target`` on a fresh machine (``--dry-run --ignore-installed``)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--disable-pip-version-check", "--report", str(report), target],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    installed = json.loads(report.read_text())["install"]
    return {entry["metadata"]["name"].lower(): entry["metadata"]["version"] for entry in installed}


def test_the_second_set_up_command_changes_no_version_the_first_installed(tmp_path: Path) -> None:
    first, second = setup_targets()
    assert "local" in first and {"test", "local"} <= set(second[2:-1].split(","))
    with ThreadPoolExecutor(2) as pool:  # two resolutions of about a minute each, side by side
        demo, tests = pool.map(resolve, (first, second), (tmp_path / "first.json", tmp_path / "second.json"))
    changed = {name: (version, tests[name]) for name, version in demo.items() if tests.get(name) != version}
    assert not changed, f"the test extras move versions the first command installed: {changed}"
    assert int(demo["numpy"].split(".")[0]) >= 2  # nothing in either set holds numpy back
