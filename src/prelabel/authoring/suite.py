"""``prelabel test``: run an SOP's tests and edge cases through the model, like a test runner.

Each case is answered ``repeat`` times (cached answers first, see ``answer_cache``) and gets one status:
``error`` when any answer is an error record (a case is never passed on a failed call), ``pass`` when every
answer gives the expected labels, ``unstable`` when the answers differ among themselves (a pass rate below
100%), ``fail`` otherwise (the model consistently answers something else). ``repeat > 1`` samples at
temperature ``DEFAULT_SAMPLE_TEMPERATURE`` unless the options set a temperature above 0.

An unusable endpoint (auth, quota, unknown model, unreachable) does not raise here: every case unanswered
becomes an ``error`` and ``SOPTestReport.endpoint_error`` says why, so that the JUnit file still lists every
case; ``exit_code`` is then 3 (``prelabel test`` raises ``EndpointError`` after writing its outputs).

The JUnit file (``junit=``) is checked before any model call and written in every case that runs: when
``-k`` matches no case it holds an empty suite (0 tests) and ``InputError`` says so (exit 2: a typo must not
pass a CI gate, and "nothing ran" stays distinct from "all passed" and from "some failed", as pytest's exit
5 is). Text XML 1.0 forbids (a NUL or ESC in a rationale) is written escaped (``prelabel._xml``).

    >>> import prelabel
    >>> from prelabel.testing import FakeModel, Reply
    >>> sop = prelabel.bundled_sop("customer_feedback_intent")
    >>> fake = FakeModel(default=Reply.answer("product.damaged"))
    >>> report = run_sop_tests(sop, client=fake.async_client(), pattern="T2", cache=False)
    >>> [(c.case.name, c.status) for c in report], report.exit_code
    ([('T2', 'pass')], 0)
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prelabel._aio import sync_twin
from prelabel._jsonio import check_output, write_text, writing
from prelabel._xml import xml_safe
from prelabel.authoring.answer_cache import AnswerCache, Answerer, open_cache
from prelabel.authoring.cases import SOPCase, collect_cases, labels_text
from prelabel.errors import EndpointError, InputError
from prelabel.labeling.options import DEFAULT_SAMPLE_TEMPERATURE, LabelOptions, sampling_options
from prelabel.labeling.result import ErrorInfo, LabelResult
from prelabel.labeling.sample_count import check_sample_count
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, is_smoke_model, model_label
from prelabel.sop.spec import SOP, load_sop

__all__ = [
    "DEFAULT_SAMPLE_TEMPERATURE",
    "ERROR_PREFIX",
    "CaseResult",
    "CaseStatus",
    "SOPTestReport",
    "answer_text",
    "arun_sop_tests",
    "case_status",
    "run_sop_tests",
    "sampling_options",
]

CaseStatus = Literal["pass", "fail", "unstable", "error"]
_MARK = {"pass": "PASS", "fail": "FAIL", "unstable": "UNSTABLE", "error": "ERROR"}
_COUNTED = {"pass": "passed", "fail": "failed", "unstable": "unstable", "error": "errors"}
#: How an error record answers in the answer text: ``error: TYPE``.
ERROR_PREFIX = "error: "


def answer_text(result: LabelResult) -> str:
    """What a result answered, as sorted ``;``-joined labels (``error: TYPE`` for an error record)."""
    if result.error is not None or not result.ok:
        return f"{ERROR_PREFIX}{result.error.type if result.error else 'error'}"
    return labels_text(result.labels if result.labels is not None else [result.label or ""])


def case_status(case: SOPCase, answers: list[LabelResult]) -> CaseStatus:
    """``error`` if any answer failed, ``pass`` if all give the expected labels, ``unstable`` if they differ
    among themselves, else ``fail``."""
    if not answers or any(not a.ok for a in answers):
        return "error"
    given = [answer_text(a) for a in answers]
    if all(g == labels_text(case.expected) for g in given):
        return "pass"
    return "unstable" if len(set(given)) > 1 else "fail"


@dataclass(frozen=True)
class CaseResult:
    """One case, its status and its answers (``repeat`` of them)."""

    case: SOPCase
    status: CaseStatus
    answers: list[LabelResult]

    @property
    def passed(self) -> int:
        """How many answers gave the expected labels."""
        return sum(a.ok and answer_text(a) == labels_text(self.case.expected) for a in self.answers)

    @property
    def pass_rate(self) -> float:
        """The share of answers that gave the expected labels."""
        return self.passed / len(self.answers) if self.answers else 0.0

    @property
    def seconds(self) -> float:
        """Seconds its answers took (cached answers: when they were first asked)."""
        return round(sum(a.latency_s for a in self.answers), 4)

    def message(self) -> str:
        """One line: why the case did not pass (empty for a pass)."""
        expected = labels_text(self.case.expected)
        if self.status == "error":
            error = next((a.error for a in self.answers if a.error is not None), None)
            return f"{error.type}: {error.message}" if error else "no answer"
        counts = Counter(answer_text(a) for a in self.answers)
        given = ", ".join(f"{text} ×{n}" for text, n in counts.most_common())
        if self.status == "unstable":
            return f"{self.passed}/{len(self.answers)} answers give {expected}: {given}"
        if self.status == "fail":
            return f"expected {expected}, got {given}"
        return ""

    def lines(self) -> list[str]:
        """The test-runner lines of this case: a status line, then details for anything but a pass."""
        rate = f" ({self.passed}/{len(self.answers)})" if len(self.answers) > 1 else ""
        head = f"{_MARK[self.status]:<9}{self.case.node}{rate}  {_short(self.case.text)}"
        if self.status == "pass":
            return [head]
        out = [head, f"{'':9}expected:  {labels_text(self.case.expected)}"]
        if self.status == "error":
            return [*out, f"{'':9}error:     {self.message()}"]
        shown = {answer_text(a): a for a in self.answers if answer_text(a) != labels_text(self.case.expected)}
        for text, answer in shown.items():
            out.append(f"{'':9}answer:    {text} (confidence {_fmt(answer.confidence)})")
            out.append(f"{'':9}rationale: {_short(answer.rationale or '', 200)}")
            out.append(f"{'':9}cited:     {', '.join(answer.cited_rules) or 'none'}")
        if self.status == "unstable":
            out.append(f"{'':9}unstable:  {self.message()}")
        return out


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


@dataclass
class SOPTestReport:
    """The outcome of ``prelabel test``: a ``CaseResult`` per case (iterable), what it cost, the exit code."""

    sop_id: str
    sop_version: str
    model: str
    prompt_hash: str
    repeat: int
    cases: list[CaseResult]
    requests: int = 0
    from_cache: int = 0
    duration_s: float = 0.0
    endpoint_error: str | None = None
    pattern: str | None = None
    """``-k``: the pattern that selected the cases, if any."""
    unmatched: str | None = None
    """Why no case ran (``-k`` matched none), else ``None``; such a report is only written as JUnit."""
    notes: list[str] = field(default_factory=list)
    """What the user should know besides the results (a damaged answer cache that was set aside)."""
    counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        counted: Counter[str] = Counter(c.status for c in self.cases)
        self.counts = {status: counted[status] for status in _MARK}

    def __iter__(self) -> Iterator[CaseResult]:
        return iter(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    @property
    def ok(self) -> bool:
        """True when every case passed (and some case ran)."""
        return self.unmatched is None and all(c.status == "pass" for c in self.cases)

    @property
    def exit_code(self) -> int:
        """0 when all pass, 2 when no case matched ``-k``, 3 when the endpoint was unusable, 1 otherwise."""
        if self.unmatched is not None:
            return 2
        if self.endpoint_error is not None:
            return 3
        return 0 if self.ok else 1

    def statuses(self) -> dict[str, str]:
        """Each case's status by node (``tests/T1``, ``edge_cases/E1``)."""
        return {c.case.node: c.status for c in self.cases}

    @property
    def model_note(self) -> str | None:
        """What the answers are worth when that needs saying: the smoke model's note, else ``None``."""
        return SMOKE_MODEL_NOTE if is_smoke_model(self.model) else None

    def summary(self) -> str:
        """One line: counts, SOP, model, requests, cached answers and time."""
        counts = ", ".join(f"{n} {_COUNTED[s]}" for s, n in self.counts.items() if n)
        repeat = f", {self.repeat} samples each" if self.repeat > 1 else ""
        return (
            f"{len(self.cases)} cases{repeat}: {counts or 'none'} — {self.sop_id} {self.sop_version} on "
            f"{model_label(self.model)}; {self.requests} requests, {self.from_cache} answers from cache, "
            f"{self.duration_s:.1f}s"
        )

    def to_text(self) -> str:
        """The test-runner output: every case's lines, the summary, the endpoint error and model note."""
        lines = [line for c in self.cases for line in c.lines()]
        if self.endpoint_error:
            lines.append(f"endpoint unusable: {self.endpoint_error}")
        notes = [*self.notes, *([self.model_note] if self.model_note else [])]
        return "\n".join([*lines, self.summary(), *(f"note: {n}" for n in notes)])

    def to_junit(self) -> str:
        """The report as JUnit XML: one ``testsuite`` (the SOP), one ``testcase`` per case; a fail or an
        unstable case is a ``failure``, an error case an ``error``."""
        suite = ET.Element(
            "testsuite",
            name=self.sop_id,
            tests=str(len(self.cases)),
            failures=str(self.counts["fail"] + self.counts["unstable"]),
            errors=str(self.counts["error"]),
            skipped="0",
            time=f"{self.duration_s:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("sop_version", self.sop_version),
            ("model", self.model),
            ("prompt_hash", self.prompt_hash),
            ("repeat", str(self.repeat)),
            *([("pattern", self.pattern)] if self.pattern is not None else []),
            *([("model_note", self.model_note)] if self.model_note else []),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        for result in self.cases:
            kind = "tests" if result.case.kind == "test" else "edge_cases"
            element = ET.SubElement(
                suite,
                "testcase",
                classname=f"{self.sop_id}.{kind}",
                name=result.case.name,
                time=f"{result.seconds:.3f}",
            )
            if result.status != "pass":
                tag = "error" if result.status == "error" else "failure"
                detail = ET.SubElement(element, tag, message=result.message(), type=result.status)
                detail.text = "\n".join(line.strip() for line in result.lines()[1:])
        if self.unmatched is not None:
            ET.SubElement(suite, "system-out").text = self.unmatched
        root = ET.Element("testsuites", name="prelabel test")
        root.append(suite)
        ET.indent(root)
        document = ET.tostring(root, encoding="unicode")  # answers may hold what XML forbids: escaped
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_safe(document) + "\n"

    def write_junit(self, path: str | Path) -> Path:
        """Write ``to_junit()`` to ``path`` (parent folders are created)."""
        with writing(path) as out:
            write_text(out, self.to_junit())
        return out


def _endpoint_error(message: str) -> LabelResult:
    return LabelResult(
        item_id=None,
        status="error",
        error=ErrorInfo(type="endpoint_error", message=message),
        model="",
        sop_id="",
        sop_version="",
        prompt_hash="",
        template="",
    )


async def arun_sop_tests(
    sop: SOP | str | Path,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    repeat: int = 1,
    pattern: str | None = None,
    cache: AnswerCache | str | Path | bool = True,
    use_cache: bool = True,
    only: Collection[str] | None = None,
    junit: str | Path | None = None,
    **changes: Any,
) -> SOPTestReport:
    """Run the SOP's tests and edge cases (async ``run_sop_tests``)."""
    check_sample_count(repeat, "repeat")
    loaded = sop if isinstance(sop, SOP) else load_sop(sop)
    opts = sampling_options(LabelOptions.build(options, changes), repeat)
    junit_out = None if junit is None else check_output(junit)  # before any model call
    cases = [c for c in collect_cases(loaded, pattern) if only is None or c.node in only]
    if pattern and not cases:  # a typo in -k must not pass a CI gate with zero cases
        nodes = [c.node for c in collect_cases(loaded)]
        shown = ", ".join(nodes[:8]) + (", ..." if len(nodes) > 8 else "") if nodes else "none"
        message = f"no test or edge case matches -k {pattern!r} (cases: {shown})"
        if junit_out is not None:  # CI reads the file in every case: an empty suite, not a stale one
            probe = Answerer(loaded, opts, client=client)
            empty = SOPTestReport(
                loaded.id, loaded.version, probe.model, probe.prompt_hash, repeat, [], pattern=pattern,
                unmatched=message,
            )  # fmt: skip
            message += f"; wrote {empty.write_junit(junit_out)} (an empty suite: 0 tests)"
        raise InputError(message)
    store = open_cache(cache)
    answerer = Answerer(loaded, opts, client=client, cache=store, use_cache=use_cache)
    started = time.perf_counter()
    endpoint_error: str | None = None
    try:
        answers = await answerer.answer([c.item() for c in cases], repeat)
    except EndpointError as exc:
        endpoint_error = str(exc)
        answers = [[_endpoint_error(endpoint_error)] for _ in cases]
    finally:
        await answerer.aclose()
        if store is not None and store is not cache:
            store.close()
    results = [CaseResult(c, case_status(c, a), a) for c, a in zip(cases, answers, strict=True)]
    report = SOPTestReport(
        sop_id=loaded.id,
        sop_version=loaded.version,
        model=answerer.model,
        prompt_hash=answerer.prompt_hash,
        repeat=repeat,
        cases=results,
        requests=answerer.requests,
        from_cache=answerer.from_cache,
        duration_s=round(time.perf_counter() - started, 3),
        endpoint_error=endpoint_error,
        pattern=pattern,
        notes=[store.note] if store is not None and store.note else [],
    )
    if junit_out is not None:
        report.write_junit(junit_out)
    return report


run_sop_tests = sync_twin(
    arun_sop_tests,
    "run_sop_tests",
    """Run an SOP's ``tests:`` and ``edge_cases:`` through the model; return an ``SOPTestReport``.

    ``sop`` is an ``SOP`` or a YAML path. ``options`` (a ``LabelOptions``) and keyword overrides of its fields
    (``model``, ``base_url``, ``temperature``, ...) say how the model is called, as for ``prelabel.run``;
    ``client`` injects an openai client. ``repeat`` answers each case that many times (sampling, see the
    module); ``pattern`` keeps the cases whose node or text contains it (or whose name matches a glob).
    ``cache``: ``True`` (the default file under ``$PRELABEL_CACHE_DIR``), a path, an ``AnswerCache`` or
    ``False``; ``use_cache=False`` asks the model again and refreshes the cache. ``only`` keeps the cases
    whose node (``tests/T1``, ``edge_cases/E1``) it holds. ``junit``: a JUnit XML file, checked before any
    model call and written in every case (an empty suite when ``pattern`` matches no case, which raises
    ``InputError``). ``repeat`` is between 1 and 100 (``MAX_SAMPLES``).
    """,
)
