"""Filter ``pip install -v`` output down to what a person waiting needs: each download or build, and the
llama.cpp compile step by step (``[12/140] llama-model.cpp``) with the elapsed time."""

from __future__ import annotations

import re
import sys
import time

STEP = re.compile(r"^\s*\[(\d+)/(\d+)\]\s")
KEEP = re.compile(r"^(Collecting|Building wheel|  Building wheel|Successfully|ERROR|error:|\s*Created wheel)")
start = time.monotonic()
for line in sys.stdin:
    elapsed = time.monotonic() - start
    stamp = f"{int(elapsed // 60):2d}:{int(elapsed % 60):02d}"
    step = STEP.match(line)
    if step:
        source = line.rstrip().rsplit(" ", 1)[-1].rsplit("/", 1)[-1]
        print(f"{stamp}  compiling llama.cpp [{step[1]}/{step[2]}] {source}", flush=True)
    elif KEEP.match(line):
        print(f"{stamp}  {line.strip()}", flush=True)
