"""The notebooks under ``notebooks/`` are committed without outputs and run top to bottom (nbclient).

The quickstart labels items with the embedded local model, so it runs offline (marker ``local_model``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == ["quickstart.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs"


@pytest.mark.local_model
def test_quickstart_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="prelabel-test", resources={"metadata": {"path": str(run_dir)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails

    outputs = {cell.id: cell.outputs for cell in nb.cells if cell.cell_type == "code"}
    labeled = "".join(o.get("data", {}).get("text/plain", "") for o in outputs["cell-08"])
    assert labeled.count("'ok'") + labeled.count("'abstained'") == 4, labeled
    report = run_dir / "quickstart-report"
    for name in ("metrics.json", "disagreements.csv", "ambiguity_candidates.csv", "report.html"):
        assert (report / name).is_file()
