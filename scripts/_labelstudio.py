"""One home for talking to a real Label Studio from the opt-in scripts (labelstudio_import.py,
labelstudio_roundtrip.py): start and stop the server, sign up users, create projects, import, read, export.

Runs under Label Studio's own Python (it needs only ``requests``), never the project's venv. `Server` starts
one ``label-studio`` bound to 127.0.0.1 (``--internal-host``) on a free port with a temporary data directory
and an admin whose legacy API token is enabled at start (``--enable-legacy-api-token``: Label Studio 1.2x
refuses legacy tokens otherwise), without its version check and analytics (it then calls nothing but
itself); it samples the server's resident memory while it runs and removes everything on exit (printing the
tail of the server log when something failed).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ADMIN, ADMIN_PASSWORD, ADMIN_TOKEN = (
    "prelabel@example.com",
    "prelabel-import-1",
    "prelabel0token0for0local0import0",
)


def default_binary() -> str:
    """``$LABEL_STUDIO_BIN``, else ``label-studio`` beside the running Python, else the one on PATH."""
    if os.environ.get("LABEL_STUDIO_BIN"):
        return os.environ["LABEL_STUDIO_BIN"]
    beside = Path(sys.executable).parent / "label-studio"
    return str(beside) if beside.exists() else shutil.which("label-studio") or "label-studio"


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check(response: Any) -> Any:
    """The JSON body of a successful response; else RuntimeError naming the request and the answer."""
    if not response.ok:
        raise RuntimeError(
            f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}"
        )
    return response.json() if response.content else None


def _tree_rss_kb(root: int) -> int:
    """Resident memory (kB) of process ``root`` and all its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry)] = int(fields.get("PPid", "0").strip() or 0)
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(pid, 0) for pid in tree)


