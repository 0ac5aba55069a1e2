"""The cases of an SOP's test suite: its ``tests:`` and its ``edge_cases:`` (expected = the ruling's labels).

>>> from prelabel.sop.bundled import bundled_sop
>>> cases = collect_cases(bundled_sop("customer_feedback_intent"))
>>> cases[0].name, cases[0].kind, cases[0].expected
('T1', 'test', ('logistics.late_delivery',))
>>> [c.name for c in collect_cases(bundled_sop("customer_feedback_intent"), "E1")]
['E1']
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

from prelabel.inputs.items import Item
from prelabel.sop.spec import SOP

__all__ = ["SOPCase", "collect_cases", "labels_text"]


@dataclass(frozen=True)
class SOPCase:
    """One case: a ``test`` (``tests[i]``) or an ``edge_case``, its item text and the labels expected."""

    kind: Literal["test", "edge_case"]
    name: str
    text: str
    expected: tuple[str, ...]
    language: str | None = None
    note: str | None = None

    @property
    def node(self) -> str:
        """Where the case sits in the SOP: ``tests/T1`` or ``edge_cases/E1``."""
        return f"{'tests' if self.kind == 'test' else 'edge_cases'}/{self.name}"

    def item(self) -> Item:
        """The case as an item to label (its id is the case's node)."""
        return Item(id=self.node, text=self.text, language=self.language)

    def matches(self, pattern: str) -> bool:
        """``-k``: a case-insensitive substring of the node or the text, or a glob (``E*``) on the name."""
        wanted = pattern.lower()
        if any(ch in pattern for ch in "*?["):
            return fnmatch.fnmatch(self.name.lower(), wanted) or fnmatch.fnmatch(self.node.lower(), wanted)
        return wanted in self.node.lower() or wanted in self.text.lower()


def labels_text(labels: tuple[str, ...] | list[str] | None) -> str:
    """Labels as one sorted ``;``-joined text, the form answers and expectations are compared in."""
    return ";".join(sorted(labels or ()))


def collect_cases(sop: SOP, pattern: str | None = None) -> list[SOPCase]:
    """The SOP's tests (unnamed: ``tests[i]``) then its edge cases, filtered by ``pattern`` (``-k``)."""
    cases = [
        SOPCase("test", t.id or f"tests[{i}]", t.text, tuple(t.expect), t.language, t.note)
        for i, t in enumerate(sop.tests)
    ]
    cases += [
        SOPCase("edge_case", e.id, e.text, tuple(e.label), e.language, e.ruling) for e in sop.edge_cases
    ]
    return [c for c in cases if pattern is None or c.matches(pattern)]
