"""Misbehaving HTTP servers on 127.0.0.1 for the calling layer's tests (importable like ``helpers``).

``RawServer(behaviour)`` accepts connections on a free port and hands each one, after its request has been
read, to ``behaviour(conn, stop)`` in a thread: ``hang`` never answers, ``trickle`` sends a 200 one byte at a
time. ``stop`` is set when the server closes, so no behaviour outlives its test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

Behaviour = Callable[[socket.socket, threading.Event], None]


def hang(conn: socket.socket, stop: threading.Event) -> None:
    """Accept the request and never answer."""
    stop.wait()


def trickle(every: float = 0.1, lasting: float = 4.0) -> Behaviour:
    """A 200 whose body comes one byte every ``every`` s (no idle timeout fires), for ``lasting`` s."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n")
        ends = time.monotonic() + lasting
        while not stop.is_set() and time.monotonic() < ends:
            conn.sendall(b" ")
            stop.wait(every)

    return behaviour


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


class RawServer:
    """A loopback server whose connections get ``behaviour``; ``requests`` counts the requests read, and
    ``times`` holds when each arrived (``time.monotonic``)."""

    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.times: list[float] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    @property
    def requests(self) -> int:
        """Requests read so far."""
        return len(self.times)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while not self.stop.is_set() and _read_request(conn):
                self.times.append(time.monotonic())
                self.behaviour(conn, self.stop)
                return
        except OSError:
            return

    def __enter__(self) -> RawServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)
