"""Opt-in: a real Label Studio imports the export (``pytest -m labelstudio_server``; deselected by default).

Needs the ``label-studio`` command (``LABEL_STUDIO_BIN``, or on PATH): see scripts/labelstudio_import.py.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

import prelabel

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.labelstudio_server
def test_real_label_studio_imports_every_task_and_prediction(make_run, tmp_path: Path) -> None:
    binary = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if not binary:
        pytest.skip("label-studio is not installed (set LABEL_STUDIO_BIN)")
    spec = importlib.util.spec_from_file_location(
        "labelstudio_import", ROOT / "scripts" / "labelstudio_import.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    run_dir = make_run(prelabel.bundled_sop_path("customer_feedback_intent"), n=25)
    out = tmp_path / "export" / "tasks.json"
    prelabel.export(run_dir, "label-studio", out)
    counts = script.import_tasks(out, binary)
    assert counts["tasks_imported"] == counts["tasks_sent"] == 25
    assert counts["predictions_imported"] == counts["predictions_sent"] > 0
