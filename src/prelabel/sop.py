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

import codecs
import datetime
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
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

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
    exclusive: bool = False  # multi-label SOPs: this leaf is never combined with other labels (e.g. "safe")

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

_MAX_NODES = 100_000  # YAML aliases can expand exponentially ("billion laughs"); no real SOP comes close
_KEY_HINTS = {"label": "a label id or a list of label ids", "expect": "a label id or a list of label ids"}
_KEY_HINTS |= {"rules": "a list of rules (id:, text:)"}


def load_sop(path: str | Path) -> SOP:
    """Load and validate an SOP YAML file; raise ``SOPError`` listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SOPError([Problem(str(path), 1, 1, "", f"cannot read file: {exc.strerror or exc}")]) from None
    body = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = body[: exc.start].decode("utf-8")
        line, col = _position(good, len(good))
        message = f"file is not UTF-8 text (byte 0x{body[exc.start]:02x}); save it as UTF-8"
        raise SOPError([Problem(str(path), line, col, "", message)]) from None
    return parse_sop(text, source=str(path))


def parse_sop(text: str, source: str = "<string>") -> SOP:
    """Parse and validate SOP YAML text; ``source`` names it in error messages."""
    root = _parse_yaml(text, source)
    data = _to_plain(root, text, source)
    sop: SOP | None = None
    problems: list[Problem] = []
    try:
        sop = SOP.model_validate(data)
    except ValidationError as exc:
        problems += _problems_from_pydantic(exc.errors(), root, source)
    problems += [_problem(root, source, loc, message) for loc, message in _cross_check(data)]
    if problems or sop is None:
        raise SOPError(list(dict.fromkeys(problems)))
    return sop


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _parse_yaml(text: str, source: str) -> CommentedMap:
    def fail(line: int, col: int, message: str) -> SOPError:
        return SOPError([Problem(source, line, col, "", message)])

    if "\x00" in text:
        raise fail(*_position(text, text.index("\x00")), "file contains a NUL byte; is it a binary file?")
    if all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise fail(1, 1, "file is empty; an SOP needs id, version, title and labels")
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise fail(line, col, _yaml_message(exc, text)) from None
    except ReaderError as exc:
        raise fail(
            *_position(text, exc.position), f"character U+{exc.character:04X} is not allowed in YAML"
        ) from None
    except RecursionError:
        raise fail(1, 1, "YAML error: the document is nested too deeply") from None
    if not isinstance(root, CommentedMap):
        raise fail(1, 1, f"an SOP must be a mapping (id:, version:, labels:, ...), got {_describe(root)}")
    return root


def _yaml_message(exc: MarkedYAMLError, text: str) -> str:
    """A one-line explanation of a ruamel parse error."""
    problem = " ".join(str(exc.problem or "").split())
    if isinstance(exc, DuplicateKeyError) and (
        found := re.match(r'found duplicate key "(.*?)" with value', problem)
    ):
        key, mark, first = found.group(1), exc.problem_mark, None
        if mark is not None and exc.context_mark is not None:
            lines = text.splitlines()
            for n in range(exc.context_mark.line, mark.line):
                prefix = lines[n][: mark.column]
                if lines[n][mark.column :].startswith(f"{key}:") and set(prefix) <= {" ", "-"}:
                    first = n + 1
                    break
        where = f" (first at line {first})" if first else ""
        return f"YAML error: duplicate key '{key}'{where}; a key may appear only once in a mapping"
    if "another document" in problem:
        return "YAML error: the file holds more than one YAML document ('---'); an SOP is a single document"
    if "'\\t'" in problem:
        return "YAML error: a tab character cannot indent YAML; use spaces"
    message = f"YAML error: {problem or 'invalid YAML'}"
    if exc.context and exc.context_mark and exc.context_mark != exc.problem_mark:
        mark = exc.context_mark
        message += (
            f" ({' '.join(str(exc.context).split())} at line {mark.line + 1}, column {mark.column + 1})"
        )
    return message


def _describe(value: Any) -> str:
    """How an error message names a value the author wrote ("text 'maybe'", "a list", ...)."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text {shown!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _to_plain(root: CommentedMap, text: str, source: str) -> dict[str, Any]:
    """Plain Python values from ruamel nodes. Numbers and dates become their source text, so ``version: 1.10``
    stays ``"1.10"`` and a test text ``12345`` stays text; true/false stay booleans."""
    lines = text.splitlines()
    count = 0

    def scalar(value: Any, pos: tuple[int, int] | None, flow: bool) -> Any:
        if isinstance(value, ScalarBoolean):
            return bool(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, int | float | datetime.date) and not isinstance(value, bool):
            if pos is not None and pos[0] < len(lines):
                written = re.sub(r"^(?:[!&]\S*\s+)*", "", lines[pos[0]][pos[1] :])
                written = re.split(r"[,\]}]" if flow else r"\s#", written)[0].strip()
                if written:
                    return written
            return str(value)
        return value

    def walk(node: Any, pos: tuple[int, int] | None, flow: bool) -> Any:
        nonlocal count
        count += 1
        if count > _MAX_NODES:
            raise SOPError([Problem(source, 1, 1, "", "the YAML expands to too many nodes (alias loop?)")])
        if isinstance(node, CommentedMap):
            style, entries = bool(node.fa.flow_style()), node.lc.data
            return {
                str(k): walk(v, (entries[k][2], entries[k][3]) if k in entries else None, style)
                for k, v in node.items()
            }
        if isinstance(node, CommentedSeq):
            style, entries = bool(node.fa.flow_style()), node.lc.data
            return [
                walk(v, tuple(entries[i][:2]) if i in entries else None, style) for i, v in enumerate(node)
            ]
        return scalar(node, pos, flow)

    plain: dict[str, Any] = walk(root, None, False)
    return plain


