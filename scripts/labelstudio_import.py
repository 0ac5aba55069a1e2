"""Import `prelabel export --format label-studio` files into a real Label Studio and check what arrived.

Opt-in (not part of the default test run or CI): Label Studio is a heavy install that wants its own
environment (it would disturb the project's numpy<2 pin):

    python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio requests    # measured with 1.23.2
    prelabel export RUN_DIR --format label-studio -o /tmp/export/tasks.json
    /tmp/ls/bin/python scripts/labelstudio_import.py /tmp/export/tasks.json [MORE/tasks.json ...]

or run the marked test: ``LABEL_STUDIO_BIN=/tmp/ls/bin/label-studio pytest -m labelstudio_server``.

It starts one ``label-studio`` bound to 127.0.0.1 (``--internal-host``) with a temporary data directory and
a user whose legacy API token is enabled at start (``--enable-legacy-api-token``: Label Studio 1.2x refuses
legacy tokens otherwise). For each tasks.json it creates a project from ``label_config.xml`` (beside it),
imports the tasks over the API, then reads every task back and compares it with the file: the task data, and
per prediction the model version, score and results (count, from_name/to_name/type and value), each result's
control also checked against the project's parsed config (the import endpoint does not validate). It prints
one JSON line of counts per file, stops the server and removes the data directory. Exit 0 when every task and
prediction arrived unchanged.

The ``label-studio`` command is ``$LABEL_STUDIO_BIN``, else the one beside this Python, else the one on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

USER, PASSWORD, TOKEN = "prelabel@example.com", "prelabel-import-1", "prelabel0token0for0local0import0"
RESULT_KEYS = ("from_name", "to_name", "type", "value")


def default_binary() -> str:
    """``$LABEL_STUDIO_BIN``, else ``label-studio`` beside the running Python, else the one on PATH."""
    if os.environ.get("LABEL_STUDIO_BIN"):
        return os.environ["LABEL_STUDIO_BIN"]
    beside = Path(sys.executable).parent / "label-studio"
    return str(beside) if beside.exists() else shutil.which("label-studio") or "label-studio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(server: subprocess.Popen[bytes], session: Any, url: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"label-studio exited with code {server.returncode} before answering")
        try:
            if session.get(f"{url}/health", timeout=5).ok:
                return
        except Exception:
            pass
        time.sleep(1)
    raise RuntimeError(f"Label Studio did not answer on {url} within {timeout:.0f}s")


def _check(response: Any) -> Any:
    if not response.ok:
        raise RuntimeError(
            f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}"
        )
    return response.json()


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


def _read_tasks(api: Any, url: str, pid: int) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _check(
            api.get(
                f"{url}/api/tasks/",
                params={"project": pid, "page": page, "page_size": 100, "fields": "all"},  # with predictions
                timeout=120,
            )
        )
        tasks += body["tasks"]
        if not body["tasks"] or len(tasks) >= int(body["total"]):
            return tasks
        page += 1


def _import_one(api: Any, url: str, tasks_path: Path) -> dict[str, Any]:
    sent = json.loads(tasks_path.read_text(encoding="utf-8"))
    config = (tasks_path.parent / "label_config.xml").read_text(encoding="utf-8")
    title = f"prelabel {tasks_path.parent.name}"[:50]
    project = _check(
        api.post(f"{url}/api/projects", json={"title": title, "label_config": config}, timeout=60)
    )
    pid = int(project["id"])
    _check(api.post(f"{url}/api/projects/{pid}/import", json=sent, timeout=600))
    info = _check(api.get(f"{url}/api/projects/{pid}", timeout=60))
    controls = info.get("parsed_label_config") or {}
    got = {str(task["data"].get("item_id")): task for task in _read_tasks(api, url, pid)}
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
    import requests

    label_studio = label_studio or default_binary()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="prelabel-ls-"))
    command = [label_studio, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--username", USER, "--password", PASSWORD]
    command += ["--user-token", TOKEN, "--enable-legacy-api-token"]
    env = os.environ | {"LABEL_STUDIO_BASE_DATA_DIR": str(data_dir)}
    server: subprocess.Popen[bytes] | None = None
    log_path = data_dir / "server.log"
    try:
        with log_path.open("wb") as log:
            server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        api = requests.Session()
        _wait(server, api, url)
        api.headers["Authorization"] = f"Token {TOKEN}"
        _check(api.get(f"{url}/api/current-user/whoami", timeout=30))
        return [_import_one(api, url, Path(path)) for path in paths]
    except Exception:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:] if log_path.exists() else ""
        print(f"--- label-studio log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


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
