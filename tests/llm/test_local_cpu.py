"""The CPU check before llama.cpp loads: instructions the build needs and this CPU lacks are one error."""

from __future__ import annotations

from pathlib import Path

import pytest

from prelabel.errors import EndpointError
from prelabel.llm.local.cpu import check_cpu, missing_instructions

PORTABLE = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
)
NATIVE_SPR = PORTABLE + " AVX512 = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | OPENMP = 1 | "
EPYC_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 pni ssse3 fma sse4_1 avx f16c avx2 bmi2\n"
OLD_XEON_FLAGS = "flags\t\t: fpu sse2 pni ssse3 sse4_1 sse4_2 avx\n"


class FakeLlamaCpp:
    def __init__(self, info: str):
        self.info = info

    def llama_print_system_info(self) -> bytes:
        return self.info.encode()


def test_a_portable_build_runs_on_an_avx2_cpu() -> None:
    assert missing_instructions(PORTABLE, EPYC_FLAGS) == []


def test_a_native_sapphire_rapids_build_on_an_epyc_names_what_is_missing() -> None:
    assert missing_instructions(NATIVE_SPR, EPYC_FLAGS) == [
        "AVX512",
        "AVX512_VNNI",
        "AVX512_BF16",
        "AMX_INT8",
    ]


def test_a_portable_build_on_a_cpu_without_avx2_is_refused_with_the_fix(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(OLD_XEON_FLAGS)
    with pytest.raises(EndpointError, match=r"compiled for CPUs with AVX2, F16C, FMA, BMI2.*GGML_AVX2=OFF"):
        check_cpu(FakeLlamaCpp(PORTABLE), cpuinfo)


def test_no_cpuinfo_or_another_architecture_checks_nothing(tmp_path: Path) -> None:
    check_cpu(FakeLlamaCpp(NATIVE_SPR), tmp_path / "missing")
    arm = tmp_path / "cpuinfo"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n")
    check_cpu(FakeLlamaCpp(NATIVE_SPR), arm)


def test_the_installed_build_runs_on_this_machine() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="needs the local extra")
    check_cpu(llama_cpp)
