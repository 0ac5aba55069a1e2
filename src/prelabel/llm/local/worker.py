"""The model worker: ``python -m prelabel.llm.local.worker`` loads one GGUF and answers requests on stdin.

Protocol (frames of ``_wire``): the first message is ``{"model_path": ..., "llama_kwargs": {...}}``; the
worker answers ``{"ready": true}`` or ``{"error": "..."}``. Each later message ``{"method", "path", "body"}``
gets ``{"status": int, "json": {...}}``. End of stdin ends the worker.

Native code cannot write into the protocol: file descriptor 1 is moved aside for the frames and pointed at
stderr, so anything llama.cpp prints lands in the caller's log file. ``faulthandler`` writes the Python stack
of a fatal signal (SIGSEGV, SIGILL, ...) to stderr, where the caller reads it for its error message.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from typing import IO, Any

from prelabel.errors import PrelabelError
from prelabel.llm.local._wire import read_frame, write_frame


def protocol_streams() -> tuple[IO[bytes], IO[bytes]]:
    """stdin for requests, and a private copy of stdout for answers; fd 1 then points at stderr."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, answers


def serve(requests: IO[bytes], answers: IO[bytes], open_model: Any) -> int:
    """Load the model named by the first message, then answer until end of input."""
    first = read_frame(requests)
    if first is None:
        return 0
    try:
        model = open_model(first.get("model_path"), **first.get("llama_kwargs", {}))
    except PrelabelError as exc:
        write_frame(answers, {"error": str(exc)})
        return 0
    write_frame(answers, {"ready": True})
    while (request := read_frame(requests)) is not None:
        status, body = model.answer(request["method"], request["path"], request["body"].encode("utf-8"))
        write_frame(answers, {"status": status, "json": body})
    return 0


def main() -> int:
    """Run the worker on this process's stdin and stdout."""
    faulthandler.enable(file=sys.stderr, all_threads=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the caller, which closes our stdin
    requests, answers = protocol_streams()
    from prelabel.llm.local.model import open_model

    return serve(requests, answers, open_model)


if __name__ == "__main__":
    sys.exit(main())
