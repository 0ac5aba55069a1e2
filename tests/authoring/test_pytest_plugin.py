"""The pytest plugin collects and runs SOP cases in a temporary SOP repository (``pytester``).

pytest runs in a subprocess that loads the plugin from its ``pytest11`` entry point, as in an SOP repository
(in-process runs re-import instructor, whose mode registry does not survive that).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sop_cases import SUITE_SOP, by_keyword

from prelabel.testing import FakeModel, FakeServer

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.usefixtures("prelabel_cache")


@pytest.fixture
def sop_repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """An SOP repository: ``sop_specs/fruit.yaml``, a ``checks/extra.sop.yaml`` and an unrelated YAML."""
    (pytester.path / "sop_specs").mkdir()
    (pytester.path / "sop_specs" / "fruit.yaml").write_text(SUITE_SOP, encoding="utf-8")
    (pytester.path / "checks").mkdir()
    extra = SUITE_SOP.replace("id: fruit_demo", "id: extra_demo")
    (pytester.path / "checks" / "extra.sop.yaml").write_text(extra, encoding="utf-8")
    (pytester.path / "config.yaml").write_text("not: an SOP\n", encoding="utf-8")
    return pytester


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "prelabel"]
    assert plugin.value == "prelabel.authoring.pytest_plugin"


def test_sop_option_collects_one_item_per_case(sop_repo: pytest.Pytester) -> None:
    result = sop_repo.runpytest_subprocess(
        "--sop", "sop_specs", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(
        [
            "checks/extra.sop.yaml::tests/T1",
            "*",
            "sop_specs/fruit.yaml::tests/T1",
            "sop_specs/fruit.yaml::tests/T2",
            "sop_specs/fruit.yaml::tests/tests[[]2]",
            "sop_specs/fruit.yaml::edge_cases/E1",
            "8 tests collected*",
        ]
    )
    # without --sop only *.sop.yaml files are SOPs; other YAML is left alone
    result = sop_repo.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["checks/extra.sop.yaml::edge_cases/E1", "4 tests collected*"])


def test_cases_run_against_the_endpoint_with_caching(sop_repo: pytest.Pytester) -> None:
    with FakeServer(FakeModel(default=by_keyword({"ripe pear": "other"}))) as server:
        args = ("--sop", "sop_specs/fruit.yaml", "--sop-base-url", server.url, "-p", "no:cacheprovider")
        result = sop_repo.runpytest_subprocess(*args, "-k", "not extra")
        result.assert_outcomes(passed=3, failed=1)
        result.stdout.fnmatch_lines(["*FAIL     tests/T2*", "*expected:  fruit.pear", "*answer:    other*"])
        assert len(server.requests) == 4
        sop_repo.runpytest_subprocess(*args, "-k", "not extra").assert_outcomes(passed=3, failed=1)
        assert len(server.requests) == 4  # the second run answers from the cache
        sop_repo.runpytest_subprocess(*args, "-k", "T1 and not extra", "--sop-no-cache").assert_outcomes(
            passed=1
        )
        assert len(server.requests) == 5  # -k selects cases, and only those are asked


def test_repeat_and_model_options(sop_repo: pytest.Pytester) -> None:
    fake = FakeModel(default=by_keyword())
    with FakeServer(fake) as server:
        result = sop_repo.runpytest_subprocess(
            "checks/extra.sop.yaml", "--sop-base-url", server.url, "--sop-model", "my-model",
            "--sop-repeat", "2", "-p", "no:cacheprovider",
        )  # fmt: skip
    result.assert_outcomes(passed=4)
    assert len(fake.requests) == 8 and {r.body["model"] for r in fake.requests} == {"my-model"}


def test_an_invalid_sop_is_a_collection_error(sop_repo: pytest.Pytester) -> None:
    bad = SUITE_SOP.replace("expect: fruit.pear", "expect: fruit.plum")
    Path(sop_repo.path / "sop_specs" / "fruit.yaml").write_text(bad, encoding="utf-8")
    result = sop_repo.runpytest_subprocess("--sop", "sop_specs", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fruit.yaml:*:*: tests[[]1].expect: *fruit.plum*"])


@pytest.mark.parametrize("repeat", ["0", "101"])
def test_a_bad_repeat_is_a_usage_error_not_a_traceback_per_case(
    sop_repo: pytest.Pytester, repeat: str
) -> None:
    """Issue #21: ``--sop-repeat 0`` gave a traceback per case; ``prelabel test --repeat 0`` exits 2."""
    result = sop_repo.runpytest_subprocess(
        "--sop", "sop_specs", "--sop-repeat", repeat, "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: bad option: --sop-repeat: must be between 1 and 100, got {repeat}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
