"""Rulings written into an SOP's YAML text (``prelabel sop apply``), keeping the file as its author wrote it.

The text goes through ruamel.yaml's round trip: comments, key order, quoting, flow or block style and the
file's own indentation (detected) survive; only the added lines and the version line change. Each ruling
becomes an ``edge_cases:`` entry (next free ``E<n>``, when it carries ruling text) and a ``tests:`` case (next
free ``T<n>``); the version is bumped and a ``changelog:`` entry naming the items goes on top.

    >>> from prelabel.sop.rulings import Ruling
    >>> text = '''id: demo
    ... version: 1.0.0   # bump me
    ... title: Demo
    ... labels:
    ...   - {id: a, definition: The first label.}
    ...   - {id: b, definition: The second label.}
    ... '''
    >>> ruling = Ruling("item-7", "a or b?", ("b",), ruling="Ties go to b.")
    >>> edit = edit_sop(text, [ruling], today=datetime.date(2025, 1, 31))
    >>> print(edit.text)
    id: demo
    version: 1.1.0   # bump me
    title: Demo
    labels:
      - {id: a, definition: The first label.}
      - {id: b, definition: The second label.}
    edge_cases:
      - id: E1
        text: a or b?
        label: b
        ruling: Ties go to b.
    tests:
      - id: T1
        text: a or b?
        expect: b
    changelog:
      - version: 1.1.0
        date: 2025-01-31
        changes:
          - Edge case E1 and test T1 from item item-7 (label b)
    <BLANKLINE>
"""

from __future__ import annotations

import datetime
import difflib
import io
import itertools
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from prelabel.errors import InputError
from prelabel.sop.ruling_checks import Planned, plan_rulings
from prelabel.sop.rulings import Ruling
from prelabel.sop.spec import SOP, parse_sop
from prelabel.sop.versions import bump_version

__all__ = ["SOPEdit", "edit_sop"]

#: The spec's order of the top-level keys: a missing section is created where this order puts it.
_ORDER = tuple(SOP.model_fields)
_EDGE_KEYS = ("id", "text", "label", "ruling", "rules", "language")
_TEST_KEYS = ("id", "text", "expect", "language")
_LOG_KEYS = ("version", "date", "changes")


@dataclass(frozen=True)
class SOPEdit:
    """The SOP text before and after rulings were written into it, and what changed.

    ``added``: ``(kind, id, ruling)`` per added ``edge_case`` or ``test``; ``notes``: what was left out and
    why (a test whose text is already a test, ...); ``reformatted``: lines outside the added ones that the
    YAML round trip could not keep as written (0 for files in the usual YAML styles)."""

    before: str
    text: str
    old_version: str
    new_version: str
    added: tuple[tuple[str, str, Ruling], ...]
    notes: tuple[str, ...] = ()
    reformatted: int = 0

    @property
    def changed(self) -> bool:
        """True when the SOP text changes."""
        return self.text != self.before

    def diff(self, name: str = "SOP") -> str:
        """A unified diff of the change (``a/NAME`` → ``b/NAME``)."""
        before, after = self.before.splitlines(keepends=True), self.text.splitlines(keepends=True)
        lines = difflib.unified_diff(before, after, f"a/{name}", f"b/{name}")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def lines(self) -> list[str]:
        """One line per added edge case or test, each note, and the version bump."""
        out = []
        for kind, ref, ruling in self.added:
            labels = ", ".join(ruling.label)
            what = f"edge case {ref}: {labels}" if kind == "edge_case" else f"test {ref}: expect {labels}"
            out.append(f"added {what} (item {ruling.item_id})")
        out += self.notes
        if self.changed:
            out.append(f"version {self.old_version} -> {self.new_version}, changelog entry added")
        if self.reformatted:
            out.append(f"note: the YAML writer reformats {self.reformatted} other line(s) (see --dry-run)")
        return out


def edit_sop(
    text: str,
    rulings: list[Ruling],
    *,
    source: str = "<string>",
    bump: str = "minor",
    version: str | None = None,
    today: datetime.date | None = None,
) -> SOPEdit:
    """Write ``rulings`` into the SOP YAML ``text``; return the new text and what changed.

    The SOP must validate first (``SOPError``); a ruling whose label is not an answer of the SOP, that cites
    an unknown rule, or that contradicts a test or edge case with the same text is refused (``InputError``
    naming it). ``version`` replaces the bump (``bump``: major, minor or patch of the current version). The
    result is validated again before it is returned. Nothing to add (every ruling is already in the SOP):
    the text comes back unchanged."""
    crlf = "\r\n" in text
    work = text.replace("\r\n", "\n") if crlf else text
    sop = parse_sop(work, source)
    plan = plan_rulings(sop, rulings)
    new_version = _next_version(sop, bump, version) if plan.entries else sop.version
    if not plan.entries:
        return SOPEdit(text, text, sop.version, sop.version, (), tuple(plan.notes))
    yaml = _yaml(work)
    root = yaml.load(work)
    reformatted = _count_changed(work, _dump(yaml, root))
    added = _write(root, sop, plan.entries)
    _set_version(root, new_version)
    changes = [_change_line(p) for p in plan.entries]
    _add_changelog(root, new_version, today or datetime.datetime.now(datetime.UTC).date(), changes)
    new = _dump(yaml, root)
    parse_sop(new, f"{source} (after sop apply)")  # the result must load as the original did
    if crlf:
        new = new.replace("\n", "\r\n")
    return SOPEdit(text, new, sop.version, new_version, added, tuple(plan.notes), reformatted)


