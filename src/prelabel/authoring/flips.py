"""``prelabel diff``: what a wording change does — the prompt diff, the items whose label flips, and the tests
and edge cases whose status changed.

Both SOP versions answer the same items (and their own test suites) with the same model; answers come from
the answer cache when they are there (``answer_cache``), so an unchanged version costs nothing. An item
*flips* when its two answers differ (labels compared as sets). An item whose answer failed under either
version (an error record, ``error: TYPE``) is *not compared*: a failure is no label, so ``error → error`` is
not "no change" and ``error → label`` is not a flip. The errors are counted per version, listed in
``flips.csv`` (``outcome`` = ``not compared``) and ``summary.md``; when no item could be compared,
``exit_code`` is 3 (2 when every failure is bad input), as ``prelabel run``'s when every item is an error.

    >>> import prelabel
    >>> from prelabel.testing import FakeModel, Reply
    >>> a = prelabel.bundled_sop("customer_feedback_intent")
    >>> b = a.model_copy(update={"version": "1.0.1", "instructions": a.instructions + " Be brief."})
    >>> fake = FakeModel(default=lambda r: Reply.answer("product.damaged" if "1.0.1" in str(r.body) and
    ...                                               "mug" in (r.item_text or "") else None))
    >>> flips = label_flips(a, b, [{"id": "m", "text": "mug broke"}, {"id": "p", "text": "parcel?"}],
    ...                     client=fake.async_client(), cache=False, tests=False)
    >>> [(f["item_id"], f["label_a"], f["label_b"]) for f in flips.flips]
    [('m', 'logistics.late_delivery', 'product.damaged')]
"""

from __future__ import annotations

import csv
import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prelabel._aio import sync_twin
from prelabel._jsonio import atomic_open, together, write_text, writing
from prelabel.authoring.answer_cache import AnswerCache, Answerer, open_cache
from prelabel.authoring.suite import ERROR_PREFIX, SOPTestReport, answer_text, arun_sop_tests
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem, read_items
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.result import LabelResult, failed_exit_code
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, is_smoke_model, model_label
from prelabel.prompt.rendering import render_prompt
from prelabel.sop.spec import SOP, load_sop

__all__ = [
    "FLIP",
    "FLIP_COLUMNS",
    "NOT_COMPARED",
    "LabelFlips",
    "alabel_flips",
    "label_flips",
    "system_prompt_diff",
]

FLIP_COLUMNS = [
    "item_id",
    "text",
    "label_a",
    "label_b",
    "rationale_a",
    "rationale_b",
    "confidence_a",
    "confidence_b",
    "outcome",
    "error_a",
    "error_b",
]
#: ``outcome`` of a ``flips.csv`` row: the two answers differ, or one of them failed.
FLIP, NOT_COMPARED = "flip", "not compared"


