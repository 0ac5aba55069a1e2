"""Write the bytecode of what prelabel imports, after `scripts/install.sh` installed with `pip --no-compile`.

pip compiles every module it installs; for prelabel's dependencies that took 65 of 104 s on 2 cores, mostly
for modules that are never imported (the Label Studio SDK's generated client, faker's locales, nltk, black).
Importing prelabel's modules and the libraries they load lazily writes the bytecode of exactly what runs
(even where ``PYTHONDONTWRITEBYTECODE`` is set for the programs that run later: it is unset here). A module
that is not installed (an extra not chosen) is skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import warnings

#: Libraries prelabel imports inside functions (so importing prelabel's modules does not load them).
LAZY = (
    "pandas",
    "numpy",
    "scipy.stats",
    "sklearn.metrics",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "krippendorff",
    "openai",
    "instructor",
    "llama_cpp",
    "llama_cpp.llama_chat_format",
    "pyarrow.parquet",
    "label_studio_sdk.label_interface",
)


def main() -> int:
    sys.dont_write_bytecode = False
    start = time.perf_counter()
    import prelabel

    found = pkgutil.walk_packages(prelabel.__path__, "prelabel.", onerror=lambda name: None)
    names = [m.name for m in found if not m.name.endswith("__main__")]  # __main__ would run the CLI
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in (*names, *LAZY):
            try:
                importlib.import_module(name)
                done += 1
            except Exception:  # an extra not installed, a platform module: nothing to compile
                continue
    took = time.perf_counter() - start
    print(f"compiled what prelabel imports ({done} modules and their imports) in {took:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
