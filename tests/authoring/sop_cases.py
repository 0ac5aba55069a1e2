"""An SOP with tests and edge cases, and a scripted model that answers its cases by keyword."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prelabel.testing import Reply, RequestRecord

SUITE_SOP = """\
id: fruit_demo
version: 1.0.0
title: Fruit demo
labels:
  - id: fruit
    definition: Fruit.
    children:
      - id: fruit.apple
        definition: An apple.
      - id: fruit.pear
        definition: A pear.
  - id: other
    definition: Anything else.
rules:
  - id: R1
    text: Label the main item.
edge_cases:
  - id: E1
    text: A green apple shaped like a pear
    label: fruit.apple
    ruling: The fruit decides, not its shape (R1).
tests:
  - {id: T1, text: a crisp apple, expect: fruit.apple}
  - {id: T2, text: a ripe pear, expect: fruit.pear}
  - {text: a hammer, expect: other}
"""


def by_keyword(overrides: dict[str, str] | None = None) -> Callable[[RequestRecord], Reply]:
    """A ``FakeModel`` default: the first keyword of the item text (apple, pear) names the label, else
    ``other``; ``overrides`` maps a text fragment to the label answered instead."""

    def reply(record: RequestRecord) -> Reply:
        text = record.item_text or ""
        for fragment, label in (overrides or {}).items():
            if fragment in text:
                return Reply.answer(label, rationale=f"{fragment} means {label}", cited_rules=["R1"])
        for word in ("apple", "pear"):
            if word in text:
                return Reply.answer(f"fruit.{word}", rationale=f"it is a {word}")
        return Reply.answer("other", rationale="not a fruit")

    return reply


def write_suite_sop(path: Path, text: str = SUITE_SOP) -> Path:
    """Write the suite SOP (or ``text``) to ``path``."""
    path.write_text(text, encoding="utf-8")
    return path
