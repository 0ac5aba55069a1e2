"""Import `prelabel export --format label-studio` files into a real Label Studio and check what arrived.

Opt-in (not part of the default test run or CI): Label Studio is a heavy install that wants its own
environment (it would disturb the project's numpy<2 pin):

    python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio 'sentry-sdk<3' requests   # 1.23.2
    prelabel export RUN_DIR --format label-studio -o /tmp/export/tasks.json
    /tmp/ls/bin/python scripts/labelstudio_import.py /tmp/export/tasks.json [MORE/tasks.json ...]

or run the marked test: ``LABEL_STUDIO_BIN=/tmp/ls/bin/label-studio pytest -m labelstudio_server``.

It starts one ``label-studio`` (scripts/_labelstudio.py: bound to 127.0.0.1, a temporary data directory,
an admin with a legacy API token). For each tasks.json it creates a project from ``label_config.xml``
(beside it), imports the tasks over the API, then reads every task back and compares it with the file: the
task data, and per prediction the model version, score and results (count, from_name/to_name/type and
value), each result's control also checked against the project's parsed config (the import endpoint does
not validate). It prints one JSON line of counts per file, stops the server and removes the data directory.
Exit 0 when every task and prediction arrived unchanged.

The ``label-studio`` command is ``$LABEL_STUDIO_BIN``, else the one beside this Python, else the one on PATH.
scripts/labelstudio_roundtrip.py goes on from here: annotations, exports, adjudication.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# _labelstudio.py beside this file, also when the file is loaded by path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _labelstudio import Server, default_binary

__all__ = ["complete", "default_binary", "import_exports", "import_tasks"]

RESULT_KEYS = ("from_name", "to_name", "type", "value")


def _results(prediction: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: result.get(key) for key in RESULT_KEYS} for result in prediction.get("result", [])]


def _shape(prediction: dict[str, Any]) -> tuple[Any, ...]:
    score = prediction.get("score")
    return (
        prediction.get("model_version"),
        None if score is None else round(float(score), 6),
        json.dumps(_results(prediction), sort_keys=True),
    )


def _config_problems(result: dict[str, Any], controls: dict[str, Any]) -> list[str]:
    """Where a result does not fit the project's parsed label config (the import endpoint does not check)."""
    control = controls.get(result["from_name"])
    if control is None:
        return [f"from_name {result['from_name']!r} is no control of the project"]
    problems = []
    if str(control.get("type", "")).lower() != result["type"]:
        problems.append(f"{result['from_name']}: type {result['type']!r}, config has {control.get('type')!r}")
    if result["to_name"] not in control.get("to_name", []):
        problems.append(
            f"{result['from_name']}: to_name {result['to_name']!r} not in {control.get('to_name')}"
        )
    value = result.get("value") or {}
    values = list(value.get("choices", [])) + [v for path in value.get("taxonomy", []) for v in path]
    unknown = sorted(set(values) - set(control.get("labels", [])))
    if unknown:
        problems.append(f"{result['from_name']}: values {unknown} not in the config")
    return problems


def _import_one(ls: Server, tasks_path: Path) -> dict[str, Any]:
    sent = json.loads(tasks_path.read_text(encoding="utf-8"))
    config = (tasks_path.parent / "label_config.xml").read_text(encoding="utf-8")
    pid = ls.create_project(f"prelabel {tasks_path.parent.name}", config)
    ls.import_tasks(pid, sent)
    info = ls.project(pid)
    controls = info.get("parsed_label_config") or {}
    got = {str(task["data"].get("item_id")): task for task in ls.read_tasks(pid)}
    problems: list[str] = []
    matching = 0
    for task in sent:
        item_id = str(task["data"].get("item_id"))
        back = got.get(item_id)
        if back is None:
            problems.append(f"{item_id}: task not found in Label Studio")
            continue
        if back["data"] != task["data"]:
            problems.append(f"{item_id}: data differs")
        want = sorted(_shape(p) for p in task.get("predictions", []))
        have = sorted(_shape(p) for p in back.get("predictions", []))
        if want != have:
            problems.append(f"{item_id}: predictions differ: sent {want}, read back {have}")
        else:
            matching += len(have)
        for prediction in back.get("predictions", []):
            problems += [
                f"{item_id}: {p}" for r in _results(prediction) for p in _config_problems(r, controls)
            ]
    return {
        "file": str(tasks_path),
        "project": pid,
        "tasks_sent": len(sent),
        "predictions_sent": sum(len(t.get("predictions", [])) for t in sent),
        "results_sent": sum(len(_results(p)) for t in sent for p in t.get("predictions", [])),
        "tasks_imported": int(info.get("task_number", 0)),
        "predictions_imported": int(info.get("total_predictions_number", 0)),
        "tasks_read_back": len(got),
        "results_read_back": sum(len(_results(p)) for t in got.values() for p in t.get("predictions", [])),
        "predictions_matching": matching,
        "problem_count": len(problems),
        "problems": problems[:10],
    }


def complete(counts: dict[str, Any]) -> bool:
    """Every task and prediction arrived, and every prediction reads back as it was sent."""
    tasks = counts["tasks_sent"] == counts["tasks_imported"] == counts["tasks_read_back"]
    predictions = (
        counts["predictions_sent"] == counts["predictions_imported"] == counts["predictions_matching"]
    )
    return (
        tasks
        and predictions
        and counts["results_sent"] == counts["results_read_back"]
        and not counts["problem_count"]
    )


def import_exports(paths: list[Path], label_studio: str | None = None) -> list[dict[str, Any]]:
    """Start Label Studio once; import each tasks.json (and its ``label_config.xml``) into its own project."""
    with Server(label_studio) as ls:
        return [_import_one(ls, Path(path)) for path in paths]


def import_tasks(tasks_path: Path, label_studio: str | None = None) -> dict[str, Any]:
    """One tasks.json: see ``import_exports``."""
    return import_exports([tasks_path], label_studio)[0]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    ok = True
    for counts in import_exports([Path(arg) for arg in argv]):
        print(json.dumps(counts))
        ok = ok and complete(counts)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
