"""Start-up stays light: ``import prelabel`` and ``prelabel validate`` load no heavy dependency.

Timings live in ``benchmarks/startup.py``; this checks the cause (what gets imported), which does not vary
with the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: instructor is not here: ``instructor.Mode`` (an enum the endpoints need) loads in milliseconds.
HEAVY = ("openai", "pandas", "numpy", "sklearn", "statsmodels", "matplotlib", "llama_cpp")

PROBE = """
import json, sys
{code}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def heavy_imports(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import prelabel",
        "import prelabel; prelabel.LabelOptions(model='m'); prelabel.load_sop",
        "from prelabel.cli import app",
        "from prelabel.cli import main\ntry:\n    main(['validate', {sop!r}])\nexcept SystemExit:\n    pass",
        "from prelabel.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_start_up_imports_nothing_heavy(code: str) -> None:
    sop = str(ROOT / "sop_specs" / "customer_feedback_intent.yaml")
    assert heavy_imports(code.format(sop=sop)) == []


def test_the_probe_can_see_heavy_imports() -> None:
    assert {"numpy", "pandas"} <= set(heavy_imports("import prelabel; prelabel.compare"))
