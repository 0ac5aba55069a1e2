"""A reviewed ``draft_edge_cases.yaml`` (``prelabel compare --draft-edits``) read back as rulings.

``compare`` writes the file with ``draft: true`` and ``reviewed: false``. The SOP author reviews each entry
(fixes its text, label, ruling or rules, deletes it, or marks it ``accept: false``), then sets
``reviewed: true``; ``prelabel sop apply`` refuses a file that is not marked reviewed (``--dry-run`` previews
it anyway). Entries with an ``error`` (the model could not draft them) and entries marked ``accept: false``
are skipped and counted; every other entry becomes a ``Ruling``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from prelabel.errors import InputError
from prelabel.sop.rulings import Ruling
from prelabel.sop.spec import SOP

__all__ = ["ReviewedDrafts", "is_drafts_file", "read_reviewed_drafts"]

_ENTRY_KEYS = ("id", "text", "label", "ruling", "rules", "language", "accept", "error")
_HOW = "review each entry (fix it, delete it or set accept: false), then set reviewed: true at the top"


@dataclass(frozen=True)
class ReviewedDrafts:
    """The rulings a reviewed drafts file holds, and notes on what was skipped."""

    rulings: list[Ruling]
    notes: list[str]


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"cannot read {path}: {reason}") from None
    try:
        return YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise InputError(f"{where}: not valid YAML: {problem}") from None


def is_drafts_file(path: str | Path) -> bool:
    """True for a YAML file headed ``draft: true`` (what ``compare --draft-edits`` writes); ``InputError`` for
    another ``.yaml``/``.yml`` file (an SOP given by mistake, ...); False for any other file."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        return False
    root = _load(path)
    if not (isinstance(root, CommentedMap) and root.get("draft") is True):
        raise InputError(
            f"{path} is not a draft_edge_cases.yaml (no 'draft: true' at the top); sop apply reads a "
            "reviewed draft_edge_cases.yaml from compare --draft-edits or an adjudicated Label Studio or "
            "Argilla export"
        )
    return True


def read_reviewed_drafts(path: str | Path, sop: SOP, *, reviewed: bool = True) -> ReviewedDrafts:
    """The rulings of a drafts file the author reviewed; ``reviewed=False`` reads one not yet marked
    ``reviewed: true`` (a preview). ``InputError`` (one line, with the entry's line) for a file made for
    another SOP, an entry with an unknown key or a value of the wrong type, or no entry left to apply."""
    path = Path(path)
    root = _load(path)
    if not (isinstance(root, CommentedMap) and root.get("draft") is True):
        raise InputError(f"{path} is not a draft_edge_cases.yaml (no 'draft: true' at the top)")
    notes: list[str] = []
    if root.get("reviewed") is not True:
        if reviewed:
            raise InputError(f"{path} is not marked reviewed: {_HOW}")
        notes.append(f"note: {path} is not marked reviewed yet (sop apply without --dry-run refuses it)")
    made_for = root.get("sop")
    sop_id = made_for.get("id") if isinstance(made_for, dict) else None
    if sop_id is not None and str(sop_id) != sop.id:
        raise InputError(f"{path} holds drafts for SOP {sop_id}, not {sop.id}")
    drafted_on = str(made_for.get("version")) if isinstance(made_for, dict) else None
    if drafted_on is not None and drafted_on != sop.version:
        notes.append(f"note: the drafts were made for version {drafted_on}; the SOP is now {sop.version}")
    entries = root.get("edge_cases")
    if entries is None:
        entries = CommentedSeq()
    if not isinstance(entries, CommentedSeq):
        raise InputError(f"{path}: edge_cases: must be a list of drafted entries")
    rulings: list[Ruling] = []
    failed = rejected = 0
    for i, entry in enumerate(entries):
        where = f"{path}:{entries.lc.item(i)[0] + 1}: edge_cases[{i}]"
        if not isinstance(entry, CommentedMap):
            raise InputError(f"{where}: expected a mapping (id:, text:, label:, ruling:)")
        _check_keys(entry, where)
        accept = entry.get("accept", True)
        if not isinstance(accept, bool):
            raise InputError(f"{where}: accept: must be true or false")
        if "error" in entry:
            failed += 1
        elif not accept:
            rejected += 1
        else:
            rulings.append(_ruling(entry, where, path, i))
    skipped = [f"{failed} failed (error:)"] * bool(failed)
    skipped += [f"{rejected} marked accept: false"] * bool(rejected)
    if not rulings:
        detail = f" ({', '.join(skipped)})" if skipped else ""
        raise InputError(f"no draft to apply in {path}: no entry is left{detail}")
    if skipped:
        notes.append(f"skipped {' and '.join(skipped)} of {len(entries)} drafts in {path.name}")
    return ReviewedDrafts(rulings, notes)


def _check_keys(entry: CommentedMap, where: str) -> None:
    for key in entry:
        if key not in _ENTRY_KEYS:
            close = difflib.get_close_matches(str(key), _ENTRY_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"{where}: unknown key '{key}'{hint}")


def _ruling(entry: CommentedMap, where: str, path: Path, index: int) -> Ruling:
    def text(key: str, required: bool) -> str:
        value = entry.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise InputError(f"{where}: {key}: must be {'non-empty ' if required else ''}text")
        return value

    def ids(key: str) -> tuple[str, ...]:
        value = entry.get(key) or []
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: {key}: must be an id or a list of ids")
        return tuple(value)

    label = ids("label")
    if not label:
        raise InputError(f"{where}: label: is missing")
    ref = str(entry.get("id") or f"edge_cases[{index}]")
    return Ruling(
        item_id=ref,
        text=text("text", required=True),
        label=label,
        ruling=text("ruling", required=False),
        rules=ids("rules"),
        language=text("language", required=False) or None,
        source=f"{path.name}#{ref}",
    )
