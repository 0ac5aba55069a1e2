"""SOP models and the strict YAML loader.

An SOP (annotation guideline) is a label tree with definitions, include/exclude criteria and examples,
numbered rules, edge cases with rulings, an abstain option and an edge-case test suite.

    >>> sop = parse_sop('''
    ... id: demo
    ... version: 1.0.0
    ... title: Demo
    ... labels:
    ...   - id: a
    ...     definition: The first label.
    ...   - id: b
    ...     definition: The second label.
    ... ''')
    >>> sop.leaf_ids
    ('a', 'b')

Every problem in a file is reported at once as ``FILE:LINE:COL: field.path: message`` (see ``SOPError``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from prelabel.errors import Problem, SOPError

__all__ = [
    "SOP",
    "Abstain",
    "EdgeCase",
    "Example",
    "Exclusion",
    "Label",
    "Rule",
    "SOPTest",
    "load_sop",
    "parse_sop",
]

LABEL_ID = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
REF_ID = r"^[A-Za-z][A-Za-z0-9_.-]*$"
Loc = tuple[str | int, ...]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_many(value: Any) -> Any:
    """Let YAML authors write ``label: a`` or ``label: [a, b]``; store a list."""
    return [value] if isinstance(value, str) else value


class Example(_Spec):
    """An example item for a label, in any language."""

    text: str = Field(min_length=1)
    language: str | None = None
    note: str | None = None


class Exclusion(_Spec):
    """Something that is *not* this label; ``use`` names the label to use instead."""

    text: str = Field(min_length=1)
    use: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value


class Label(_Spec):
    """A node of the label tree; leaves are the answers a model or annotator may give."""

    id: str = Field(pattern=LABEL_ID)
    name: str | None = None
    definition: str = Field(min_length=1)
    include: list[str] = []
    exclude: list[Exclusion] = []
    examples: list[Example] = []
    children: list[Label] = []

    @property
    def is_leaf(self) -> bool:
        """True when the label has no children."""
        return not self.children


class Rule(_Spec):
    """A numbered, citable rule."""

    id: str = Field(pattern=REF_ID)
    text: str = Field(min_length=1)


class EdgeCase(_Spec):
    """A ruling on a hard item; ``label`` holds one leaf (several for multi-label SOPs)."""

    id: str = Field(pattern=REF_ID)
    text: str = Field(min_length=1)
    label: list[str] = Field(min_length=1)
    ruling: str = Field(min_length=1)
    rules: list[str] = []
    language: str | None = None

    _label_list = field_validator("label", "rules", mode="before")(_one_or_many)


class Abstain(_Spec):
    """Whether the model may abstain, and the label it then answers."""

    allowed: bool = False
    label: str = Field(default="needs_review", pattern=LABEL_ID)
    when: str | None = None


class SOPTest(_Spec):
    """An edge-case test: an item text and the label(s) the SOP should produce."""

    text: str = Field(min_length=1)
    expect: list[str] = Field(min_length=1)
    id: str | None = None
    language: str | None = None
    note: str | None = None

    _expect_list = field_validator("expect", mode="before")(_one_or_many)


class SOP(_Spec):
    """A structured SOP: the label tree, rules, edge cases and tests for one labeling task."""

    id: str = Field(pattern=LABEL_ID)
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    task: Literal["single_label", "multi_label"] = "single_label"
    instructions: str = ""
    rationale_language: str | None = None
    labels: list[Label] = Field(min_length=1)
    rules: list[Rule] = []
    edge_cases: list[EdgeCase] = []
    abstain: Abstain = Abstain()
    tests: list[SOPTest] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @property
    def multi_label(self) -> bool:
        """True for multi-label SOPs."""
        return self.task == "multi_label"

    @cached_property
    def label_index(self) -> dict[str, Label]:
        """Every label of the tree by id, in tree order."""
        return {label.id: label for label, _ in _walk(self.labels, ("labels",))}

    @cached_property
    def leaf_ids(self) -> tuple[str, ...]:
        """The ids a model may answer with, in tree order (the abstain label excluded)."""
        return tuple(i for i, label in self.label_index.items() if label.is_leaf)

    @property
    def answer_ids(self) -> tuple[str, ...]:
        """Leaf ids plus the abstain label when abstaining is allowed."""
        return self.leaf_ids + ((self.abstain.label,) if self.abstain.allowed else ())

    @property
    def citable_ids(self) -> tuple[str, ...]:
        """Ids of rules and edge cases, which answers may cite."""
        return tuple(r.id for r in self.rules) + tuple(e.id for e in self.edge_cases)

    def ancestors(self, label_id: str) -> list[str]:
        """The ids of a label and its parents, root first (``a.b.c`` → ``[a, a.b, a.b.c]``)."""
        parts = label_id.split(".")
        return [p for p in (".".join(parts[: i + 1]) for i in range(len(parts))) if p in self.label_index]

    @cached_property
    def sha256(self) -> str:
        """A stable hash of the SOP content (not of its formatting)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _walk(labels: list[Label], loc: Loc) -> Iterator[tuple[Label, Loc]]:
    for i, label in enumerate(labels):
        yield label, (*loc, i)
        yield from _walk(label.children, (*loc, i, "children"))


