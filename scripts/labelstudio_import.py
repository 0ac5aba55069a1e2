"""Import a `prelabel export --format label-studio` into a real Label Studio and count what arrived.

Opt-in (not part of the default test run or CI): Label Studio is a heavy install. In a separate environment:

    python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio requests
    prelabel export RUN_DIR --format label-studio -o /tmp/export/tasks.json
    /tmp/ls/bin/python scripts/labelstudio_import.py /tmp/export/tasks.json

or run the marked test: ``LABEL_STUDIO_BIN=/tmp/ls/bin/label-studio pytest -m labelstudio_server``.

It starts ``label-studio`` on 127.0.0.1 with a temporary data directory and a user, logs in, turns on legacy
API tokens (Label Studio 1.2x accepts them only once enabled in its settings), creates a project from
``label_config.xml`` (beside tasks.json), imports the tasks over the API and prints the task and prediction
counts read back, as JSON. Exit 0 when every task and prediction arrived.
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(session: Any, url: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if session.get(f"{url}/health", timeout=5).ok:
                return
        except Exception:
            pass
        time.sleep(2)
    raise RuntimeError(f"Label Studio did not answer on {url} within {timeout:.0f}s")


def import_tasks(tasks_path: Path, label_studio: str = "label-studio") -> dict[str, int]:
    """Start Label Studio, import ``tasks_path`` with its ``label_config.xml``; return the counts."""
    import requests

    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    config = (tasks_path.parent / "label_config.xml").read_text(encoding="utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="prelabel-ls-"))
    env = os.environ | {
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": USER,
        "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    command = [label_studio, "start", "--host", "127.0.0.1", "--port", str(port), "--no-browser"]
    command += [
        "--data-dir",
        str(data_dir),
        "--username",
        USER,
        "--password",
        PASSWORD,
        "--user-token",
        TOKEN,
    ]
    log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        session = requests.Session()
        _wait(session, url)
        session.get(f"{url}/user/login/", timeout=30)
        csrf = session.cookies.get("csrftoken", "")
        login = {"email": USER, "password": PASSWORD, "csrfmiddlewaretoken": csrf}
        session.post(f"{url}/user/login/", data=login, headers={"Referer": f"{url}/user/login/"}, timeout=30)
        headers = {"X-CSRFToken": session.cookies.get("csrftoken", csrf), "Referer": url}
        settings = {"api_tokens_enabled": True, "legacy_api_tokens_enabled": True}
        session.post(f"{url}/api/jwt/settings", json=settings, headers=headers, timeout=30)  # 1.2x only
        api = requests.Session()
        api.headers["Authorization"] = f"Token {TOKEN}"
        project = api.post(
            f"{url}/api/projects", json={"title": "prelabel import check", "label_config": config}, timeout=60
        )
        project.raise_for_status()
        pid = project.json()["id"]
        api.post(f"{url}/api/projects/{pid}/import", json=tasks, timeout=300).raise_for_status()
        info = api.get(f"{url}/api/projects/{pid}", timeout=60).json()
        return {
            "tasks_sent": len(tasks),
            "predictions_sent": sum(len(t.get("predictions", [])) for t in tasks),
            "tasks_imported": int(info.get("task_number", 0)),
            "predictions_imported": int(info.get("total_predictions_number", 0)),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    counts = import_tasks(Path(argv[0]), os.environ.get("LABEL_STUDIO_BIN", "label-studio"))
    print(json.dumps(counts))
    complete = counts["tasks_imported"] == counts["tasks_sent"]
    return 0 if complete and counts["predictions_imported"] == counts["predictions_sent"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
