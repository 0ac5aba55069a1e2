"""``prelabel diff``: what a wording change does — the prompt diff, the items whose label flips, and the tests
and edge cases whose status changed.

Both SOP versions answer the same items (and their own test suites) with the same model; answers come from
the answer cache when they are there (``answer_cache``), so an unchanged version costs nothing. An item
*flips* when its two answers differ (labels compared as sets; an error record answers ``error: TYPE``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prelabel._aio import sync_twin
from prelabel._jsonio import atomic_open, together, write_text, writing
from prelabel.authoring.answer_cache import AnswerCache, Answerer, open_cache
from prelabel.authoring.suite import SOPTestReport, answer_text, arun_sop_tests
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem, read_items
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.result import LabelResult
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, is_smoke_model, model_label
from prelabel.prompt.rendering import render_prompt
from prelabel.sop.spec import SOP, load_sop

__all__ = ["FLIP_COLUMNS", "LabelFlips", "alabel_flips", "label_flips", "system_prompt_diff"]

FLIP_COLUMNS = [
    "item_id",
    "text",
    "label_a",
    "label_b",
    "rationale_a",
    "rationale_b",
    "confidence_a",
    "confidence_b",
]


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
    """Two SOP versions on the same items: every item's two answers, the flips, the case status changes."""

    sop_a: str
    sop_b: str
    model: str
    prompt_diff: str
    rows: list[dict[str, Any]]
    tests_a: SOPTestReport | None
    tests_b: SOPTestReport | None
    requests: int = 0
    from_cache: int = 0

    @property
    def flips(self) -> list[dict[str, Any]]:
        """The rows of the items whose answers differ."""
        return [r for r in self.rows if r["label_a"] != r["label_b"]]

    def transitions(self) -> Counter[tuple[str, str]]:
        """How many items went from each label under A to each label under B."""
        return Counter((r["label_a"], r["label_b"]) for r in self.flips)

    def case_changes(self) -> list[tuple[str, str, str]]:
        """``(case, status under A, status under B)`` for each test or edge case whose status changed
        (``absent`` when a version does not have the case)."""
        if self.tests_a is None or self.tests_b is None:
            return []
        a, b = self.tests_a.statuses(), self.tests_b.statuses()
        nodes = list(dict.fromkeys([*a, *b]))
        changed = [(n, a.get(n, "absent"), b.get(n, "absent")) for n in nodes]
        return [c for c in changed if c[1] != c[2]]

    def summary(self) -> str:
        """A short summary: flips, transitions, changed cases, requests."""
        n, k = len(self.rows), len(self.flips)
        share = f" ({k / n:.0%})" if n else ""
        lines = [f"{self.sop_a} → {self.sop_b} on {model_label(self.model)}: {k} of {n} items flip{share}"]
        lines += [f"  {a} → {b}: {count}" for (a, b), count in self.transitions().most_common()]
        changes = self.case_changes()
        if self.tests_a is not None:
            lines.append(f"{len(changes)} tests/edge cases changed status")
            lines += [f"  {node}: {a} → {b}" for node, a, b in changes]
        lines.append(f"{self.requests} requests, {self.from_cache} answers from cache")
        lines += [f"note: {self.model_note}"] if self.model_note else []
        return "\n".join(lines)

    @property
    def model_note(self) -> str | None:
        """What the answers are worth when that needs saying: the smoke model's note, else ``None``."""
        return SMOKE_MODEL_NOTE if is_smoke_model(self.model) else None

    def to_markdown(self) -> str:
        """``summary.md``: counts per label transition, cases whose status changed, the prompt diff."""
        n, k = len(self.rows), len(self.flips)
        out = [
            f"# Label flips: {self.sop_a} → {self.sop_b}",
            "",
            f"Model `{model_label(self.model)}`; {n} items, **{k} flip**; {self.requests} requests, "
            f"{self.from_cache} answers from cache.",
            "",
            *([f"> **Note:** {self.model_note}", ""] if self.model_note else []),
            "## Label transitions",
            "",
        ]
        if k:
            out += ["| under A | under B | items |", "|---|---|---:|"]
            out += [f"| {a} | {b} | {count} |" for (a, b), count in self.transitions().most_common()]
        else:
            out.append("No item changes its label.")
        out += ["", "## Tests and edge cases whose status changed", ""]
        changes = self.case_changes()
        if self.tests_a is None:
            out.append("Not run.")
        elif changes:
            out += ["| case | under A | under B |", "|---|---|---|"]
            out += [f"| {node} | {a} | {b} |" for node, a, b in changes]
        else:
            out.append("None.")
        out += ["", "## System prompt diff", ""]
        out += ["```diff", self.prompt_diff.rstrip("\n"), "```"] if self.prompt_diff else ["Identical."]
        return "\n".join(out) + "\n"

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``flips.csv``, ``summary.md`` and ``prompt.diff`` into ``out_dir``; return their paths."""
        out = Path(out_dir)
        paths = {
            "flips": out / "flips.csv",
            "summary": out / "summary.md",
            "prompt_diff": out / "prompt.diff",
        }
        with writing(paths["flips"]), together():  # creates ``out``; the three files, or none
            with atomic_open(paths["flips"], newline="") as handle:
                writer = csv.DictWriter(handle, FLIP_COLUMNS)
                writer.writeheader()
                writer.writerows(self.flips)
            write_text(paths["summary"], self.to_markdown())
            write_text(paths["prompt_diff"], self.prompt_diff)
        return paths


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