# ---------------------------------------------------------------------------------------------- loading


def load_sop(path: str | Path) -> SOP:
    """Load and validate an SOP YAML file; raise ``SOPError`` listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SOPError([Problem(str(path), 1, 1, "", f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _position(raw, exc.start)
        raise SOPError([Problem(str(path), line, col, "", "file is not UTF-8 text")]) from None
    return parse_sop(text, source=str(path))


def parse_sop(text: str, source: str = "<string>") -> SOP:
    """Parse and validate SOP YAML text; ``source`` names it in error messages."""
    root = _parse_yaml(text, source)
    try:
        sop = SOP.model_validate(_plain(root))
    except ValidationError as exc:
        raise SOPError([_problem_from_pydantic(err, root, source) for err in exc.errors()]) from None
    problems = [_problem(root, source, loc, message, at_key) for loc, message, at_key in _cross_check(sop)]
    if problems:
        raise SOPError(problems)
    return sop


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    line = before.count(b"\n") + 1
    col = offset - (before.rfind(b"\n") + 1) + 1
    return line, col


def _parse_yaml(text: str, source: str) -> CommentedMap:
    if "\x00" in text:
        line, col = _position(text.encode(), text.encode().index(b"\x00"))
        raise SOPError([Problem(source, line, col, "", "file contains a NUL byte; is it binary?")])
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise SOPError([Problem(source, 1, 1, "", "file is empty; an SOP needs id, version, title and labels")])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        if "duplicate key" in message:
            message = message.split(" with value")[0]
        raise SOPError([Problem(source, line, col, "", f"YAML error: {message}")]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. reader errors)
        raise SOPError([Problem(source, 1, 1, "", f"YAML error: {exc}")]) from None
    if not isinstance(root, CommentedMap):
        kind = "a list" if isinstance(root, CommentedSeq) else f"a {type(root).__name__}"
        raise SOPError(
            [Problem(source, 1, 1, "", f"an SOP must be a mapping (id:, version:, labels:, ...), got {kind}")]
        )
    return root


def _plain(node: Any) -> Any:
    """Convert ruamel's round-trip nodes into plain Python values (keeps list indexes and keys)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _locate(root: CommentedMap, loc: Loc, at_key: bool) -> tuple[int, int, Loc]:
    """Return the 1-based position of the node at ``loc`` and the part of ``loc`` that exists."""
    node: Any = root
    line, col = 1, 1
    found: list[str | int] = []
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            ln, cl = node.lc.key(part) if (last and at_key) else node.lc.value(part)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            ln, cl = node.lc.item(part)
        else:
            break
        line, col = ln + 1, cl + 1
        found.append(part)
        node = node[part]
    return line, col, tuple(found)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(root: CommentedMap, source: str, loc: Loc, message: str, at_key: bool = False) -> Problem:
    line, col, _ = _locate(root, loc, at_key)
    return Problem(source, line, col, _dotted(loc), message)


