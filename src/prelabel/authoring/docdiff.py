"""What changed for annotators between two versions of an SOP: labels added, removed or renamed, definitions
and rules reworded, include/exclude lines and examples added or removed, edge cases added or changed.

A label (or rule, or edge case) whose id disappeared while a new id appeared with nearly the same text
(similarity ≥ `RENAME_SIMILARITY`) is reported as renamed, and then compared field by field like any other.

    >>> import prelabel
    >>> a = prelabel.parse_sop("id: d\\nversion: 1\\ntitle: D\\nlabels: [{id: a, definition: Old words.}]")
    >>> b = prelabel.parse_sop("id: d\\nversion: 2\\ntitle: D\\nlabels: [{id: a, definition: New words.}]")
    >>> [(c.kind, c.section, c.target, c.field) for c in prelabel.diff_sops(a, b).changes]
    [('reworded', 'label', 'a', 'definition')]
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from prelabel._documents import render_document
from prelabel._jsonio import write_text
from prelabel.authoring._templates import output_path
from prelabel.authoring.guideline import GuidelineFormat, guideline_format
from prelabel.sop.spec import SOP, EdgeCase, Label, Rule

__all__ = ["RENAME_SIMILARITY", "Change", "DocDiff", "diff_sops", "write_doc_diff"]

RENAME_SIMILARITY = 0.75
Kind = Literal["added", "removed", "renamed", "reworded", "changed"]
Section = Literal["sop", "label", "rule", "edge_case", "changelog"]
SECTIONS: dict[str, str] = {
    "sop": "Whole SOP",
    "label": "Labels",
    "rule": "Rules",
    "edge_case": "Edge cases",
    "changelog": "Change log",
}
_T = TypeVar("_T", Label, Rule, EdgeCase)


class Change(BaseModel):
    """One change an annotator should know about; ``words`` is a word diff of reworded text."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    section: Section
    target: str
    field: str = ""
    before: str | None = None
    after: str | None = None
    words: list[tuple[Literal["same", "removed", "added"], str]] = []


