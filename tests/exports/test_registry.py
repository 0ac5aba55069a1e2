"""Export formats are registered objects: prelabel's own under the entry-point group ``prelabel.exporters``, a
plugin package's the same way; a broken or clashing registration is one clear error naming it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from helpers import run_cli
from prelabel.exports import registry

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "tests" / "data" / "plugin_pkg"
SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")


def install(project: Path, site: Path) -> Path:
    """What ``pip install`` leaves of ``project`` in ``site``: its package and a ``*.dist-info`` with the
    entry points its ``pyproject.toml`` declares (``importlib.metadata`` reads nothing else)."""
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n", encoding="utf-8"
    )
    groups = meta.get("entry-points", {})
    text = "".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items()) + "\n"
        for group, entries in groups.items()
    )
    (dist / "entry_points.txt").write_text(text, encoding="utf-8")
    for code in (project / "src").iterdir():
        (shutil.copytree if code.is_dir() else shutil.copy2)(code, site / code.name)
    return site


def fake_package(root: Path, name: str, entries: dict[str, str], module: str = "") -> Path:
    """A package ``name`` registering ``entries`` as export formats (its code: ``module``, if any)."""
    project = root / name
    (project / "src").mkdir(parents=True)
    if module:
        (project / "src" / f"{name.replace('-', '_')}.py").write_text(module, encoding="utf-8")
    lines = "\n".join(f'"{k}" = "{v}"' for k, v in entries.items())
    group = '[project.entry-points."prelabel.exporters"]'
    text = f'[project]\nname = "{name}"\nversion = "1.0"\n\n{group}\n{lines}\n'
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    return project


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """``on_path(site)``: ``site`` goes first on ``sys.path`` and the registry forgets what it found."""

    def put(site: Path) -> None:
        monkeypatch.syspath_prepend(str(site))
        registry._forget()

    yield put
    registry._forget()


def test_prelabels_own_formats_are_the_entry_points_its_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entries = declared["entry-points"]["prelabel.exporters"]
    found = prelabel.exporters()
    assert list(found) == sorted(entries) == ["argilla", "csv", "jsonl", "label-studio", "parquet"]
    for name, exporter in found.items():
        module, attr = entries[name].split(":")
        assert type(exporter).__module__ == module and type(exporter).__name__ == attr
        assert exporter.name == name and exporter.description and exporter.suffix.startswith(".")


def test_the_export_help_lists_the_registered_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "export", "--help")
    assert code == 0
    for exporter in prelabel.exporters().values():
        assert f"{exporter.name} ({exporter.suffix})" in out


def test_a_plugin_package_adds_a_format_to_prelabel_export(make_run, tmp_path: Path) -> None:
    site = install(PLUGIN, tmp_path / "site")
    run_dir = make_run(SOP_PATH, n=4)
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "COLUMNS": "150"}

    def prelabel_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "prelabel", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    done = prelabel_cli("export", str(run_dir), "--format", "tsv", "-o", str(tmp_path / "out" / "labels.tsv"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported 4 items as tsv, labeled by model gpt-4o-mini")
    table = pd.read_csv(tmp_path / "out" / "labels.tsv", sep="\t", dtype=str, keep_default_na=False)
    rows = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert list(table["item_id"]) == [r["item_id"] for r in rows]
    assert list(table["label"]) == [r.get("label") or "" for r in rows]
    shown = prelabel_cli("export", "--help")
    assert "tsv (.tsv): item ids and labels, tab-separated" in shown.stdout, shown.stderr


def test_a_plugin_that_fails_to_load_is_one_error_naming_it(
    make_run, on_path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_path(install(fake_package(tmp_path, "prelabel-broken", {"broken": "prelabel_broken:Broken"}, "1/0\n"),
                    tmp_path / "site"))  # fmt: skip
    run_dir = make_run(SOP_PATH, n=3)
    code, _, err = run_cli(capsys, "export", str(run_dir), "--format", "broken", "-o", str(tmp_path / "x"))
    assert code == 2
    assert err == (
        "error: export format 'broken' (prelabel_broken:Broken, from prelabel-broken 1.0) failed to load: "
        "ZeroDivisionError: division by zero\n"
    )
    assert run_cli(capsys, "export", "--help")[2] == err  # the list of formats names it too
    # the other formats still work
    assert prelabel.export(run_dir, "csv", tmp_path / "x.csv").n_exported == 3
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            {"dumps": "json:dumps"},
            r"'dumps' \(json:dumps, from prelabel-odd 1.0\) is not a prelabel.Exporter",
        ),
        (
            {"tsv-two": "prelabel_odd:Named"},
            r"'tsv-two' \(prelabel_odd:Named, from prelabel-odd 1.0\) is named 'other' by its exporter",
        ),
        (
            {"csv": "prelabel_odd:Named"},
            r"export format 'csv' is registered twice: by 'csv' \(prelabel.exports.flat:Csv, from prelabel "
            r"[^)]+\) and by 'csv' \(prelabel_odd:Named, from prelabel-odd 1.0\); uninstall one of them",
        ),
    ],
)
def test_a_registration_that_is_not_an_exporter_of_its_name_is_refused(
    entries: dict[str, str], message: str, make_run, on_path, tmp_path: Path
) -> None:
    module = "import prelabel\n\nclass Named(prelabel.Exporter):\n    name = 'other'\n"
    on_path(install(fake_package(tmp_path, "prelabel-odd", entries, module), tmp_path / "site"))
    with pytest.raises(prelabel.InputError, match=message):
        prelabel.export(make_run(SOP_PATH, n=2), next(iter(entries)), tmp_path / "x")


def test_an_install_without_prelabels_own_registrations_says_to_reinstall(on_path, tmp_path: Path) -> None:
    stale = fake_package(tmp_path, "prelabel", {})  # metadata written before the group existed
    (stale / "pyproject.toml").write_text('[project]\nname = "prelabel"\nversion = "0.0.1"\n')
    on_path(install(stale, tmp_path / "site"))
    with pytest.raises(
        prelabel.InputError, match=r"prelabel's own export formats are not registered.*reinstall"
    ):
        prelabel.export(tmp_path, "csv", tmp_path / "x.csv")


def test_unknown_format_lists_the_registered_ones(make_run, tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError) as info:
        prelabel.export(make_run(SOP_PATH, n=2), "xlsx", tmp_path / "x.xlsx")
    assert (
        str(info.value)
        == "unknown export format 'xlsx' (choose from: argilla, csv, jsonl, label-studio, parquet)"
    )