def _locate(root: CommentedMap, loc: Loc, at_key: bool) -> tuple[int, int]:
    """The 1-based position of the node at ``loc`` (or of its nearest existing parent)."""
    node: Any = root
    line, col = 1, 1
    for depth, part in enumerate(loc):
        keys = [k for k in node if str(k) == part] if isinstance(node, CommentedMap) else []
        if keys:
            key = keys[0]
            last = depth == len(loc) - 1
            # an empty value has no position of its own (ruamel gives the next token's): point at its key
            ln, cl = node.lc.key(key) if (last and at_key) or node[key] is None else node.lc.value(key)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            ln, cl = node.lc.item(part)
            node = node[part]
        else:
            break
        line, col = ln + 1, cl + 1
    return line, col


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(root: CommentedMap, source: str, loc: Loc, message: str, at_key: bool = False) -> Problem:
    line, col = _locate(root, loc, at_key)
    return Problem(source, line, col, _dotted(loc), message)


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
    """Field names the mapping at ``loc`` accepts (for 'did you mean' hints)."""
    model: type[BaseModel] = SOP
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


def _problems_from_pydantic(errors: list[Any], root: CommentedMap, source: str) -> list[Problem]:
    problems: list[Problem] = []
    typo_of: set[Loc] = set()  # a missing field the author most likely misspelled: reported once, as the typo
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            close = difflib.get_close_matches(name, _fields_at(loc[:-1]), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            typo_of.update((*loc[:-1], c) for c in close)
            problems.append(_problem(root, source, loc, f"unknown key '{name}'{hint}", at_key=True))
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
            message = f"expected {expected}, got {_describe(given)}"
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
            message = f"must be {err['ctx']['expected']}, got {_describe(given)}"
        else:
            message = str(err["msg"])
        problems.append(_problem(root, source, loc, message))
    return problems


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


def _cross_check(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
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
            yield (*loc, "id"), f"duplicate label id '{label_id}' (first at {_dotted(first[label_id])})"
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
                    yield (key, i, "id"), f"duplicate id '{ref}' (first at {_dotted(seen_refs[ref])})"
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
