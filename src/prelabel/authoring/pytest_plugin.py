"""A pytest plugin (entry point ``pytest11``): one test item per SOP case, so SOP repositories keep pytest.

``pytest --sop sop_specs/`` collects every ``*.yaml``/``*.yml`` SOP under that folder (or the file given;
repeatable); files named ``*.sop.yaml``/``*.sop.yml`` are collected wherever pytest looks. Each SOP file
yields one item per case, ``tests/T1`` or ``edge_cases/E1``; ``-k`` selects them as usual. A case fails
when ``prelabel test`` would not pass it (fail, unstable or error), with the same report lines.

The cases of one file are answered together the first time one of them runs, with the answer cache of
``prelabel test`` and the endpoint options ``--sop-model`` and ``--sop-base-url`` (else the environment:
``PRELABEL_MODEL``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``); ``--sop-repeat K`` samples each case K times
(1-100, as ``prelabel test --repeat``: any other K is a usage error before collection) and ``--sop-no-cache``
asks again. An SOP that does not validate is a collection error listing its
problems. Only pytest loads this module; it imports the rest of prelabel when a case runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from prelabel.authoring.suite import CaseResult, SOPTestReport

__all__ = ["SOPCaseFailure", "SOPCaseItem", "SOPFile", "pytest_addoption", "pytest_collect_file"]

_SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--sop``, ``--sop-model``, ``--sop-base-url``, ``--sop-repeat`` and ``--sop-no-cache``."""
    group = parser.getgroup("prelabel", "SOP test cases (prelabel)")
    group.addoption(
        "--sop",
        action="append",
        default=[],
        metavar="PATH",
        help="SOP YAML file or folder: collect its tests and edge cases (repeatable).",
    )
    group.addoption("--sop-model", default=None, help="Model answering SOP cases (default: PRELABEL_MODEL).")
    group.addoption(
        "--sop-base-url", default=None, help="OpenAI-compatible server (default: OPENAI_BASE_URL)."
    )
    group.addoption("--sop-repeat", type=int, default=1, help="Answers per SOP case, 1-100 (sampled).")
    group.addoption(
        "--sop-no-cache", action="store_true", help="Ask the model again, ignoring cached answers."
    )


def _sop_roots(config: pytest.Config) -> list[Path]:
    return [Path(p).resolve() for p in config.getoption("sop") or []]


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a bad ``--sop-repeat`` (a usage error, as ``prelabel test --repeat``'s exit 2), and make pytest
    look at the ``--sop`` paths even when its arguments (or ``testpaths``) miss them."""
    from prelabel.labeling.sample_count import sample_count_problem  # light: errors only

    problem = sample_count_problem(config.getoption("sop_repeat"))
    if problem is not None:
        raise pytest.UsageError(f"bad option: --sop-repeat: {problem}")
    roots = _sop_roots(config)
    if not roots:
        return
    args = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    for root in roots:
        if not any(root == a or a in root.parents for a in args):
            config.args.append(str(root))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SOPFile | None:
    """Collect ``*.sop.yaml`` anywhere, and every YAML file under a ``--sop`` path."""
    name = file_path.name
    if name.endswith((".sop.yaml", ".sop.yml")):
        return SOPFile.from_parent(parent, path=file_path)
    if file_path.suffix in _SUFFIXES:
        resolved = file_path.resolve()
        if any(resolved == root or root in resolved.parents for root in _sop_roots(parent.config)):
            return SOPFile.from_parent(parent, path=file_path)
    return None


class SOPCaseFailure(Exception):
    """A case that did not pass; carries its ``CaseResult``."""

    def __init__(self, result: CaseResult):
        super().__init__(result.message())
        self.result = result


class SOPFile(pytest.File):
    """One SOP YAML file: one ``SOPCaseItem`` per test and edge case."""

    def collect(self) -> Iterator[SOPCaseItem]:
        """Load the SOP (a validation error fails collection) and yield its cases."""
        from prelabel.authoring.cases import collect_cases
        from prelabel.errors import SOPError
        from prelabel.sop.spec import load_sop

        try:
            self.sop = load_sop(self.path)
        except SOPError as exc:
            raise self.CollectError("\n".join(str(p) for p in exc.problems)) from None
        self._report: SOPTestReport | None = None
        for case in collect_cases(self.sop):
            yield SOPCaseItem.from_parent(self, name=case.node, case=case)

    def report(self) -> SOPTestReport:
        """The answers of every selected case of this file, asked once (with the answer cache)."""
        if self._report is None:
            from prelabel.authoring.suite import run_sop_tests
            from prelabel.labeling.options import LabelOptions

            config = self.config
            selected = {i.name for i in self.session.items if isinstance(i, SOPCaseItem) and i.parent is self}
            options = LabelOptions(
                model=config.getoption("sop_model"), base_url=config.getoption("sop_base_url")
            )
            self._report = run_sop_tests(
                self.sop,
                options,
                repeat=config.getoption("sop_repeat"),
                use_cache=not config.getoption("sop_no_cache"),
                only=selected,
            )
        return self._report


class SOPCaseItem(pytest.Item):
    """One SOP case; it passes when ``prelabel test`` would pass it."""

    def __init__(self, *, case: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        """Answer the case (with its file's other cases) and fail unless it passed."""
        parent = self.parent
        assert isinstance(parent, SOPFile)
        result = next(r for r in parent.report() if r.case.node == self.case.node)
        if result.status != "pass":
            raise SOPCaseFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The ``prelabel test`` lines of a case that did not pass."""
        if isinstance(excinfo.value, SOPCaseFailure):
            return "\n".join(excinfo.value.result.lines())
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case is: the SOP file and the case's node."""
        return self.path, None, f"{self.path.name}::{self.case.node}"
