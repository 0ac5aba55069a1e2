"""Opt-in: a real Label Studio imports the export, and the round trip through it (``pytest -m
labelstudio_server``; deselected by default).

Needs the ``label-studio`` command in its own environment (``LABEL_STUDIO_BIN``, or on PATH) and
``requests``: see scripts/labelstudio_import.py and scripts/labelstudio_roundtrip.py. The import test: one
server imports every bundled SOP (label trees: ``taxonomy`` results) and a flat single- and multi-label SOP
(``choices`` results), each into its own project, and reads every task back. The round trip: see its test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from ls_recording import RECORDED, check_recording, load_script, votes

import prelabel


@pytest.mark.labelstudio_server
def test_real_label_studio_imports_every_task_and_prediction(make_run, flat_sop, tmp_path: Path) -> None:
    binary = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if not binary:
        pytest.skip("label-studio is not installed (set LABEL_STUDIO_BIN)")
    pytest.importorskip("requests")
    script = load_script("labelstudio_import")

    sops = {name: prelabel.bundled_sop_path(name) for name in prelabel.bundled_sops()}
    for task in ("single_label", "multi_label"):
        path = flat_sop(task)
        sops[f"flat_{task}"] = path.with_name(f"flat_{task}_sop.yaml")
        sops[f"flat_{task}"].write_text(path.read_text().replace("id: flat_demo", f"id: flat_{task}"))
    exports = {}
    for name, sop_path in sops.items():
        exports[name] = tmp_path / "export" / name / "tasks.json"
        prelabel.export(make_run(sop_path, n=25), "label-studio", exports[name])

    results = script.import_exports(list(exports.values()), binary)

    assert len(results) == len(sops)
    for name, counts in zip(exports, results, strict=True):
        assert counts["problems"] == [], name
        assert counts["tasks_sent"] == counts["tasks_imported"] == counts["tasks_read_back"] == 25, name
        assert counts["predictions_sent"] > 0, name  # errors and abstentions are tasks without a prediction
        assert (
            counts["predictions_imported"] == counts["predictions_matching"] == counts["predictions_sent"]
        ), name
        assert counts["results_read_back"] == counts["results_sent"] == 2 * counts["predictions_sent"], name
        assert script.complete(counts), name


@pytest.mark.labelstudio_server
def test_real_label_studio_round_trip(ls_inputs, make_run, tmp_path: Path) -> None:
    """Import, annotate as three users (agreeing, disagreeing, a skip, a re-annotation, a ground truth),
    export JSON, JSON_MIN and CSV two ways, adjudicate, export: every file holds what the round trip did.
    Prints the time taken and the server's peak resident memory."""
    binary = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if not binary:
        pytest.skip("label-studio is not installed (set LABEL_STUDIO_BIN)")
    pytest.importorskip("requests")
    script = load_script("labelstudio_roundtrip")
    out = tmp_path / "label_studio"
    paths = ls_inputs(out)

    def candidates(exported: Path) -> Path:
        """Between the halves: compare the fresh export with the run, export the candidates to adjudicate."""
        sop_path = prelabel.bundled_sop_path("customer_feedback_intent")
        run = make_run(sop_path, n=12, seed=0)  # the run ls_inputs exported, again
        snapshot = exported / "customer_feedback_intent" / "snapshot.json"
        prelabel.compare(run, snapshot, sop=prelabel.load_sop(sop_path)).save(tmp_path / "cmp")
        tasks = exported / "adjudication" / "tasks.json"
        prelabel.export_candidates(tmp_path / "cmp", "label-studio", tasks, top=4)
        return tasks

    summary = script.roundtrip(list(paths.values()), out, candidates, binary)

    print(f"round trip: {summary['seconds']}s, server peak RSS {summary['peak_rss_mb']} MB")
    assert set(summary["projects"]) == set(paths)
    for name, counts in summary["projects"].items():
        assert counts["tasks"] == 12 and counts["cancelled"] == counts["ground_truth"] == 1, name
        assert counts["annotations"] == counts["server_total_annotations"] == 34, name
        assert sorted(
            p.name for p in (out / name).iterdir() if p.name.startswith(("export", "snapshot"))
        ) == [
            "export.csv",
            "export.json",
            "export_min.json",
            "snapshot.csv",
            "snapshot.json",
            "snapshot_min.json",
        ], name
    assert summary["adjudication"]["decided"] == summary["adjudication"]["tasks"] - 1 >= 2
    # the decisions, back through prelabel into a copy of the bundled SOP, which validates
    sop_copy = tmp_path / "sop.yaml"
    shutil.copyfile(prelabel.bundled_sop_path("customer_feedback_intent"), sop_copy)
    applied = prelabel.apply_rulings(out / "adjudication" / "snapshot.json", sop_copy)
    before = prelabel.bundled_sop("customer_feedback_intent")
    assert applied.written and len(prelabel.load_sop(sop_copy).tests) > len(before.tests)
    check_recording(out)
    for name in ("annotations.csv", "adjudications.csv"):  # the plan is fixed: the recorded files are today's
        assert (out / name).read_text(encoding="utf-8") == (RECORDED / name).read_text(encoding="utf-8"), name
    assert len(votes(out, "customer_feedback_intent")) == 32
    # prelabel's readers of Label Studio exports, once merged: one call, as the offline test does with the
    # recorded files (ls_recording.check_reader holds a reader against every export of every project).