_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}
_EXPECTED = {
    "string_type": "text",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _fields_at(loc: Loc) -> list[str]:
    """Field names a mapping at ``loc`` accepts (for 'did you mean' hints)."""
    model: type[BaseModel] = SOP
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        inner = field.annotation
        args = getattr(inner, "__args__", ()) or (inner,)
        nxt = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nxt is None:
            return []
        model = nxt
    return list(model.model_fields)


def _problem_from_pydantic(err: Any, root: CommentedMap, source: str) -> Problem:
    loc: Loc = tuple(err["loc"])
    kind, given = err["type"], err.get("input")
    given_name = _TYPE_NAMES.get(type(given), type(given).__name__)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        close = difflib.get_close_matches(name, _fields_at(loc[:-1]), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return _problem(root, source, loc, f"unknown key '{name}'{hint}", at_key=True)
    if kind == "missing":
        return _problem(root, source, loc, f"missing required field '{loc[-1]}'")
    if kind in _EXPECTED:
        return _problem(root, source, loc, f"expected {_EXPECTED[kind]}, got {given_name}")
    if kind == "too_short" and loc == ("labels",):
        return _problem(root, source, loc, "the label tree is empty; add at least one label")
    if kind in ("too_short", "string_too_short"):
        return _problem(root, source, loc, "must not be empty")
    if kind == "string_pattern_mismatch":
        rule = "lowercase letters, digits, '_' or '-', dotted for children" if loc[-1] != "id" or (
            len(loc) > 1 and loc[0] in ("labels", "abstain")
        ) or loc == ("id",) else "a letter then letters, digits, '_', '.' or '-'"
        return _problem(root, source, loc, f"invalid id {given!r}: use {rule}")
    return _problem(root, source, loc, str(err["msg"]))


def _cross_check(sop: SOP) -> Iterator[tuple[Loc, str, bool]]:
    """Problems that need the whole SOP: duplicate ids, tree shape and dangling references."""
    seen: dict[str, Loc] = {}
    leaves: set[str] = set()
    for label, loc in _walk(sop.labels, ("labels",)):
        if label.id in seen:
            yield (*loc, "id"), f"duplicate label id '{label.id}' (first at {_dotted(seen[label.id])})", False
        else:
            seen[label.id] = loc
        if label.is_leaf:
            leaves.add(label.id)
        for j, child in enumerate(label.children):
            if not child.id.startswith(label.id + ".") or "." in child.id[len(label.id) + 1 :]:
                yield (*loc, "children", j, "id"), (
                    f"child id '{child.id}' must be '{label.id}.<name>' (ids are dotted paths)"
                ), False
    for i, label in enumerate(sop.labels):
        if "." in label.id:
            yield ("labels", i, "id"), f"top-level label id '{label.id}' must not contain '.'", False

    answers = set(leaves) | ({sop.abstain.label} if sop.abstain.allowed else set())
    if sop.abstain.label in seen:
        yield ("abstain", "label"), f"abstain label '{sop.abstain.label}' is also a label of the tree", False

    def check_answer(value: str, loc: Loc, what: str) -> Iterator[tuple[Loc, str, bool]]:
        if value in answers:
            return
        if value in seen:
            kids = ", ".join(c.id for c in sop.label_index[value].children[:3])
            yield loc, f"{what} '{value}' is not a leaf label; use one of its children ({kids}, ...)", False
        elif value == sop.abstain.label:
            yield loc, f"{what} '{value}' is the abstain label, but abstain.allowed is false", False
        else:
            close = difflib.get_close_matches(value, sorted(answers), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield loc, f"{what} '{value}' is not a label of this SOP{hint}", False

    for label, loc in _walk(sop.labels, ("labels",)):
        for j, exclusion in enumerate(label.exclude):
            if exclusion.use is None:
                continue
            if exclusion.use == label.id:
                yield (*loc, "exclude", j, "use"), "exclude.use points to the label itself", False
            else:
                yield from check_answer(exclusion.use, (*loc, "exclude", j, "use"), "use:")

    refs: dict[str, Loc] = {}
    for key, items in (("rules", sop.rules), ("edge_cases", sop.edge_cases)):
        for i, item in enumerate(items):
            if item.id in refs:
                yield (key, i, "id"), f"duplicate id '{item.id}' (first at {_dotted(refs[item.id])})", False
            else:
                refs[item.id] = (key, i)
    rule_ids = {r.id for r in sop.rules}

    def check_multi(values: list[str], loc: Loc, what: str) -> Iterator[tuple[Loc, str, bool]]:
        if not sop.multi_label and len(values) > 1:
            yield loc, f"{what} lists {len(values)} labels, but task is single_label", False
        if len(set(values)) < len(values):
            yield loc, f"{what} repeats a label", False
        for k, value in enumerate(values):
            yield from check_answer(value, (*loc, k) if len(values) > 1 else loc, what)

    for i, case in enumerate(sop.edge_cases):
        yield from check_multi(case.label, ("edge_cases", i, "label"), "label")
        for k, rule in enumerate(case.rules):
            if rule not in rule_ids:
                where = ("edge_cases", i, "rules", k) if len(case.rules) > 1 else ("edge_cases", i, "rules")
                yield where, f"cites rule '{rule}', which is not in rules:", False
    test_ids: dict[str, int] = {}
    for i, test in enumerate(sop.tests):
        yield from check_multi(test.expect, ("tests", i, "expect"), "expect")
        if test.id is not None:
            if test.id in test_ids:
                yield ("tests", i, "id"), f"duplicate test id '{test.id}' (first at tests[{test_ids[test.id]}])", False
            test_ids.setdefault(test.id, i)
