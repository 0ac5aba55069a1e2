"""The one reader of ``labels.jsonl``: every command that reads a run's results (``compare``, ``export``,
``route`` and its calibration set, ``gaps``) reads them here, with one policy for a cut-off last line.

A run that crashed while writing ``labels.jsonl`` (or a file copied while it was written) can end in a line
that is cut off. Every line before it is good, and the run's ledger holds the whole result: the cut-off line
is skipped, and ``LabelLines.warnings`` says so — which line, that one item is left out, and that rerunning
``prelabel run`` completes the file. A line that is not JSON anywhere else is a broken file (``InputError``).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl"
    >>> _ = path.write_text('{"item_id": "a"}\\n{"item_id": "b", "lab', encoding="utf-8")
    >>> lines = read_labels(path)
    >>> [row["item_id"] for row in lines.rows], lines.cut_line
    (['a'], 2)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.inputs.file_checks import check_not_wide_text
from prelabel.runs.run_dir import RunDir

__all__ = ["LabelLines", "cut_off_warning", "labels_path", "read_labels"]


def cut_off_warning(path: Path, line: int) -> str:
    """The warning for a cut-off last line: the same words in every command."""
    return (
        f"{path}:{line}: the last line is cut off (as after a crash) and skipped: 1 item is left out; rerun "
        f"the same `prelabel run` command to complete {path.name} (finished items are not sent again)"
    )


@dataclass(frozen=True)
class LabelLines:
    """The result lines of a ``labels.jsonl`` (as dicts, in file order), and the number of a cut-off last
    line that was skipped (0: none)."""

    path: Path
    rows: list[dict[str, Any]]
    cut_line: int = 0

    @property
    def warnings(self) -> list[str]:
        """What the reader has to say (the cut-off line), empty when the file is whole."""
        return [cut_off_warning(self.path, self.cut_line)] if self.cut_line else []

    def repeated(self) -> set[int]:
        """The indices of the lines whose ``item_id`` an earlier line holds. A run labels the first row of an
        id and records every later one as a ``duplicate id`` error (``inputs.reading``), so every command
        pairs an id with its first line: these lines are never an item's result."""
        seen: set[str] = set()
        later: set[int] = set()
        for index, row in enumerate(self.rows):
            key = str(row.get("item_id"))
            if key in seen:
                later.add(index)
            seen.add(key)
        return later

    def require_ids(self) -> LabelLines:
        """These lines, checked to have an ``item_id`` each (``InputError`` names the first without)."""
        for number, row in enumerate(self.rows, start=1):
            if "item_id" not in row:
                raise InputError(f"{self.path}: result {number} has no item_id")
        return self


def labels_path(source: str | Path) -> Path:
    """``labels.jsonl`` of a run directory (or the results file itself); ``InputError`` if there is none."""
    path = Path(source)
    if path.is_dir():
        path = RunDir(path).labels
    if not path.is_file():
        raise InputError(f"{path}: no model results here (expected a RUN_DIR holding {RunDir.LABELS})")
    return path


def read_labels(source: str | Path) -> LabelLines:
    """The result lines of a RUN_DIR's ``labels.jsonl`` (or of a results file); a cut-off last line is
    skipped with a warning (``LabelLines.warnings``). ``InputError`` for a missing, unreadable, empty or
    broken file, naming the file and line."""
    path = labels_path(source)
    check_not_wide_text(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read model results: {exc}") from None
    last = max((i for i, line in enumerate(lines, start=1) if line.strip()), default=0)
    rows: list[dict[str, Any]] = []
    cut = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == last and rows:  # what a crash mid-write leaves; the rows before it are good
                cut = number
                continue
            raise InputError(f"{path}:{number}: not a JSON object: {exc.msg}") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: model results file is empty")
    return LabelLines(path, rows, cut)
