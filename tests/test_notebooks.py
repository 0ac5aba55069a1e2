"""The notebooks under ``notebooks/`` are committed without outputs and run top to bottom (nbclient).

The quickstart labels items with the embedded local model, so it runs offline (marker ``local_model``); the
SOP authoring notebook answers with a scripted ``FakeServer`` it starts itself. The commands of the notebooks
guide (``docs/guides/notebooks.md``) that run them from the shell (``jupyter execute``) name every notebook,
and run as written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers import readme_commands, shell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == ["quickstart.ipynb", "sop_authoring.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs"


def execute(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    """Run the notebook at ``path`` top to bottom in ``tmp_path/run``; return it (with outputs), the dir."""
    from nbclient import NotebookClient

    # a kernelspec for this interpreter, so a system-wide "python3" kernel without prelabel is never picked
    spec_dir = tmp_path / "jupyter" / "kernels" / "prelabel-test"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "prelabel test", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="prelabel-test", resources={"metadata": {"path": str(run_dir)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails
    return nb, run_dir


def text_of(nb: Any, cell_id: str) -> str:
    """Everything a code cell printed or displayed as text."""
    (cell,) = [c for c in nb.cells if c.get("id") == cell_id]
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


@pytest.mark.local_model
def test_quickstart_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb, run_dir = execute(NOTEBOOKS[0], tmp_path, monkeypatch)
    outputs = {cell.id: cell.outputs for cell in nb.cells if cell.cell_type == "code"}
    labeled = "".join(o.get("data", {}).get("text/plain", "") for o in outputs["cell-08"])
    assert labeled.count("'ok'") + labeled.count("'abstained'") == 4, labeled
    report = run_dir / "quickstart-report"
    for name in ("metrics.json", "disagreements.csv", "ambiguity_candidates.csv", "report.html"):
        assert (report / name).is_file()
    assert "drop: annotator ben in week3" in text_of(nb, "cell-27")  # monitoring a vendor
    assert "drop: annotator ana" not in text_of(nb, "cell-27")
    assert (run_dir / "quickstart-qa" / "trends" / "report.html").is_file()


def test_sop_authoring_notebook_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb, run_dir = execute(NOTEBOOKS[1], tmp_path, monkeypatch)
    assert "edge_cases/E1" in text_of(nb, "cell-05")
    assert text_of(nb, "cell-07").strip() == "(0, 11, 1)"  # the unchanged SOP's second run: no request
    assert "flip" in text_of(nb, "cell-13") and "payment.refund_request" in text_of(nb, "cell-15")
    for name in ("flips.csv", "summary.md", "prompt.diff"):
        assert (run_dir / "authoring-diff" / name).is_file()


def test_the_notebooks_guide_runs_the_notebooks_with_jupyter_execute(tmp_path: Path) -> None:
    """Each command of the notebooks guide runs one notebook; the SOP authoring one runs here as written,
    from a copy of the repository root (the quickstart one, the same command, needs the local model: run
    above through nbclient). ``jupyter`` is this interpreter's, as in an activated venv."""
    commands = readme_commands("Run the notebooks", "docs/guides/notebooks.md")
    assert [c.split(" #")[0].strip() for c in commands] == [
        f"jupyter execute notebooks/{p.name}" for p in NOTEBOOKS
    ]
    root = tmp_path / "repo"
    shutil.copytree(NOTEBOOKS[0].parent, root / "notebooks")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # an activated venv
    done = shell(commands[1], root, {**os.environ, "PATH": path})
    assert done.returncode == 0, done.stderr
    assert (root / "notebooks" / "authoring-diff" / "flips.csv").is_file()  # it ran, beside the notebook
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".ipynb"}
    ignored = subprocess.run(["git", "check-ignore", *written], cwd=ROOT, capture_output=True, text=True)
    assert set(ignored.stdout.split()) == written  # git status stays clean after running them in the checkout
