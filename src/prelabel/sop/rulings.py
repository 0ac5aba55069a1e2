"""Rulings: decisions on hard items to write back into an SOP (``prelabel sop apply``).

A ruling comes from an adjudication in a vendor tool (``prelabel export CMP_DIR --candidates``, then the
tool's export) or from a reviewed ``draft_edge_cases.yaml`` (``prelabel compare --draft-edits``). Each
accepted ruling becomes an ``edge_cases:`` entry (when it carries ruling text) and a ``tests:`` case with
its expected label.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Ruling"]


@dataclass(frozen=True)
class Ruling:
    """One adjudicated decision on one item.

    ``label``: the leaf label(s) the adjudicator chose (SOP label ids); ``ruling``: the text explaining it
    ("" when the adjudicator decided the label but wrote none: then only a test case is added);
    ``sop_unclear``: the adjudicator said the SOP did not settle the item (an edge case is due);
    ``rules``: SOP rule/edge-case ids involved; ``source``: where it was read, for messages and the
    changelog (``file#task 12``); ``adjudicator``: who decided (email or user name) when known.
    """

    item_id: str
    text: str
    label: tuple[str, ...]
    ruling: str = ""
    sop_unclear: bool = True
    rules: tuple[str, ...] = ()
    language: str | None = None
    source: str = ""
    adjudicator: str | None = None
