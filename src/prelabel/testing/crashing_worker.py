"""A stand-in for the embedded model's worker that dies of a real segmentation fault.

Run as ``python -m prelabel.testing.crashing_worker`` in place of ``prelabel.llm.local.worker`` (tests set
``prelabel.llm.local.process.WORKER_MODULE``). It speaks the worker protocol and answers like ``FakeModel``;
``PRELABEL_CRASH_AFTER=N`` (default 0) answers N requests, then the next one dereferences a null pointer, as
llama.cpp does on the CPUs it was not built for. ``PRELABEL_CRASH_AFTER=load`` dies while loading;
``PRELABEL_CRASH_AFTER=hang`` never answers (a hang in native code).
"""

from __future__ import annotations

import ctypes
import faulthandler
import json
import os
import sys
import time

from prelabel.llm.local._wire import read_frame, write_frame
from prelabel.llm.local.worker import protocol_streams
from prelabel.testing.fake import FakeModel


def segfault() -> None:
    """Die of SIGSEGV, for real: read address 0."""
    ctypes.string_at(0)


def main() -> int:
    """Serve like the worker, then crash."""
    faulthandler.enable(file=sys.stderr)
    requests, answers = protocol_streams()
    after = os.environ.get("PRELABEL_CRASH_AFTER", "0")
    if read_frame(requests) is None:
        return 0
    print("stand-in llama.cpp: loading model", file=sys.stderr, flush=True)
    if after == "load":
        segfault()
    if after == "hang":
        write_frame(answers, {"ready": True})
        read_frame(requests)
        time.sleep(3600)
    write_frame(answers, {"ready": True})
    fake, answered = FakeModel(), 0
    while (request := read_frame(requests)) is not None:
        if answered >= int(after):
            segfault()
        _, status, _, body = fake.respond(request["path"], {}, request["body"].encode("utf-8"))
        write_frame(answers, {"status": status, "json": json.loads(body)})
        answered += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
