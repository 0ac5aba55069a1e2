"""The files a run was made from, as ``run.json`` records them: one writer, one reader, one rule for paths.

Writing: ``recorded`` turns a source (the SOP or items a run was given) into what ``run.json`` — and a Batch
API job in the ledger — stores: its absolute path, symlinks resolved, so that ``export``, ``gaps`` and
``batch collect`` find it from any directory. A source that is no file (an ``SOP`` object, a list of dicts,
a DataFrame) has no path.

Reading: ``RunSources`` gives the recorded files back, or the ones given instead (``--sop``, ``--items``),
with one message when neither is readable. ``run.json`` files written before paths were recorded absolute
hold them as typed on the command line: a relative one is read relative to the current directory (as those
releases read it), so rerun such commands from the directory ``prelabel run`` was started in, or pass
``--sop``/``--items``.

    >>> import os
    >>> recorded("sop.yaml") == os.path.join(os.path.realpath(os.getcwd()), "sop.yaml")
    True
    >>> recorded([{"id": "a", "text": "..."}]) is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from prelabel.errors import InputError
from prelabel.runs.run_dir import RunDir

__all__ = ["RunSources", "recorded"]


def recorded(source: Any) -> str | None:
    """What ``run.json`` records for a source: the absolute path of a file (``None`` for other sources)."""
    if isinstance(source, str | Path):
        return str(Path(source).resolve())
    return None


def _read_back(value: Any) -> Path | None:
    """A recorded path as a ``Path``: absolute as written; a relative one (older run.json files) against
    the current directory; ``None`` when nothing is recorded or it names an in-memory source (``<list>``)."""
    if not isinstance(value, str) or not value.strip() or (value.startswith("<") and value.endswith(">")):
        return None
    path = Path(value)
    return path if path.is_absolute() else Path.cwd() / path


@dataclass(frozen=True)
class RunSources:
    """The SOP and items files ``run.json`` names (``None`` when it names none), read by ``RunSources.of``."""

    where: str
    sop: Path | None
    items: Path | None

    @classmethod
    def of(cls, run_dir: str | Path, info: dict[str, Any] | None = None) -> RunSources:
        """The sources of the run in ``run_dir`` (a RUN_DIR or a results file in one); ``info`` is its
        ``run.json`` when already read."""
        if info is None:
            info = RunDir.of(run_dir).read_info()
        sop = (info or {}).get("sop")
        sop_path = sop.get("path") if isinstance(sop, dict) else None
        return cls(str(run_dir), _read_back(sop_path), _read_back((info or {}).get("items_source")))

    @overload
    def sop_file(self, given: str | Path | None = None, *, need: Literal[True] = True) -> Path: ...
    @overload
    def sop_file(self, given: str | Path | None = None, *, need: bool) -> Path | None: ...
    def sop_file(self, given: str | Path | None = None, *, need: bool = True) -> Path | None:
        """The SOP file to use: ``given`` (``--sop``), else the recorded one; ``None`` when neither is
        there and ``need`` is off, else ``InputError``."""
        return self._pick(given, self.sop, "SOP", "--sop", need)

    @overload
    def items_file(self, given: str | Path | None = None, *, need: Literal[True] = True) -> Path: ...
    @overload
    def items_file(self, given: str | Path | None = None, *, need: bool) -> Path | None: ...
    def items_file(self, given: str | Path | None = None, *, need: bool = True) -> Path | None:
        """The items file to use: ``given`` (``--items``), else the recorded one (as ``sop_file``)."""
        return self._pick(given, self.items, "items", "--items", need)

    def _pick(
        self, given: str | Path | None, known: Path | None, what: str, flag: str, need: bool
    ) -> Path | None:
        if given is not None:
            if not Path(given).is_file():
                raise InputError(f"{given}: no such {what} file (given with {flag})")
            return Path(given)
        if known is not None and known.is_file():
            return known
        if not need:
            return None
        named = f" ({known} is not there)" if known is not None else ""
        raise InputError(
            f"{self.where}: {RunDir.INFO} names no readable {what} file{named}; pass the {what} with {flag}"
        )