def system_prompt_diff(a: SOP, b: SOP, options: LabelOptions | None = None) -> str:
    """A unified diff of the two rendered system prompts (empty when they are identical)."""
    opts = options or LabelOptions()

    def system(sop: SOP) -> list[str]:
        messages = render_prompt(
            sop, {"id": "-", "text": "-"}, opts.template, opts.rationale_language
        ).messages
        return str(messages[0]["content"]).splitlines(keepends=True)

    lines = difflib.unified_diff(
        system(a), system(b), fromfile=f"{a.id} {a.version}", tofile=f"{b.id} {b.version}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass
class LabelFlips:
    """Two SOP versions on the same items: every item's two answers, the flips, the case status changes,
    and what could not be compared because an answer failed."""

    sop_a: str
    sop_b: str
    model: str
    prompt_diff: str
    rows: list[dict[str, Any]]
    tests_a: SOPTestReport | None
    tests_b: SOPTestReport | None
    requests: int = 0
    from_cache: int = 0
    notes: list[str] = field(default_factory=list)
    """What the user should know besides the results (a damaged answer cache that was set aside)."""

    @property
    def compared(self) -> list[dict[str, Any]]:
        """The rows of the items answered under both versions."""
        return [r for r in self.rows if not (r["error_a"] or r["error_b"])]

    @property
    def not_compared(self) -> list[dict[str, Any]]:
        """The rows of the items whose answer failed under either version (``error_a``/``error_b``)."""
        return [r for r in self.rows if r["error_a"] or r["error_b"]]

    @property
    def flips(self) -> list[dict[str, Any]]:
        """The rows of the items answered under both versions whose answers differ."""
        return [r for r in self.compared if r["label_a"] != r["label_b"]]

    def errors(self, side: str) -> Counter[str]:
        """Items whose answer failed under version ``side`` (``"a"`` or ``"b"``), by error type."""
        return Counter(_error_type(r[f"label_{side}"]) for r in self.rows if r[f"error_{side}"])

    @property
    def exit_code(self) -> int:
        """0 when some item was compared; when none could be (every item has a failed answer), 2 if every
        failure is bad input, else 3 (``prelabel.labeling.result.failed_exit_code``)."""
        if not self.rows or self.compared:
            return 0
        return failed_exit_code([*self.errors("a"), *self.errors("b")])

    @property
    def failure(self) -> str | None:
        """Why `exit_code` is not 0, else ``None``."""
        if not self.exit_code:
            return None
        return (
            f"nothing could be compared: every one of the {len(self.rows)} items has a failed answer "
            f"({self._error_counts()}); see the error_a/error_b columns of flips.csv"
        )

    def transitions(self) -> Counter[tuple[str, str]]:
        """How many items went from each label under A to each label under B."""
        return Counter((r["label_a"], r["label_b"]) for r in self.flips)

    def case_changes(self) -> list[tuple[str, str, str]]:
        """``(case, status under A, status under B)`` for each test or edge case whose status changed
        (``absent`` when a version does not have the case); a case that errored under either version is not
        compared (`cases_not_compared`)."""
        return [c for c in self._case_pairs() if c[1] != c[2] and "error" not in c[1:]]

    def cases_not_compared(self) -> list[tuple[str, str, str]]:
        """``(case, status under A, status under B)`` for each case that errored under either version."""
        return [c for c in self._case_pairs() if "error" in c[1:]]

    def _case_pairs(self) -> list[tuple[str, str, str]]:
        if self.tests_a is None or self.tests_b is None:
            return []
        a, b = self.tests_a.statuses(), self.tests_b.statuses()
        nodes = list(dict.fromkeys([*a, *b]))
        return [(n, a.get(n, "absent"), b.get(n, "absent")) for n in nodes]

    def _error_counts(self) -> str:
        """``errors under A: 3 (rate_limited 3); under B: 0``."""

        def side(name: str) -> str:
            counts = self.errors(name)
            kinds = ", ".join(f"{kind} {n}" for kind, n in counts.most_common())
            return f"{sum(counts.values())}" + (f" ({kinds})" if kinds else "")

        return f"errors under A: {side('a')}; under B: {side('b')}"

    def _headline(self) -> str:
        n, c, k = len(self.rows), len(self.compared), len(self.flips)
        share = f" ({k / c:.0%})" if c else ""
        if c == n:
            return f"{k} of {n} items flip{share}"
        if not c:
            return f"nothing compared: every one of the {n} items has a failed answer"
        return f"{k} of {c} compared items flip{share}; {n - c} of {n} items not compared (an answer failed)"

    def summary(self) -> str:
        """A short summary: flips, what could not be compared, transitions, changed cases, requests."""
        lines = [f"{self.sop_a} → {self.sop_b} on {model_label(self.model)}: {self._headline()}"]
        if self.not_compared:
            lines.append(f"  {self._error_counts()}")
        lines += [f"  {a} → {b}: {count}" for (a, b), count in self.transitions().most_common()]
        changes, unknown = self.case_changes(), self.cases_not_compared()
        if self.tests_a is not None:
            lines.append(f"{len(changes)} tests/edge cases changed status")
            lines += [f"  {node}: {a} → {b}" for node, a, b in changes]
            if unknown:
                lines.append(f"{len(unknown)} tests/edge cases not compared (an answer failed)")
                lines += [f"  {node}: {a} → {b}" for node, a, b in unknown]
        lines.append(f"{self.requests} requests, {self.from_cache} answers from cache")
        lines += [f"note: {note}" for note in [*self.notes, *([self.model_note] if self.model_note else [])]]
        return "\n".join(lines)

    @property
    def model_note(self) -> str | None:
        """What the answers are worth when that needs saying: the smoke model's note, else ``None``."""
        return SMOKE_MODEL_NOTE if is_smoke_model(self.model) else None

    def to_markdown(self) -> str:
        """``summary.md``: counts per label transition, what could not be compared, cases whose status
        changed, the prompt diff."""
        n, c, k = len(self.rows), len(self.compared), len(self.flips)
        counted = f"{n} items, **{k} flip**" if c == n else f"{n} items, {c} compared, **{k} flip**"
        out = [
            f"# Label flips: {self.sop_a} → {self.sop_b}",
            "",
            f"Model `{model_label(self.model)}`; {counted}; {self.requests} requests, "
            f"{self.from_cache} answers from cache.",
            "",
            *([f"> **Note:** {self.model_note}", ""] if self.model_note else []),
            "## Label transitions",
            "",
        ]
        if k:
            out += ["| under A | under B | items |", "|---|---|---:|"]
            out += [f"| {a} | {b} | {count} |" for (a, b), count in self.transitions().most_common()]
        elif c:
            out.append("No item changes its label.")
        else:
            out.append("No item could be compared.")
        if self.not_compared:
            out += ["", "## Not compared: an answer failed", ""]
            out.append(
                f"{n - c} of {n} items have a failed answer under A or B (`outcome` = `{NOT_COMPARED}` in "
                "flips.csv, with the errors in `error_a`/`error_b`):"
            )
            out += ["", "| version | error | items |", "|---|---|---:|"]
            for side in ("a", "b"):
                out += [f"| {side.upper()} | {kind} | {m} |" for kind, m in self.errors(side).most_common()]
        out += ["", "## Tests and edge cases whose status changed", ""]
        changes, unknown = self.case_changes(), self.cases_not_compared()
        if self.tests_a is None:
            out.append("Not run.")
        elif changes:
            out += ["| case | under A | under B |", "|---|---|---|"]
            out += [f"| {node} | {a} | {b} |" for node, a, b in changes]
        else:
            out.append("None.")
        if unknown:
            out += [
                "",
                "Not compared (an answer failed):",
                "",
                "| case | under A | under B |",
                "|---|---|---|",
            ]
            out += [f"| {node} | {a} | {b} |" for node, a, b in unknown]
        out += ["", "## System prompt diff", ""]
        out += ["```diff", self.prompt_diff.rstrip("\n"), "```"] if self.prompt_diff else ["Identical."]
        return "\n".join(out) + "\n"

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``flips.csv`` (the flips, then the items not compared), ``summary.md`` and ``prompt.diff``
        into ``out_dir``; return their paths."""
        out = Path(out_dir)
        paths = {
            "flips": out / "flips.csv",
            "summary": out / "summary.md",
            "prompt_diff": out / "prompt.diff",
        }
        rows = [{**r, "outcome": FLIP} for r in self.flips]
        rows += [{**r, "outcome": NOT_COMPARED} for r in self.not_compared]
        with writing(paths["flips"]), together():  # creates ``out``; the three files, or none
            with atomic_open(paths["flips"], newline="") as handle:
                writer = csv.DictWriter(handle, FLIP_COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            write_text(paths["summary"], self.to_markdown())
            write_text(paths["prompt_diff"], self.prompt_diff)
        return paths


def _error_type(answer: str) -> str:
    """The error type in an error record's answer text (``error: TYPE``, see ``answer_text``)."""
    return answer.removeprefix(ERROR_PREFIX)


def _error(result: LabelResult) -> str:
    """``TYPE: message`` of an error record, empty for an answer."""
    if result.error is None and result.ok:
        return ""
    return f"{result.error.type}: {result.error.message}" if result.error else "error: no answer"


def _row(entry: Item | BadItem, a: LabelResult, b: LabelResult) -> dict[str, Any]:
    return {
        "item_id": entry.id if isinstance(entry, Item) else entry.item_id,
        "text": entry.text if isinstance(entry, Item) else "",
        "label_a": answer_text(a),
        "label_b": answer_text(b),
        "rationale_a": a.rationale or "",
        "rationale_b": b.rationale or "",
        "confidence_a": a.confidence,
        "confidence_b": b.confidence,
        "error_a": _error(a),
        "error_b": _error(b),
    }


def _name(sop: SOP) -> str:
    return f"{sop.id} {sop.version}"


async def alabel_flips(
    sop_a: SOP | str | Path,
    sop_b: SOP | str | Path,
    items: str | Path | Iterable[Any],
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    cache: AnswerCache | str | Path | bool = True,
    use_cache: bool = True,
    tests: bool = True,
    **changes: Any,
) -> LabelFlips:
    """Run both SOP versions on ``items`` and compare (async ``label_flips``)."""
    a = sop_a if isinstance(sop_a, SOP) else load_sop(sop_a)
    b = sop_b if isinstance(sop_b, SOP) else load_sop(sop_b)
    opts = LabelOptions.build(options, changes)
    entries = list(read_items(items, id_col=opts.id_col, text_col=opts.text_col, max_items=opts.max_items))
    store = open_cache(cache)
    answerers = [Answerer(s, opts, client=client, cache=store, use_cache=use_cache) for s in (a, b)]
    notes = [store.note] if store is not None and store.note else []
    try:
        answers = []
        for answerer in answerers:
            try:
                answers.append([r[0] for r in await answerer.answer(entries)])
            finally:
                await answerer.aclose()
        reports: list[SOPTestReport | None] = [None, None]
        if tests:
            kept = store if store is not None else False
            reports = [
                await arun_sop_tests(s, opts, client=client, cache=kept, use_cache=use_cache) for s in (a, b)
            ]
    finally:
        if store is not None and store is not cache:
            store.close()
    done = [r for r in reports if r is not None]
    return LabelFlips(
        sop_a=_name(a),
        sop_b=_name(b),
        model=answerers[0].model,
        prompt_diff=system_prompt_diff(a, b, opts),
        rows=[_row(e, x, y) for e, x, y in zip(entries, answers[0], answers[1], strict=True)],
        tests_a=reports[0],
        tests_b=reports[1],
        requests=sum(x.requests for x in answerers) + sum(r.requests for r in done),
        from_cache=sum(x.from_cache for x in answerers) + sum(r.from_cache for r in done),
        notes=notes,
    )


label_flips = sync_twin(
    alabel_flips,
    "label_flips",
    """Run two SOP versions on the same items and return the ``LabelFlips`` between them.

    ``sop_a``/``sop_b`` are ``SOP`` objects or YAML paths; ``items`` anything ``read_items`` reads.
    ``options``, keyword overrides, ``client``, ``cache`` and ``use_cache`` are as for ``run_sop_tests``;
    ``tests=False`` skips running the two versions' tests and edge cases. Raises ``EndpointError`` when the
    endpoint is unusable. ``LabelFlips.save(DIR)`` writes ``flips.csv``, ``summary.md`` and ``prompt.diff``.
    """,
)
