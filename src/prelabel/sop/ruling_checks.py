"""Rulings checked against an SOP before they are written into it, and the ids they get (``sop apply``).

A ruling must name answers of the SOP (leaves, or the abstain label when abstaining is allowed; several only
in a multi-label SOP, never an exclusive one with others) and cite known rules; a ruling that contradicts a
test or edge case with the same text is refused. A test or edge case already in the SOP is not added again
(said in a note).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from prelabel.errors import InputError
from prelabel.sop.rulings import Ruling
from prelabel.sop.spec import SOP

__all__ = ["Plan", "Planned", "plan_rulings"]


@dataclass(frozen=True)
class Planned:
    """One ruling to write: its edge case id and test id (``None``: not added) and the rule ids it cites."""

    ruling: Ruling
    edge_case: str | None
    test: str | None
    rules: tuple[str, ...] = ()


@dataclass
class Plan:
    """The rulings to write, in order, and notes on what is left out."""

    entries: list[Planned] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_rulings(sop: SOP, rulings: list[Ruling]) -> Plan:
    """Check each ruling against ``sop`` (``InputError`` naming the first bad one) and give it ids."""
    plan = Plan()
    tests = {_key(t.text): (t.id or f"tests[{i}]", set(t.expect)) for i, t in enumerate(sop.tests)}
    cases = {_key(c.text): (c.id, set(c.label)) for c in sop.edge_cases}
    taken = {*sop.citable_ids, *(t.id for t in sop.tests if t.id)}
    next_case, next_test = _after(sop.citable_ids, "E"), _after([t.id or "" for t in sop.tests], "T")
    for ruling in rulings:
        where = _where(ruling)
        ruling = replace(ruling, label=tuple(dict.fromkeys(ruling.label)), text=ruling.text.strip())
        _check_labels(sop, ruling, where)
        rules = _check_rules(sop, ruling, where, plan.notes)
        key, labels = _key(ruling.text), set(ruling.label)
        case_id = None
        if ruling.ruling.strip():
            case_id, next_case = _claim(cases, key, labels, "E", next_case, taken, where, plan.notes)
        test_id, next_test = _claim(tests, key, labels, "T", next_test, taken, where, plan.notes)
        if case_id or test_id:
            plan.entries.append(Planned(ruling, case_id, test_id, rules))
    return plan


def _claim(
    table: dict[str, tuple[str, set[str]]],
    key: str,
    labels: set[str],
    prefix: str,
    counter: int,
    taken: set[str],
    where: str,
    notes: list[str],
) -> tuple[str | None, int]:
    """A new ``E<n>``/``T<n>`` id for the ruling's text in ``table`` (edge cases or tests), or ``None`` with a
    note when the text is already there with the same labels (other labels: refused by `_same`)."""
    kind, article, named = ("edge case", "an edge case", "") if prefix == "E" else ("test", "a test", "test ")
    if key in table:
        _same(table[key], labels, where, kind)
        notes.append(f"{where}: not added as {article}, its text is already {named}{table[key][0]}")
        return None, counter
    new_id, counter = _free(prefix, counter, taken)
    table[key] = (new_id, labels)
    return new_id, counter


def _where(ruling: Ruling) -> str:
    return f"ruling for item {ruling.item_id}" + (f" ({ruling.source})" if ruling.source else "")


def _key(text: str) -> str:
    """What makes two item texts the same case: the words, whatever the spacing."""
    return " ".join(text.split())


def _after(ids: Iterable[str], prefix: str) -> int:
    numbers = [int(m[1]) for i in ids if (m := re.fullmatch(rf"{prefix}(\d+)", i))]
    return max(numbers, default=0) + 1


def _free(prefix: str, number: int, taken: set[str]) -> tuple[str, int]:
    while f"{prefix}{number}" in taken:
        number += 1
    taken.add(f"{prefix}{number}")
    return f"{prefix}{number}", number + 1


def _same(existing: tuple[str, set[str]], labels: set[str], where: str, what: str) -> None:
    ref, expected = existing
    if expected != labels:
        raise InputError(
            f"{where}: says {', '.join(sorted(labels))}, but {what} {ref} with the same text says "
            f"{', '.join(sorted(expected))}; settle which is right in the SOP or the ruling, then apply again"
        )


def _check_labels(sop: SOP, ruling: Ruling, where: str) -> None:
    if not ruling.text:
        raise InputError(f"{where}: has no item text")
    if not ruling.label:
        raise InputError(f"{where}: has no label")
    if not sop.multi_label and len(ruling.label) > 1:
        raise InputError(f"{where}: gives {len(ruling.label)} labels, but SOP {sop.id} is single_label")
    for label in ruling.label:
        if label in sop.answer_ids:
            continue
        node = sop.label_index.get(label)
        if node is not None:
            kids = ", ".join(c.id for c in node.children[:3]) + (", ..." if len(node.children) > 3 else "")
            message = f"label '{label}' is not a leaf label; use one of its children ({kids})"
            raise InputError(f"{where}: {message}")
        close = difflib.get_close_matches(label, sop.answer_ids, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"{where}: label '{label}' is not a label of SOP {sop.id} {sop.version}{hint}")
    if len(ruling.label) > 1:
        alone = [x for x in ruling.label if x == sop.abstain_answer or sop.label_index[x].exclusive]
        if alone:
            message = f"combines '{alone[0]}' with other labels; '{alone[0]}' must stand alone"
            raise InputError(f"{where}: {message}")


def _check_rules(sop: SOP, ruling: Ruling, where: str, notes: list[str]) -> tuple[str, ...]:
    """The rule ids the ruling cites; edge-case ids are left out of ``rules:`` (which lists rules only)."""
    rule_ids = [r.id for r in sop.rules]
    cases = {c.id for c in sop.edge_cases}
    kept: list[str] = []
    for ref in dict.fromkeys(ruling.rules):
        if ref in rule_ids:
            kept.append(ref)
        elif ref in cases:
            notes.append(f"{where}: cites edge case {ref}, left out of rules: (it lists rules only)")
        else:
            close = difflib.get_close_matches(ref, rule_ids, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"{where}: cites rule '{ref}', which SOP {sop.id} does not define{hint}")
    return tuple(kept)
