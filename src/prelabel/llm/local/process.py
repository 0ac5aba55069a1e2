"""The caller's side of the model worker: start it, send it requests, and turn its death into an error.

llama.cpp is native code compiled for one CPU; on another (AMX virtual machines, a wheel built elsewhere) it
can die of SIGSEGV or SIGILL. In a worker process that kills the worker, not the notebook kernel or batch job:
``WorkerProcess.request`` raises ``LocalModelCrashed`` (an ``EndpointError``: exit 3 from the CLI) with the
signal, the likely cause and the fix, and every label already written stays written. A crashed worker is not
restarted: a crash in native code repeats, and a run should stop rather than crash once per item.

    >>> crash_message("SIGSEGV", "answering", "")[:43]
    'the embedded model crashed (SIGSEGV) in lla'
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path
from typing import IO, Any

from prelabel.errors import EndpointError
from prelabel.llm.local._wire import read_frame, write_frame

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "WORKER_MODULE",
    "LocalModelCrashed",
    "WorkerProcess",
    "crash_message",
]

#: The module run as the worker (``python -m``); tests point it at a deliberately crashing stand-in.
WORKER_MODULE = "prelabel.llm.local.worker"
TIMEOUT_ENV = "PRELABEL_LOCAL_TIMEOUT"
"""Seconds the worker may take to load a model or answer one request before it is stopped (default 900)."""
DEFAULT_TIMEOUT = 900.0
_STDERR_TAIL = 4000

_FIX = (
    "fix: reinstall llama-cpp-python built portable (CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install "
    "--force-reinstall --no-deps --no-cache-dir llama-cpp-python), leave PRELABEL_LLAMA_EXTRA_BUFTS unset, "
    "or use an API model (--model/--base-url)"
)


class LocalModelCrashed(EndpointError):
    """The embedded model's worker process died (a native crash in llama.cpp, or it was killed)."""

    def __init__(self, message: str, *, signal_name: str | None, log: str):
        self.signal_name = signal_name
        self.log = log  # the tail of the worker's stderr (faulthandler's stack, llama.cpp's messages)
        super().__init__(message, code="local_model_crashed")


def crash_message(how: str, during: str, log: str) -> str:
    """One line: what failed, the likely cause, the fix (and the last line the worker wrote)."""
    cause = (
        "likely cause: llama.cpp code that this CPU cannot run (weight repacking such as AMX on virtual "
        "machines, ggml-org/llama.cpp#20824, or a llama-cpp-python wheel compiled for another CPU)"
    )
    last = next((line.strip() for line in reversed(log.splitlines()) if line.strip()), "")
    said = f"; the worker's last words: {last[:200]!r}" if last else ""
    return f"the embedded model crashed ({how}) in llama.cpp while {during}; {cause}; {_FIX}{said}"


def _env_timeout() -> float:
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        return float(value) if value and float(value) > 0 else DEFAULT_TIMEOUT
    except ValueError:
        raise EndpointError(f"{TIMEOUT_ENV}={value!r} is not a number of seconds") from None


def _signal_name(returncode: int | None) -> str | None:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


class WorkerProcess:
    """One worker process holding one loaded model; ``request`` is thread-safe (one request at a time)."""

    def __init__(
        self,
        model_path: str | None,
        llama_kwargs: dict[str, Any],
        *,
        module: str | None = None,
        timeout: float | None = None,
    ):
        self._lock = threading.Lock()
        self._crash: LocalModelCrashed | None = None
        self._timeout = timeout if timeout is not None else _env_timeout()
        self._timed_out = False
        self._log: IO[bytes] = tempfile.TemporaryFile()
        command = [sys.executable, "-X", "faulthandler", "-m", module or WORKER_MODULE]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, bufsize=0
        )
        _WORKERS.add(self)
        reply = self._exchange({"model_path": model_path, "llama_kwargs": llama_kwargs}, "loading the model")
        if "error" in reply:
            self.close()
            raise EndpointError(str(reply["error"]))

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self._process.pid

    def request(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Send one request; the status and JSON the model answered. Raises ``LocalModelCrashed``."""
        with self._lock:
            if self._crash is not None:
                raise self._crash
            message = {"method": method, "path": path, "body": body.decode("utf-8")}
            reply = self._exchange(message, "answering a request")
        return int(reply["status"]), dict(reply["json"])

    def _exchange(self, message: dict[str, Any], during: str) -> dict[str, Any]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        reply: dict[str, Any] | None = None
        watchdog = threading.Timer(self._timeout, self._hung)  # a hang in native code is a failure too
        watchdog.daemon = True
        watchdog.start()
        try:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                write_frame(stdin, message)
                reply = read_frame(stdout)
        finally:
            watchdog.cancel()
        if reply is None:
            raise self._died(during)
        return reply

    def _hung(self) -> None:
        self._timed_out = True
        with contextlib.suppress(OSError):
            self._process.kill()

    def _died(self, during: str) -> LocalModelCrashed:
        try:
            returncode = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # alive but mute: the pipe broke some other way
            self._process.kill()
            returncode = self._process.wait()
        name = _signal_name(returncode)
        how = name or f"exit status {returncode}"
        log = self._log_tail()
        message = crash_message(how, during, log)
        if self._timed_out:
            message = (
                f"the embedded model did not answer within {self._timeout:g} s while {during} and was "
                "stopped; likely cause: a hang in llama.cpp, or a model too slow for this machine; set "
                f"{TIMEOUT_ENV} (seconds) for slow models, or use an API model (--model/--base-url)"
            )
        self._crash = LocalModelCrashed(message, signal_name=name, log=log)
        self.close()
        return self._crash

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._log.seek(0, 2)
            size = self._log.tell()
            self._log.seek(max(size - _STDERR_TAIL, 0))
            return self._log.read().decode("utf-8", "replace")
        return ""

    def _close_pipes(self) -> None:
        for stream in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        """End the worker (closing its input ends it; kill it if it does not stop)."""
        _WORKERS.discard(self)
        self._close_pipes()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        with contextlib.suppress(OSError):
            self._log.close()


_WORKERS: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()
_SHARED: dict[tuple[str, str], WorkerProcess] = {}
_SHARED_LOCK = threading.Lock()


def shared_worker(model_path: Path, llama_kwargs: dict[str, Any]) -> WorkerProcess:
    """The worker for this model file and options, started once per process (and again after a crash)."""
    import json

    key = (str(model_path.resolve()), json.dumps(llama_kwargs, sort_keys=True, default=str))
    with _SHARED_LOCK:
        worker = _SHARED.get(key)
        if worker is None or worker._crash is not None or worker._process.poll() is not None:
            worker = _SHARED[key] = WorkerProcess(str(model_path), llama_kwargs)
        return worker


@atexit.register
def _close_workers() -> None:
    for worker in list(_WORKERS):
        worker.close()
