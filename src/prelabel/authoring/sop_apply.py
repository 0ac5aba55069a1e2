"""``prelabel sop apply``: accepted rulings written into the SOP file, atomically, or shown as a diff.

Rulings come from an adjudicated Label Studio or Argilla export (``prelabel.vendors.adjudication``), from a
reviewed ``draft_edge_cases.yaml`` (``prelabel.authoring.reviewed_drafts``) or from Python. The text edit
itself is ``prelabel.sop.edit``; this module reads, checks and writes: the SOP must validate before and
after, and the file is replaced in one rename (``prelabel._jsonio``) or left exactly as it was.
"""

from __future__ import annotations

import codecs
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prelabel._jsonio import check_output, write_bytes
from prelabel.authoring.reviewed_drafts import is_drafts_file, read_reviewed_drafts
from prelabel.errors import InputError, OutputError
from prelabel.sop.edit import SOPEdit, edit_sop
from prelabel.sop.rulings import Ruling
from prelabel.sop.spec import SOP, load_sop
from prelabel.sop.versions import BUMPS

__all__ = ["SOPApply", "apply_rulings", "read_rulings_file"]


@dataclass(frozen=True)
class SOPApply:
    """What ``apply_rulings`` did: the edit (``edit.diff()``, ``edit.text``), where it went, and notes from
    reading the rulings. ``written`` is False for a dry run and when nothing changes."""

    edit: SOPEdit
    sop_path: Path
    out: Path
    rulings: int
    notes: tuple[str, ...]
    dry_run: bool
    written: bool

    def lines(self) -> list[str]:
        """What changed, one line each, then what was written (or why nothing was)."""
        out = [*self.notes, *self.edit.lines()]
        if not self.edit.changed:
            out.append(f"nothing to change: the {self.rulings} ruling(s) are already in {self.sop_path}")
        elif self.dry_run:
            out.append(f"dry run: {self.out} not written")
        else:
            out.append(f"wrote {self.out} ({self.edit.new_version})")
        return out


def read_rulings_file(path: str | Path, sop: SOP, *, dry_run: bool = False) -> tuple[list[Ruling], list[str]]:
    """The rulings in ``path`` and notes on what was skipped: a reviewed ``draft_edge_cases.yaml`` (a dry run
    also previews one not yet marked reviewed) or an adjudicated Label Studio/Argilla export."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"cannot read {path}: No such file or directory")
    if is_drafts_file(path):
        drafts = read_reviewed_drafts(path, sop, reviewed=not dry_run)
        return drafts.rulings, drafts.notes
    from prelabel.vendors.adjudication import read_adjudication  # the vendor tools' readers, for their files

    found = read_adjudication(path, sop)
    return found.rulings, [found.summary()]


def apply_rulings(
    rulings: str | Path | Iterable[Ruling],
    sop: str | Path,
    *,
    out: str | Path | None = None,
    bump: str = "minor",
    version: str | None = None,
    dry_run: bool = False,
    overwrite: bool = False,
    today: datetime.date | None = None,
) -> SOPApply:
    """Write ``rulings`` (a file, see ``read_rulings_file``, or ``Ruling`` objects) into the SOP file ``sop``:
    each as an ``edge_cases:`` entry (when it carries ruling text) and a ``tests:`` case, the version bumped
    (``bump``: major, minor or patch; or ``version``), a ``changelog:`` entry on top. Comments and formatting
    are kept. Written in place (a symlink: its target) or to ``out`` (an existing one only with
    ``overwrite``), atomically; ``dry_run`` writes nothing (``result.edit.diff()`` shows the change).

    ``SOPError`` for an SOP that does not validate (before, or after the edit: nothing is written);
    ``InputError`` (one line) for no rulings, a ruling outside the SOP, an unwritable target."""
    if bump not in BUMPS:
        raise InputError(f"--bump must be one of {', '.join(BUMPS)}, got '{bump}'")
    sop_path = Path(sop)
    loaded = load_sop(sop_path)  # every problem of an invalid SOP, before anything else
    target = Path(out) if out is not None else sop_path.resolve()
    if not dry_run:
        in_place = out is None or target.resolve() == sop_path.resolve()
        check_output(target, overwrite=overwrite or in_place)
    if isinstance(rulings, str | Path):
        found, notes = read_rulings_file(rulings, loaded, dry_run=dry_run)
        source = str(rulings)
    else:
        found, notes, source = list(rulings), [], "the rulings given"
    if not found:
        raise InputError(f"no rulings to apply in {source}")
    raw = sop_path.read_bytes()
    bom = raw.startswith(codecs.BOM_UTF8)
    text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    edit = edit_sop(text, found, source=str(sop_path), bump=bump, version=version, today=today)
    written = not dry_run and edit.changed
    if written:
        data = (codecs.BOM_UTF8 if bom else b"") + edit.text.encode("utf-8")
        try:
            write_bytes(target, data, keep_mode=True)
        except OutputError as exc:
            raise exc.kept(f"{sop_path} is unchanged") from None
    return SOPApply(edit, sop_path, target, len(found), tuple(notes), dry_run, written)
