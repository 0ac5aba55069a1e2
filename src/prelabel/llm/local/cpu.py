"""Does this CPU have the instructions the installed llama.cpp was compiled for?

llama.cpp says which instruction sets it was compiled with (``llama_print_system_info``: ``AVX2 = 1 |
...``); Linux lists the CPU's own in ``/proc/cpuinfo``. A build that needs one the CPU lacks dies of SIGILL on
its first answer (a wheel compiled with ``-march=native`` on a newer machine and reused here through pip's
cache, say); checked before a model loads, it is one clear error naming the missing instructions and the fix.

    >>> info = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | LLAMAFILE = 1 | "
    >>> missing_instructions(info, "flags\\t\\t: fpu pni avx avx2 fma f16c")
    ['AVX512']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prelabel.errors import EndpointError

__all__ = ["CPUINFO", "check_cpu", "missing_instructions"]

CPUINFO = Path("/proc/cpuinfo")

# llama.cpp's feature name -> the flag /proc/cpuinfo shows for it (x86-64; other names are not instructions)
_CPU_FLAG = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX_VNNI": "avx_vnni",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}

PORTABLE_BUILD = (
    "CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install --force-reinstall --no-deps --no-cache-dir llama-cpp-python"
)


def missing_instructions(system_info: str, cpuinfo: str) -> list[str]:
    """The instruction sets llama.cpp was compiled with that the CPU described by ``cpuinfo`` lacks."""
    flags_line = re.search(r"^flags\s*:(.*)$", cpuinfo, re.MULTILINE)
    if flags_line is None:  # not an x86 /proc/cpuinfo: nothing to compare
        return []
    flags = set(flags_line[1].split())
    compiled = re.findall(r"([A-Z0-9_]+) = 1", system_info)
    return [name for name in compiled if name in _CPU_FLAG and _CPU_FLAG[name] not in flags]


def check_cpu(llama_cpp: Any, cpuinfo: Path = CPUINFO) -> None:
    """Raise ``EndpointError`` when the installed llama.cpp needs instructions this CPU does not have."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: the worker process still turns a SIGILL into an error
        return
    info = llama_cpp.llama_print_system_info()
    info = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    missing = missing_instructions(info, text)
    if missing:
        raise EndpointError(
            f"the installed llama.cpp was compiled for CPUs with {', '.join(missing)}, which this CPU lacks "
            f"(it would crash with SIGILL); rebuild it for this machine: {PORTABLE_BUILD} "
            "(or -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF for CPUs older than AVX2)"
        )
