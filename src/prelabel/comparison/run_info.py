"""The checks shared by ``route``, ``compare``, ``gaps`` and the exports: the SOP still matches the run (or
the results name the SOP given; ``run_sop`` is the one way ``route``, ``gaps`` and the exports get a run's
SOP: the one given, else the file ``run.json`` names, checked), outputs are not overwritten. Reading a run
directory (``run.json``, ``labels.jsonl``) is ``runs``.

    >>> check_sop({"sop": {"id": "demo", "sha256": "abc"}}, None, "run")  # no SOP given: nothing to check
    >>> sop_warnings({"a@1": 1, "a@2": 1, "b@1": 1}, None)
    ['the results were labeled under several SOPs or versions: a@1 (1 row), a@2 (1 row), b@1 (1 row)']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, overload

from prelabel._jsonio import check_output
from prelabel.errors import InputError
from prelabel.runs.run_dir import RunDir
from prelabel.runs.sources import RunSources
from prelabel.sop.spec import SOP, load_sop

__all__ = ["check_sop", "refuse_overwrite", "run_sop", "sop_warnings"]


def check_sop(info: dict[str, Any] | None, sop: SOP | None, source: str) -> None:
    """Raise ``InputError`` when ``sop`` is not the SOP the run was labeled with (by content hash)."""
    if sop is None or info is None:
        return
    recorded = (info.get("sop") or {}).get("sha256")
    if recorded and recorded != sop.sha256:
        raise InputError(
            f"{source}: the SOP no longer matches the run ({RunDir.INFO} sop.sha256 {recorded[:12]}…, "
            f"{sop.id}@{sop.version} is {sop.sha256[:12]}…); rerun, or pass the SOP the run used"
        )


@overload
def run_sop(
    info: dict[str, Any] | None, sop: SOP | str | Path | None, where: str, *, need: Literal[True]
) -> SOP: ...
@overload
def run_sop(
    info: dict[str, Any] | None, sop: SOP | str | Path | None, where: str, *, need: bool
) -> SOP | None: ...
def run_sop(
    info: dict[str, Any] | None, sop: SOP | str | Path | None, where: str, *, need: bool
) -> SOP | None:
    """The SOP of the run in ``where`` (``info``: its ``run.json``): ``sop`` (an ``SOP`` or a file), else the
    file ``run.json`` names (``None`` when there is none and ``need`` is off, else ``InputError``); an SOP
    that no longer matches the run is an ``InputError`` (``check_sop``)."""
    if not isinstance(sop, SOP):
        path = RunSources.of(where, info).sop_file(sop, need=need)
        sop = load_sop(path) if path is not None else None
    check_sop(info, sop, where)
    return sop


def sop_warnings(found: dict[str, int], sop: SOP | None) -> list[str]:
    """Warnings when the results name an SOP other than ``sop``, or several SOPs or versions; empty when they
    name none or just the one. ``found``: result rows per ``sop_id@sop_version`` (as in ``Provenance``)."""
    if not found:
        return []
    listed = ", ".join(f"{key} ({n} row{'s' if n != 1 else ''})" for key, n in found.items())
    if sop is not None and list(found) != [f"{sop.id}@{sop.version}"]:
        return [
            f"the results were labeled under {listed}, not {sop.id}@{sop.version} (--sop): labels are "
            "checked against an SOP they were not asked under"
        ]
    if len(found) > 1:
        return [f"the results were labeled under several SOPs or versions: {listed}"]
    return []


def refuse_overwrite(paths: Iterable[Path], force: bool) -> None:
    """Raise ``InputError`` for an output path that is a directory, that exists unless ``force``, or that
    cannot be written (``prelabel._jsonio.check_output``)."""
    for path in paths:
        check_output(path, overwrite=force)