def _words(before: str, after: str) -> list[tuple[Literal["same", "removed", "added"], str]]:
    a, b = re.findall(r"\S+\s*", before), re.findall(r"\S+\s*", after)
    out: list[tuple[Literal["same", "removed", "added"], str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
        if op in ("delete", "replace"):
            out.append(("removed", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(("added", "".join(b[j1:j2])))
    return out


def _reworded(section: Section, target: str, field: str, before: str, after: str) -> Iterator[Change]:
    if before != after:
        kind: Kind = "reworded" if before and after else "changed"
        yield Change(kind=kind, section=section, target=target, field=field, before=before, after=after,
                     words=_words(before, after) if kind == "reworded" else [])  # fmt: skip


def _lines(
    section: Section, target: str, field: str, before: Sequence[str], after: Sequence[str]
) -> Iterator[Change]:
    for line in before:
        if line not in after:
            yield Change(kind="removed", section=section, target=target, field=field, before=line)
    for line in after:
        if line not in before:
            yield Change(kind="added", section=section, target=target, field=field, after=line)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower(), autojunk=False).ratio()


def _pair(
    old: dict[str, _T], new: dict[str, _T], text: Callable[[_T], str]
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Ids removed, ids added, and (old, new) id pairs whose text is close enough to count as a rename."""
    removed = [i for i in old if i not in new]
    added = [i for i in new if i not in old]
    scored = sorted(
        ((_similarity(text(old[r]), text(new[a])), r, a) for r in removed for a in added), reverse=True
    )
    renamed: list[tuple[str, str]] = []
    for score, r, a in scored:
        if score >= RENAME_SIMILARITY and r in removed and a in added:
            renamed.append((r, a))
            removed.remove(r)
            added.remove(a)
    return removed, added, sorted(renamed, key=lambda pair: list(new).index(pair[1]))


def _label_changes(target: str, a: Label, b: Label) -> Iterator[Change]:
    yield from _reworded("label", target, "name", a.name or "", b.name or "")
    yield from _reworded("label", target, "definition", a.definition, b.definition)
    yield from _lines("label", target, "include", a.include, b.include)
    show = [f"{e.text} → use {e.use}" if e.use else e.text for e in (*a.exclude, *b.exclude)]
    yield from _lines("label", target, "exclude", show[: len(a.exclude)], show[len(a.exclude) :])
    yield from _lines("label", target, "examples", [e.text for e in a.examples], [e.text for e in b.examples])
    if a.exclusive != b.exclusive:
        yield Change(kind="changed", section="label", target=target, field="exclusive",
                     before=str(a.exclusive).lower(), after=str(b.exclusive).lower())  # fmt: skip


def _case_changes(target: str, a: EdgeCase, b: EdgeCase) -> Iterator[Change]:
    yield from _reworded("edge_case", target, "text", a.text, b.text)
    yield from _reworded("edge_case", target, "label", ", ".join(a.label), ", ".join(b.label))
    yield from _reworded("edge_case", target, "ruling", a.ruling, b.ruling)
    yield from _reworded("edge_case", target, "rules", ", ".join(a.rules), ", ".join(b.rules))


def _items(
    section: Section,
    old: dict[str, _T],
    new: dict[str, _T],
    text: Callable[[_T], str],
    fields: Callable[[str, _T, _T], Iterator[Change]],
) -> Iterator[Change]:
    removed, added, renamed = _pair(old, new, text)
    renamed_to = dict(renamed)
    for ident in new:
        if ident in added:
            yield Change(kind="added", section=section, target=ident, after=text(new[ident]))
        elif ident in old:
            yield from fields(ident, old[ident], new[ident])
    for before, after in renamed:
        yield Change(kind="renamed", section=section, target=after, before=before, after=after)
        yield from fields(after, old[before], new[after])
    for ident in removed:
        if ident not in renamed_to:
            yield Change(kind="removed", section=section, target=ident, before=text(old[ident]))


def _rule_changes(target: str, a: Rule, b: Rule) -> Iterator[Change]:
    yield from _reworded("rule", target, "text", a.text, b.text)


def diff_sops(before: SOP, after: SOP) -> DocDiff:
    """The changes between two versions of an SOP that annotators need to know, in guideline order."""
    changes: list[Change] = []
    changes += _reworded("sop", "title", "title", before.title, after.title)
    changes += _reworded("sop", "task", "task", before.task, after.task)
    changes += _reworded(
        "sop", "instructions", "instructions", before.instructions.strip(), after.instructions.strip()
    )
    abstain_a, abstain_b = (
        f"{'allowed' if s.abstain.allowed else 'not allowed'}: {s.abstain.label}"
        + (f" when {s.abstain.when}" if s.abstain.when else "")
        for s in (before, after)
    )
    changes += _reworded("sop", "abstain", "abstain", abstain_a, abstain_b)
    changes += _items("label", before.label_index, after.label_index, lambda x: x.definition, _label_changes)
    rules_a, rules_b = ({r.id: r for r in s.rules} for s in (before, after))
    changes += _items("rule", rules_a, rules_b, lambda r: r.text, _rule_changes)
    cases_a, cases_b = ({c.id: c for c in s.edge_cases} for s in (before, after))
    changes += _items("edge_case", cases_a, cases_b, lambda c: c.text, _case_changes)
    known = {entry.version for entry in before.changelog}
    for entry in after.changelog:
        if entry.version not in known:
            changes.append(
                Change(
                    kind="added", section="changelog", target=entry.version, after="; ".join(entry.changes)
                )
            )
    return DocDiff(before=before, after=after, changes=changes)


@dataclass(frozen=True)
class DocDiff:
    """What `diff_sops` returns: both SOPs and the list of `Change`s; renders as Markdown or HTML."""

    before: SOP
    after: SOP
    changes: list[Change]

    def counts(self) -> dict[str, int]:
        """How many changes of each kind (``added``, ``removed``, ...)."""
        out: dict[str, int] = {}
        for change in self.changes:
            out[change.kind] = out.get(change.kind, 0) + 1
        return out

    def summary(self) -> str:
        """One line: the versions and the counts of changes."""
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts().items()) or "no changes"
        return f"{self.before.id} {self.before.version} → {self.after.id} {self.after.version}: {counts}"

    def render(self, format: GuidelineFormat = "md") -> str:
        """The change document for annotators' team leads, as Markdown or self-contained HTML."""
        sections: dict[str, list[Change]] = {key: [] for key in SECTIONS}
        for change in self.changes:
            sections[change.section].append(change)
        context: dict[str, Any] = {
            "before": self.before, "after": self.after, "summary": self.summary(),
            "sections": [(SECTIONS[key], key, items) for key, items in sections.items() if items],
        }  # fmt: skip
        return render_document(f"docdiff.{format}.v1", **context)


def write_doc_diff(
    before: SOP,
    after: SOP,
    path: str | Path,
    format: GuidelineFormat | None = None,
    *,
    overwrite: bool = False,
) -> DocDiff:
    """Diff two SOPs and write the change document to ``path`` (format from the suffix unless given)."""
    chosen = guideline_format(path, format)
    out = output_path(path, overwrite)
    diff = diff_sops(before, after)
    write_text(out, diff.render(chosen))
    return diff
