"""Validation side of SOP loading: readable messages for pydantic errors, and whole-SOP cross-checks."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap

from prelabel._xml import character_name, forbidden_characters
from prelabel.errors import Problem
from prelabel.sop._yaml import Loc, describe, dotted, problem

LABEL_ID = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
REF_ID = r"^[A-Za-z][A-Za-z0-9_.-]*$"
_KEY_HINTS = {"label": "a label id or a list of label ids", "expect": "a label id or a list of label ids"}
_KEY_HINTS |= {"rules": "a list of rules (id:, text:)"}
_EXPECTED = {
    "string_type": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _fields_at(loc: Loc, model: type[BaseModel]) -> list[str]:
    """Field names the mapping at ``loc`` accepts (for 'did you mean' hints)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        args = getattr(field.annotation, "__args__", ()) or (field.annotation,)
        nested = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def problems_from_pydantic(
    errors: list[Any], root: CommentedMap, source: str, model: type[BaseModel]
) -> list[Problem]:
    """SOP problems from pydantic validation errors, located at their YAML nodes."""
    problems: list[Problem] = []
    typo_of: set[Loc] = set()  # a missing field the author most likely misspelled: reported once, as the typo
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            close = difflib.get_close_matches(name, _fields_at(loc[:-1], model), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            typo_of.update((*loc[:-1], c) for c in close)
            problems.append(problem(root, source, loc, f"unknown key '{name}'{hint}", at_key=True))
    for err in errors:
        loc, kind, given = tuple(err["loc"]), err["type"], err.get("input")
        if kind == "extra_forbidden" or (kind == "missing" and loc in typo_of):
            continue
        if kind == "missing":
            message = f"missing required field '{loc[-1]}'"
        elif kind in _EXPECTED:
            expected = (
                _KEY_HINTS.get(str(loc[-1]), _EXPECTED[kind]) if kind == "list_type" else _EXPECTED[kind]
            )
            if kind == "model_type" and len(loc) > 1 and loc[-2] == "exclude":
                expected = "text or a mapping (text:, use:)"
            message = f"expected {expected}, got {describe(given)}"
        elif kind == "too_short" and loc == ("labels",):
            message = "the label tree is empty; add at least one label"
        elif kind in ("too_short", "string_too_short"):
            message = "must not be empty"
        elif kind == "string_pattern_mismatch":
            rule = (
                "lowercase letters, digits, '_' or '-' (dotted for children)"
                if err["ctx"]["pattern"] == LABEL_ID
                else "a letter, then letters, digits, '_', '.' or '-'"
            )
            message = f"invalid id {given!r}: use {rule}"
        elif kind == "literal_error":
            message = f"must be {err['ctx']['expected']}, got {describe(given)}"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(problem(root, source, loc, message))
    return problems


def control_characters(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """One problem per text of the (unvalidated) SOP holding a character XML 1.0 forbids (NUL, ESC, ...: a
    YAML escape such as ``"\\e"`` writes one): the guideline, Label Studio's ``label_config.xml`` and JUnit
    reports are made from this text, and an SOP is where such a character is removed."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from control_characters(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from control_characters(item, (*loc, i))
    elif isinstance(value, str) and (found := forbidden_characters(value)):
        names = ", ".join(character_name(c) for c in found)
        kind = "a control character" if len(found) == 1 else "control characters"
        yield loc, f"holds {names}, {kind} XML cannot carry (label_config.xml, JUnit); remove it"


# ---------------------------------------------------------------------------------------------- cross-checks


def _raw_labels(
    nodes: Any, loc: Loc, parent: str | None = None
) -> Iterator[tuple[dict[str, Any], Loc, str | None]]:
    """Every label mapping of the (unvalidated) tree with its location and its parent's id."""
    for i, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict):
            yield node, (*loc, i), parent
            own = node.get("id") if isinstance(node.get("id"), str) else "?"
            yield from _raw_labels(node.get("children"), (*loc, i, "children"), own)


def _ids(value: Any) -> list[str]:
    """``a`` or ``[a, b]`` as a list of the ids written as text."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [v for v in values if isinstance(v, str)]


def cross_check(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Problems that need the whole SOP: duplicate ids, tree shape, dangling references.

    Runs on the raw data even when some fields are invalid, so an author sees every problem at once; values of
    the wrong type are skipped here (field validation reports them)."""
    multi = data.get("task") == "multi_label"
    first: dict[str, Loc] = {}
    nodes: dict[str, dict[str, Any]] = {}
    leaves: set[str] = set()
    unsure: set[str] = (
        set()
    )  # labels whose children are malformed: neither leaf nor parent for reference checks
    exclusive: set[str] = set()
    for node, loc, parent in _raw_labels(data.get("labels"), ("labels",)):
        label_id = node.get("id")
        if not isinstance(label_id, str):
            continue
        if label_id in first:
            yield (*loc, "id"), f"duplicate label id '{label_id}' (first at {dotted(first[label_id])})"
            continue
        first[label_id], nodes[label_id] = loc, node
        children = node.get("children")
        if not children:
            leaves.add(label_id)
        elif not isinstance(children, list):
            unsure.add(label_id)
        if parent is None and "." in label_id:
            yield (*loc, "id"), f"top-level label id '{label_id}' must not contain '.'"
        elif parent not in (None, "?") and not re.fullmatch(re.escape(f"{parent}.") + r"[^.]+", label_id):
            yield (*loc, "id"), f"child id '{label_id}' must be '{parent}.<name>' (ids are dotted paths)"
        if node.get("exclusive") is True:
            if not multi:
                yield (*loc, "exclusive"), "exclusive: only applies to multi_label SOPs"
            elif children:
                yield (*loc, "exclusive"), "exclusive: only applies to leaf labels"
            exclusive.add(label_id)

    abstain = data["abstain"] if isinstance(data.get("abstain"), dict) else {}
    allowed = abstain.get("allowed", False)
    abstain_id = abstain.get("label", "needs_review")
    if isinstance(abstain_id, str):
        if abstain_id in first:
            yield ("abstain", "label"), f"abstain label '{abstain_id}' is also a label of the tree"
        elif allowed is not False:
            leaves.add(abstain_id)
            exclusive.add(abstain_id)

    def check_answer(value: str, loc: Loc, what: str) -> Iterator[tuple[Loc, str]]:
        if value in leaves or value in unsure:
            return
        if value in nodes:
            kids = [c.get("id") for c in nodes[value].get("children", []) if isinstance(c, dict)]
            shown = ", ".join(str(k) for k in kids[:3]) + (", ..." if len(kids) > 3 else "")
            yield loc, f"{what} '{value}' is not a leaf label; use one of its children ({shown})"
        elif value == abstain_id:
            yield loc, f"{what} '{value}' is the abstain label, but abstain.allowed is false"
        else:
            close = difflib.get_close_matches(value, sorted(leaves), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield loc, f"{what} '{value}' is not a label of this SOP{hint}"

    for label_id, node in nodes.items():
        excludes = node.get("exclude")
        for j, exclusion in enumerate(excludes if isinstance(excludes, list) else []):
            use = exclusion.get("use") if isinstance(exclusion, dict) else None
            if not isinstance(use, str):
                continue
            where = (*first[label_id], "exclude", j, "use")
            if use == label_id:
                yield where, "use: points to the label itself"
            else:
                yield from check_answer(use, where, "use:")

    def check_answers(value: Any, loc: Loc, what: str) -> Iterator[tuple[Loc, str]]:
        values = _ids(value)
        if not multi and len(values) > 1:
            yield loc, f"{what} lists {len(values)} labels, but task is single_label"
        elif len(set(values)) < len(values):
            yield loc, f"{what} lists a label twice"
        elif len(values) > 1 and (alone := sorted(exclusive.intersection(values))):
            yield loc, f"{what} combines '{alone[0]}' with other labels, but '{alone[0]}' must stand alone"
        for k, item in enumerate(values):
            yield from check_answer(item, (*loc, k) if isinstance(value, list) else loc, what)

    seen_refs: dict[str, Loc] = {}
    for key in ("rules", "edge_cases"):
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            ref = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(ref, str):
                if ref in seen_refs:
                    yield (key, i, "id"), f"duplicate id '{ref}' (first at {dotted(seen_refs[ref])})"
                seen_refs.setdefault(ref, (key, i))
    rules = data.get("rules")
    rule_ids = (
        sorted({r["id"] for r in rules if isinstance(r, dict) and isinstance(r.get("id"), str)})
        if (isinstance(rules, list))
        else []
    )

    cases = data.get("edge_cases")
    for i, case in enumerate(cases if isinstance(cases, list) else []):
        if not isinstance(case, dict):
            continue
        yield from check_answers(case.get("label"), ("edge_cases", i, "label"), "label")
        cited = case.get("rules")
        for k, rule in enumerate(_ids(cited)):
            if rule not in rule_ids:
                close = difflib.get_close_matches(rule, rule_ids, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                at: Loc = (
                    ("edge_cases", i, "rules", k) if isinstance(cited, list) else ("edge_cases", i, "rules")
                )
                yield at, f"cites rule '{rule}', which is not defined under rules:{hint}"

    tests = data.get("tests")
    test_ids: dict[str, int] = {}
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        if not isinstance(test, dict):
            continue
        yield from check_answers(test.get("expect"), ("tests", i, "expect"), "expect")
        test_id = test.get("id")
        if isinstance(test_id, str):
            if test_id in test_ids:
                yield (
                    ("tests", i, "id"),
                    f"duplicate test id '{test_id}' (first at tests[{test_ids[test_id]}])",
                )
            test_ids.setdefault(test_id, i)
