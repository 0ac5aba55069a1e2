"""YAML side of SOP loading: strict ruamel.yaml parsing, plain values, node positions for messages."""

from __future__ import annotations

import datetime
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from prelabel.errors import Problem, SOPError

Loc = tuple[str | int, ...]
_MAX_NODES = 100_000  # YAML aliases can expand exponentially ("billion laughs"); no real SOP comes close


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def parse_yaml(text: str, source: str) -> CommentedMap:
    def fail(line: int, col: int, message: str) -> SOPError:
        return SOPError([Problem(source, line, col, "", message)])

    if "\x00" in text:
        raise fail(*position(text, text.index("\x00")), "file contains a NUL byte; is it a binary file?")
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
            *position(text, exc.position), f"character U+{exc.character:04X} is not allowed in YAML"
        ) from None
    except RecursionError:
        raise fail(1, 1, "YAML error: the document is nested too deeply") from None
    if not isinstance(root, CommentedMap):
        raise fail(1, 1, f"an SOP must be a mapping (id:, version:, labels:, ...), got {describe(root)}")
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


def describe(value: Any) -> str:
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


def to_plain(root: CommentedMap, text: str, source: str) -> dict[str, Any]:
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


def locate(root: CommentedMap, loc: Loc, at_key: bool) -> tuple[int, int]:
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


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem(root: CommentedMap, source: str, loc: Loc, message: str, at_key: bool = False) -> Problem:
    line, col = locate(root, loc, at_key)
    return Problem(source, line, col, dotted(loc), message)
