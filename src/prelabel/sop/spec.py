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
import hashlib
import json
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from prelabel.errors import Problem, SOPError
from prelabel.sop._checks import (
    LABEL_ID,
    REF_ID,
    control_characters,
    cross_check,
    problems_from_pydantic,
)
from prelabel.sop._yaml import Loc, parse_yaml, position, problem, to_plain

__all__ = [
    "MASK_KINDS",
    "SOP",
    "Abstain",
    "ChangeLogEntry",
    "EdgeCase",
    "Example",
    "Exclusion",
    "Label",
    "MaskPattern",
    "Privacy",
    "Rule",
    "SOPTest",
    "load_sop",
    "parse_sop",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_many(value: Any) -> Any:
    """Let YAML authors write ``label: a`` or ``label: [a, b]``; store a list."""
    return [value] if isinstance(value, str) else value


class Example(_Spec):
    """An example item for a label, in any language; ``images`` and ``video`` (paths relative to the SOP
    file's folder, or URLs) are shown in the guideline document, not sent to the model."""

    text: str = Field(min_length=1)
    language: str | None = None
    note: str | None = None
    images: list[str] = []
    video: str | None = None

    @model_serializer(mode="wrap")
    def _without_no_media(self, handler: Any) -> Any:
        # left out when absent, so adding the fields kept the hashes (``SOP.sha256``) of existing SOPs
        data = handler(self)
        if isinstance(data, dict):
            if not data.get("images"):
                data.pop("images", None)
            if data.get("video") is None:
                data.pop("video", None)
        return data


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


class ChangeLogEntry(_Spec):
    """One released version of the SOP and what changed in it, as annotators should read it."""

    version: str = Field(min_length=1)
    date: str | None = None
    changes: list[str] = Field(min_length=1)

    @field_validator("version", "date", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:  # YAML reads 2.0 as a number and 2024-05-01 as a date
        return value if value is None or isinstance(value, str | bool) else str(value)


#: The kinds of personal data prelabel can mask before sending (``privacy: mask:``, ``--mask``).
MASK_KINDS = ("email", "phone", "card")
_BUILT_IN_NAMES = ("EMAIL", "PHONE", "CARD")


class MaskPattern(_Spec):
    """An SOP's own kind of personal data: a placeholder ``name`` (``ORDER`` -> ``<ORDER_1>``) and a regex."""

    name: str
    regex: str = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _placeholder_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
            raise ValueError(
                f"invalid name {value!r}: use capital letters, digits and '_' (ORDER, NATIONAL_ID)"
            )
        if value in _BUILT_IN_NAMES:
            raise ValueError(f"'{value}' is a built-in kind's name; list it under mask: instead")
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.fullmatch(""):
            raise ValueError("the regex matches empty text; it must match the value to mask")
        return value


class Privacy(_Spec):
    """What is masked in items before they are sent: built-in kinds, the phone regions, the SOP's patterns."""

    mask: tuple[Literal["email", "phone", "card"], ...] = ()
    phone_regions: tuple[str, ...] = ()
    """Regions (ISO 3166 two-letter codes) whose national phone formats are read (default: the markets'
    ID, TH, VN, MY, PH, SG, US); an item's own market or language is tried first."""
    patterns: tuple[MaskPattern, ...] = ()

    @field_validator("phone_regions", mode="before")
    @classmethod
    def _regions(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [v.upper() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("phone_regions")
    @classmethod
    def _region_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not re.fullmatch(r"[A-Z]{2}", region):
                raise ValueError(f"'{region}' is not a two-letter region code (ID, TH, VN, MY, PH, SG, US)")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Privacy:
        names = [p.name for p in self.patterns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"pattern name '{repeated[0]}' is used twice")
        return self


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
    changelog: list[ChangeLogEntry] = []  # newest first; shown in guideline documents, not to the model
    privacy: Privacy = Privacy()  # personal data masked in items before they are sent (prompt.masking)

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
    def abstain_answer(self) -> str | None:
        """The answer that means "abstained": the abstain label when abstaining is allowed, else ``None``."""
        return self.abstain.label if self.abstain.allowed else None

    @property
    def answer_ids(self) -> tuple[str, ...]:
        """Leaf ids plus the abstain label when abstaining is allowed."""
        abstain = self.abstain_answer
        return self.leaf_ids + ((abstain,) if abstain else ())

    @property
    def citable_ids(self) -> tuple[str, ...]:
        """Ids of rules and edge cases, which answers may cite."""
        return tuple(r.id for r in self.rules) + tuple(e.id for e in self.edge_cases)

    def size(self) -> str:
        """How big the SOP is, in the words ``validate`` and ``doc`` both print: the leaf labels (the answers
        a model may give), the labels of the whole tree when it has parents, and the tests.

            >>> from prelabel import bundled_sop
            >>> bundled_sop("customer_feedback_intent").size()
            '13 leaf labels (20 labels in the tree), 7 tests'
        """
        leaves, nodes, tests = len(self.leaf_ids), len(self.label_index), len(self.tests)
        tree = f" ({nodes} labels in the tree)" if nodes != leaves else ""
        return f"{_count(leaves, 'leaf label')}{tree}, {_count(tests, 'test')}"

    def ancestors(self, label_id: str) -> list[str]:
        """The ids of a label and its parents, root first (``a.b.c`` → ``[a, a.b, a.b.c]``)."""
        parts = label_id.split(".")
        return [p for p in (".".join(parts[: i + 1]) for i in range(len(parts))) if p in self.label_index]

    @cached_property
    def sha256(self) -> str:
        """A stable hash of the SOP content (not of its formatting)."""
        # an empty change log or privacy section is left out, so adding them kept the existing SOPs' hashes
        empty = {"changelog"} if not self.changelog else set()
        if self.privacy == Privacy():
            empty.add("privacy")
        data = self.model_dump(mode="json", exclude=empty or None)
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
        raise SOPError([Problem(str(path), 1, 1, "", f"cannot read file: {exc.strerror or exc}")]) from None
    body = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = body[: exc.start].decode("utf-8")
        line, col = position(good, len(good))
        message = f"file is not UTF-8 text (byte 0x{body[exc.start]:02x}); save it as UTF-8"
        raise SOPError([Problem(str(path), line, col, "", message)]) from None
    return parse_sop(text, source=str(path))


def parse_sop(text: str, source: str = "<string>") -> SOP:
    """Parse and validate SOP YAML text; ``source`` names it in error messages."""
    root = parse_yaml(text, source)
    data = to_plain(root, text, source)
    sop: SOP | None = None
    problems: list[Problem] = []
    try:
        sop = SOP.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_pydantic(exc.errors(), root, source, SOP)
    found = [*cross_check(data), *control_characters(data)]
    problems += [problem(root, source, loc, message) for loc, message in found]
    if problems or sop is None:
        raise SOPError(list(dict.fromkeys(problems)))
    return sop
