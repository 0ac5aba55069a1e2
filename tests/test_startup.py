"""Start-up stays light: ``import prelabel`` and ``prelabel validate`` load no heavy dependency, and the
``prelabel`` program collects no garbage while it starts up.

Timings live in ``benchmarks/startup.py``; this checks the causes (what gets imported, when the cyclic garbage
collector runs), which do not vary with the machine.
"""

from __future__ import annotations

import gc
import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli, write_jsonl
from prelabel.testing import FakeServer

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


# ``prelabel`` as a program (``main()`` with no arguments, as the console script calls it), recording when
# the collector starts a collection and what the process holds when it exits
PROGRAM = """
import atexit, gc, json, sys, time
starts = []
def collecting(phase, info):
    if phase == "start":
        starts.append((time.monotonic(), info["generation"]))
gc.callbacks.append(collecting)
report = lambda: print(json.dumps({{
    "collections": starts, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
    "heavy": sorted(m for m in {heavy!r} if m in sys.modules),
}}))
atexit.register(report)
sys.argv = ["prelabel", *json.loads(sys.argv[1])]
from prelabel.cli import main
main()
"""


def program(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(heavy=HEAVY_FOR_RUN), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


#: What a run never needs before its first request (openai and instructor it does need).
HEAVY_FOR_RUN = (
    "pandas",
    "numpy",
    "sklearn",
    "statsmodels",
    "matplotlib",
    "bpe_openai",
    "tiktoken",
    "llama_cpp",
)


def test_the_program_collects_no_garbage_before_its_first_request(tmp_path: Path) -> None:
    """openai's and instructor's modules load with the collector held (no scans of the start-up's 300,000
    objects); what start-up built is frozen, and collection resumes once the first request is ready."""
    sop = str(ROOT / "sop_specs" / "customer_feedback_intent.yaml")
    items = write_jsonl(
        tmp_path / "items.jsonl", [{"id": str(i), "text": f"late parcel {i}"} for i in range(3)]
    )
    with FakeServer() as server:
        seen = program("run", sop, str(items), "-o", str(tmp_path / "run"), "--base-url", server.url)
        first_request = min(request.time for request in server.requests)
    before = [generation for when, generation in seen["collections"] if when < first_request]
    # the interpreter's own start, and young objects once the request is ready; without the hold: hundreds,
    # dozens of them over older generations, several over everything
    assert set(before) <= {0} and len(before) < 30, before
    assert seen["enabled"] and seen["frozen"] > 50_000
    assert seen["heavy"] == []


@pytest.mark.parametrize("args", [("validate",), ("run", "--dry-run")])
def test_commands_that_send_nothing_at_once_resume_collection_as_they_begin(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    sop = str(ROOT / "sop_specs" / "customer_feedback_intent.yaml")
    items = write_jsonl(tmp_path / "items.jsonl", [{"id": "1", "text": "late parcel"}])
    extra = [sop] if args == ("validate",) else [sop, str(items), "-o", str(tmp_path / "run")]
    assert program(args[0], *extra, *args[1:])["enabled"]


def test_the_cli_called_in_process_leaves_the_collector_alone(capsys: pytest.CaptureFixture[str]) -> None:
    """Only the program itself holds and freezes (a test run or a notebook would keep frozen objects)."""
    frozen = gc.get_freeze_count()
    code, _, _ = run_cli(capsys, "validate", str(ROOT / "sop_specs" / "customer_feedback_intent.yaml"))
    assert code == 0 and gc.isenabled() and gc.get_freeze_count() == frozen


COLLECTIONS = """
import gc, prelabel
count = lambda: [generation["collections"] for generation in gc.get_stats()]
{setup}
before = count()
{code}
print(*(after - then for after, then in zip(count(), before)))
"""


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("", "prelabel.run"),  # pydantic, jinja2, instructor: a public name's first use
        ("", "prelabel.compare"),  # pandas, scikit-learn, statsmodels
        (  # the client's first build, instructor's handlers and the answer model (openai loaded already)
            "from prelabel.testing import FakeModel\n"
            "labeler = prelabel.Labeler(prelabel.bundled_sop('customer_feedback_intent'), "
            "client=FakeModel().async_client())",
            "labeler.caller._first_use(labeler.answer_model)",
        ),
    ],
)
def test_one_time_loading_runs_with_the_collector_paused(setup: str, code: str) -> None:
    """In any process (a notebook too): nothing is frozen, collection waits for the loading to end (then a
    collection or two of the young objects; without the pause: 86 to 348, and 8 to 31 of older objects)."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECTIONS.format(setup=setup, code=code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    young, older, oldest = map(int, done.stdout.split())
    assert young <= 5 and older == oldest == 0


def test_the_start_up_benchmark_runs_and_compares_the_same_request_bodies() -> None:
    """``benchmarks/startup.py`` on a tiny items file (so it cannot rot): both send the same request."""
    script = ROOT / "benchmarks" / "startup.py"
    first_requests = runpy.run_path(str(script), run_name="benchmark_startup")["first_requests"]
    firsts = first_requests(runs=1, items=20, warm_up=False)
    (raw,), (ours,) = firsts["raw AsyncOpenAI script"], firsts["prelabel run"]
    assert raw["request"] == ours["request"] == "POST /v1/chat/completions HTTP/1.1"
    assert raw["body"] == ours["body"] and raw["body"]["tools"]
    assert raw["cpu_s"] > 0 and ours["cpu_s"] > 0