class Server:
    """``with Server() as ls:`` a running Label Studio at ``ls.url``; ``ls.api`` is the admin's session."""

    def __init__(self, binary: str | None = None, timeout: float = 900.0) -> None:
        self.binary = binary or default_binary()
        self.timeout = timeout
        self.url = ""
        self.api: Any = None
        self.peak_rss_kb = 0
        self.start_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._data_dir: Path | None = None
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> Server:
        started = time.monotonic()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._data_dir = Path(tempfile.mkdtemp(prefix="prelabel-ls-"))
        command = [self.binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
        command += ["--data-dir", str(self._data_dir), "--username", ADMIN, "--password", ADMIN_PASSWORD]
        command += ["--user-token", ADMIN_TOKEN, "--enable-legacy-api-token"]
        env = os.environ | {
            "LABEL_STUDIO_BASE_DATA_DIR": str(self._data_dir),
            "LATEST_VERSION_CHECK": "false",  # no call to pypi.org at start
            "COLLECT_ANALYTICS": "false",
        }
        try:
            with self.log_path.open("wb") as log:
                self._process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
            self._wait()
            self.api = self.session(ADMIN_TOKEN)
            check(self.api.get(f"{self.url}/api/current-user/whoami", timeout=30))
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None and self._data_dir is not None and self.log_path.exists():
            tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            print(f"--- label-studio log (tail) ---\n{tail}", file=sys.stderr)
        self._stop.set()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)
            self._process = None
        if self._sampler is not None:
            self._sampler.join(timeout=10)
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)

    @property
    def log_path(self) -> Path:
        """The server's stdout and stderr."""
        assert self._data_dir is not None
        return self._data_dir / "server.log"

    def _sample(self) -> None:
        while not self._stop.is_set():
            if self._process is not None and self._process.poll() is None:
                self.peak_rss_kb = max(self.peak_rss_kb, _tree_rss_kb(self._process.pid))
            self._stop.wait(0.5)

    def _wait(self) -> None:
        import requests

        probe = requests.Session()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"label-studio exited with code {self._process.returncode} before answering"
                )
            try:
                if probe.get(f"{self.url}/health", timeout=5).ok:
                    return
            except Exception:
                pass
            time.sleep(1)
        raise RuntimeError(f"Label Studio did not answer on {self.url} within {self.timeout:.0f}s")

    def session(self, token: str) -> Any:
        """A ``requests`` session authenticated with a legacy API ``token``."""
        import requests

        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        return api

    def version(self) -> str:
        """The server's Label Studio version (``/api/version``)."""
        body = check(self.api.get(f"{self.url}/api/version", timeout=30)) or {}
        release = body.get("release") or body.get("label-studio-os-package", {}).get("version")
        return str(release or "unknown")

    def signup(self, email: str, password: str) -> tuple[int, Any]:
        """Sign ``email`` up through the signup form, as a person does (joins the one organization); returns
        the user's id and a session authenticated with the user's own API token."""
        import requests

        browser = requests.Session()
        check_page = browser.get(f"{self.url}/user/signup/", timeout=60)
        if not check_page.ok:
            raise RuntimeError(f"GET /user/signup/: {check_page.status_code}")
        form = {
            "csrfmiddlewaretoken": browser.cookies.get("csrftoken", ""),
            "email": email,
            "password": password,
        }
        answer = browser.post(f"{self.url}/user/signup/", data=form, timeout=60, allow_redirects=False)
        if answer.status_code not in (301, 302):
            raise RuntimeError(f"signing up {email}: {answer.status_code} {answer.text[:300]}")
        token = check(browser.get(f"{self.url}/api/current-user/token", timeout=30))["token"]
        api = self.session(token)
        me = check(api.get(f"{self.url}/api/current-user/whoami", timeout=30))
        if me.get("email") != email:
            raise RuntimeError(f"signed up {email} but the token belongs to {me.get('email')}")
        return int(me["id"]), api

    def create_project(self, title: str, label_config: str) -> int:
        """A new project (as the admin) with ``label_config``; its id."""
        body = {"title": title[:50], "label_config": label_config}
        return int(check(self.api.post(f"{self.url}/api/projects", json=body, timeout=60))["id"])

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> None:
        """Import ``tasks`` (data and predictions) into ``project``."""
        check(self.api.post(f"{self.url}/api/projects/{project}/import", json=tasks, timeout=600))

    def project(self, project: int) -> dict[str, Any]:
        """The project as the API describes it (with ``parsed_label_config`` and counts)."""
        return dict(check(self.api.get(f"{self.url}/api/projects/{project}", timeout=60)))

    def read_tasks(self, project: int) -> list[dict[str, Any]]:
        """Every task of ``project`` with all its fields (predictions, annotations), page by page."""
        tasks: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"project": project, "page": page, "page_size": 100, "fields": "all"}
            body = check(self.api.get(f"{self.url}/api/tasks/", params=params, timeout=120))
            tasks += body["tasks"]
            if not body["tasks"] or len(tasks) >= int(body["total"]):
                return tasks
            page += 1

    def export(self, project: int, export_type: str) -> bytes:
        """``GET /api/projects/{id}/export?exportType=...`` with every task (``download_all_tasks``), as
        the bytes Label Studio sends."""
        params = {"exportType": export_type, "download_all_tasks": "true"}
        response = self.api.get(f"{self.url}/api/projects/{project}/export", params=params, timeout=600)
        if not response.ok:
            raise RuntimeError(f"export {export_type} of project {project}: {response.status_code}")
        return bytes(response.content)

    def snapshot(self, project: int, export_types: list[str], timeout: float = 300.0) -> dict[str, bytes]:
        """Export every task and every annotation (skipped and ground truth too) through the snapshot API
        with the annotators expanded (``completed_by`` holds id, email and names): ``POST
        /api/projects/{id}/exports/``, convert to each further type, download; the bytes per export type."""
        body = {
            "title": "prelabel round trip",
            "task_filter_options": {"only_with_annotations": False},
            "annotation_filter_options": {"usual": True, "ground_truth": True, "skipped": True},
            "serialization_options": {"annotations__completed_by": {"only_id": False}},
        }
        base = f"{self.url}/api/projects/{project}/exports"
        snapshot = int(check(self.api.post(f"{base}/", json=body, timeout=600))["id"])
        deadline = time.monotonic() + timeout
        while check(self.api.get(f"{base}/{snapshot}", timeout=60)).get("status") != "completed":
            if time.monotonic() > deadline:
                raise RuntimeError(f"export snapshot {snapshot} of project {project} did not complete")
            time.sleep(0.5)
        files = {}
        for export_type in export_types:
            if export_type != "JSON":
                check(
                    self.api.post(
                        f"{base}/{snapshot}/convert", json={"export_type": export_type}, timeout=600
                    )
                )
            while True:
                params = {"exportType": export_type}
                response = self.api.get(f"{base}/{snapshot}/download", params=params, timeout=600)
                if response.ok:
                    files[export_type] = bytes(response.content)
                    break
                if response.status_code != 404 or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"snapshot {snapshot} as {export_type}: {response.status_code} {response.text[:300]}"
                    )
                time.sleep(0.5)
        return files

    def user_ids(self) -> dict[int, str]:
        """The organization's users: id -> email."""
        body = check(self.api.get(f"{self.url}/api/users/", timeout=60))
        return {int(user["id"]): str(user["email"]) for user in body}


def dumps(value: Any) -> str:
    """JSON as the recorded files hold it: indented, non-ASCII kept, newline at the end."""
    return json.dumps(value, ensure_ascii=False, indent=1) + "\n"