def _next_version(sop: SOP, bump: str, version: str | None) -> str:
    new = version.strip() if version is not None else bump_version(sop.version, bump)
    if not new:
        raise InputError("--version is empty")
    if new == sop.version or new in {entry.version for entry in sop.changelog}:
        raise InputError(f"version {new} is already this SOP's version or in its changelog; give a new one")
    return new


# ------------------------------------------------------------------------------------------ the YAML side


def _yaml(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long lines the author kept on one line
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _indentation(text: str) -> tuple[int, int, int]:
    """The file's mapping indent, block-sequence indent and dash offset (ruamel's ``indent()`` settings),
    from the first nested block mapping and the first block sequence under a key; 2, 4, 2 by default."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping, sequence, offset = 0, 0, -1
    for above, line in itertools.pairwise(lines):
        key = re.fullmatch(r"( *)(?:- +)?[^\s#'\"{\[][^:]*:\s*(?:#.*)?", above)
        if key is None:
            continue
        col = len(above) - len(above.lstrip(" -")) if above.lstrip().startswith("-") else len(key[1])
        dash = re.match(r"( *)- +(?=\S)", line)
        if dash and offset < 0 and len(dash[1]) >= col:
            offset, sequence = len(dash[1]) - col, len(dash[0]) - col
        elif not dash and not mapping and (indent := len(line) - len(line.lstrip(" "))) > col:
            mapping = indent - col
        if mapping and offset >= 0:
            break
    if offset < 0:
        offset, sequence = 2, 4
    return mapping or 2, max(sequence, offset + 2), offset


def _dump(yaml: YAML, root: Any) -> str:
    out = io.StringIO()
    yaml.dump(root, out)
    return out.getvalue()


def _count_changed(before: str, after: str) -> int:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))


def _write(root: CommentedMap, sop: SOP, entries: list[Planned]) -> tuple[tuple[str, str, Ruling], ...]:
    """Append the planned edge cases and tests; return what was added, in order."""
    added: list[tuple[str, str, Ruling]] = []
    cases = _section(root, "edge_cases")
    tests = _section(root, "tests")
    for planned in entries:
        label: Any = planned.ruling.label[0] if len(planned.ruling.label) == 1 else list(planned.ruling.label)
        language = {"language": planned.ruling.language} if planned.ruling.language else {}
        if planned.edge_case:
            values = {"id": planned.edge_case, "text": planned.ruling.text, "label": label}
            values |= {"ruling": planned.ruling.ruling.strip()}
            values |= {"rules": list(planned.rules)} if planned.rules else {}
            _append(cases, {**values, **language}, _EDGE_KEYS)
            added.append(("edge_case", planned.edge_case, planned.ruling))
        if planned.test:
            values = {"id": planned.test, "text": planned.ruling.text, "expect": label, **language}
            _append(tests, values, _TEST_KEYS)
            added.append(("test", planned.test, planned.ruling))
    for key, section in (("edge_cases", cases), ("tests", tests)):
        if section and key not in root:
            _insert(root, key, section)
    return tuple(added)


def _section(root: CommentedMap, key: str) -> CommentedSeq:
    value = root.get(key)
    return value if isinstance(value, CommentedSeq) else CommentedSeq()


def _insert(root: CommentedMap, key: str, value: CommentedSeq) -> None:
    """Add a missing top-level section where the spec's order puts it (after the last key before it)."""
    rank = _ORDER.index(key)
    keys = list(root)
    after = [i for i, k in enumerate(keys) if k in _ORDER and _ORDER.index(k) < rank]
    position = after[-1] + 1 if after else len(keys)
    if position == len(keys) and keys:  # the new last section takes the comments that end the file
        _end_comments(value, _trailing(root, keys[-1]))
    root.insert(position, key, value)


def _append(seq: CommentedSeq, values: dict[str, Any], order: tuple[str, ...]) -> None:
    """Append a mapping in the style of the sequence's last entry (flow or block, quoting, key order)."""
    template = seq[-1] if len(seq) and isinstance(seq[-1], CommentedMap) else None
    flow = template is not None and bool(template.fa.flow_style())
    entry = CommentedMap()
    for key in _ordered(values, template, order):
        entry[key] = _styled(template.get(key) if template is not None else None, values[key], flow)
    if flow:
        entry.fa.set_flow_style()
    if len(seq):  # comments and blank lines after the last entry stay after the section
        _end_comments(seq, _trailing(seq, len(seq) - 1))
    seq.append(entry)


def _end_comments(seq: CommentedSeq, tokens: list[CommentToken]) -> None:
    """Put ``tokens`` first among the comments after ``seq`` (ruamel writes them only when the sequence has
    its own comment slot)."""
    if tokens:
        if seq.ca.comment is None:
            seq.ca.comment = [None, None]
        seq.ca.end = tokens + list(seq.ca.end or [])


def _ordered(values: dict[str, Any], template: CommentedMap | None, order: tuple[str, ...]) -> list[str]:
    """The keys of a new entry in the order of the entry above it (keys it lacks: ``order``, after them)."""
    known = list(template) if template is not None else []
    return sorted(values, key=lambda k: (known.index(k) if k in known else len(known), order.index(k)))


def _styled(like: Any, value: Any, flow: bool) -> Any:
    """``value`` written as ``like`` (the same key of the entry above) is: quoted alike, lists flow alike."""
    if isinstance(value, list):
        seq = CommentedSeq(_styled(None, v, True) for v in value)
        if flow or not isinstance(like, CommentedSeq) or like.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if not isinstance(value, str):
        return value
    if "\n" in value:
        return DoubleQuotedScalarString(value) if flow else LiteralScalarString(value)
    if isinstance(like, DoubleQuotedScalarString | SingleQuotedScalarString):
        return type(like)(value)
    return value


def _trailing(node: Any, key: Any) -> list[CommentToken]:
    """Detach the blank lines and comment lines that follow ``node[key]`` (ruamel keeps them with the last
    value written), leaving an end-of-line comment in place; they go after whatever is added below it."""
    moved: list[CommentToken] = []
    child = node[key]
    if isinstance(child, CommentedMap | CommentedSeq) and len(child):
        moved += _trailing(child, list(child)[-1] if isinstance(child, CommentedMap) else len(child) - 1)
        moved += list(child.ca.end or [])
        child.ca.end = []
    slot = 2 if isinstance(node, CommentedMap) else 0
    entry = node.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if isinstance(token, CommentToken):
        head, _, tail = token.value.partition("\n")
        if token.value.startswith("#"):
            if tail:
                token.value = head + "\n"
                moved.append(CommentToken(tail, CommentMark(0)))
        else:  # blank lines first; after a plain scalar the token starts with that scalar's own line break
            entry[slot] = None
            block = isinstance(child, LiteralScalarString | FoldedScalarString)
            if not block and token.value.startswith("\n"):
                token.value = token.value[1:]
            if token.value:
                moved.append(token)
    return moved


def _set_version(root: CommentedMap, version: str) -> None:
    old = root["version"]
    if isinstance(old, int) and not isinstance(old, bool) and version.isdigit():
        root["version"] = int(version)
    elif isinstance(old, DoubleQuotedScalarString | SingleQuotedScalarString):
        root["version"] = type(old)(version)
    else:
        root["version"] = version


def _add_changelog(root: CommentedMap, version: str, today: datetime.date, changes: list[str]) -> None:
    log = _section(root, "changelog")
    template = log[0] if len(log) and isinstance(log[0], CommentedMap) else None
    flow = template is not None and bool(template.fa.flow_style())
    entry = CommentedMap()
    values = {"version": version, "date": today, "changes": changes}
    for key in _ordered(values, template, _LOG_KEYS):
        like = template.get(key) if template is not None else None
        if key == "changes":
            seq = CommentedSeq(_styled(None, c, flow) for c in changes)
            if flow or (isinstance(like, CommentedSeq) and like.fa.flow_style()):
                seq.fa.set_flow_style()
            entry[key] = seq
        else:
            entry[key] = _styled(like, values[key], flow)
    if flow:
        entry.fa.set_flow_style()
    log.insert(0, entry)
    if "changelog" not in root:
        _insert(root, "changelog", log)


def _change_line(planned: Planned) -> str:
    """The changelog line of one ruling: what was added, from which item, with which label."""
    parts = [f"edge case {planned.edge_case}"] if planned.edge_case else []
    parts += [f"test {planned.test}"] if planned.test else []
    what = " and ".join(parts)
    labels = f"label{'s' if len(planned.ruling.label) > 1 else ''} {', '.join(planned.ruling.label)}"
    return f"{what[0].upper()}{what[1:]} from item {planned.ruling.item_id} ({labels})"
