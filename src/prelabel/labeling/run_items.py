"""The items a run's results are paired with, checked against the run's ledger: the texts an export or
``gaps`` uses are the ones the run labeled, or the command stops with one line.

A result line is paired with the item of the same id (the first row of that id: a run labels only the first
row of an id, and records each later one as a ``duplicate id`` error). The items come from the file
``run.json`` names (an absolute path, ``runs.sources``) or the one given (``--items``), and each item paired
with a line is checked against the digest the ledger ``run.db`` recorded for that line when it was labeled
(``inputs.digest``: text, language, images; the text masked as the run masked it, the policy its ledger
records). An items file edited since the run, or another file holding the
same ids, is an ``InputError`` naming the first item that differs and what to do. Items missing from the file
are not paired (the caller counts them). Lines the run recorded as bad input (``invalid_item``: no text, over
the size limit) carry no prediction and are paired by id alone: their digest covers the reason, which can
depend on the run's options. Without a ledger (a results file copied without ``run.db``) nothing can be
checked, and ``RunItems.warnings`` says so.

    >>> import tempfile, json, pathlib
    >>> from prelabel.runs.labels import read_labels
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "labels.jsonl").write_text(json.dumps({"item_id": "a"}) + "\\n", encoding="utf-8")
    >>> paired = run_items(folder, read_labels(folder), [{"id": "a", "text": "late parcel"}], need=True)
    >>> list(paired.items), paired.warnings[0].endswith("cannot be checked against what the run labeled")
    (['a'], True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.inputs.digest import is_item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.media import MediaPolicy
from prelabel.inputs.reading import read_items
from prelabel.labeling.ledger import LedgerRow, recorded_binding, recorded_items
from prelabel.labeling.ledger_legacy import legacy_digest
from prelabel.prompt.masking import MaskPolicy, masked_digest
from prelabel.runs.labels import LabelLines
from prelabel.runs.run_dir import RunDir
from prelabel.runs.sources import RunSources

__all__ = ["RunItems", "run_items"]

#: The error type of a line the run recorded as bad input (``Labeler``): no prediction was made from it.
_BAD_INPUT = "invalid_item"


@dataclass
class RunItems:
    """The items paired with a run's result lines, by id (each checked against the ledger)."""

    items: dict[str, Item]
    source: str | None = None
    """The items file read (``None``: no file, or items given as Python objects)."""
    missing: str | None = None
    """Why there are no items at all (no items file to read), ``None`` when there are."""
    warnings: list[str] = field(default_factory=list)
    masking: MaskPolicy = field(default_factory=MaskPolicy)
    """What the run masked in its items before sending them (from its ledger): a command that sends the
    items again (``gaps``) masks at least as much."""


def run_items(
    run_dir: str | Path,
    lines: LabelLines,
    given: Any = None,
    *,
    need: bool,
    info: dict[str, Any] | None = None,
) -> RunItems:
    """The items of ``lines`` (the results of ``run_dir``), from ``given`` (a file or Python objects) or the
    file ``run.json`` names; ``need`` makes a missing file an ``InputError``. ``InputError`` when an item is
    not the one the run labeled (see the module docstring)."""
    if given is None or isinstance(given, str | Path):
        sources = RunSources.of(run_dir, info)
        path = sources.items_file(given, need=need)
        if path is None:
            named = f"{sources.items} is not there" if sources.items is not None else "it names none"
            return RunItems({}, missing=f"{RunDir.INFO} names no readable items file ({named})")
        given, source = path, str(path)
    else:
        source = None
    wanted = {str(row["item_id"]) for row in lines.rows}
    items: dict[str, Item] = {}
    for entry in read_items(given, media=MediaPolicy(confine=False)):  # nothing is sent: no media refused
        if isinstance(entry, Item) and entry.id in wanted and entry.id not in items:
            items[entry.id] = entry
    ledger = recorded_items(RunDir.of(run_dir).path)
    if ledger is None:
        warning = (
            f"{RunDir.of(run_dir).path}: no {RunDir.DB} beside the results: the items cannot be checked "
            "against what the run labeled"
        )
        return RunItems(items, source, warnings=[warning])
    masking = MaskPolicy.from_record((recorded_binding(RunDir.of(run_dir).path) or {}).get("mask"))
    _check(lines, ledger, items, source or "the items given", masking)
    return RunItems(items, source, masking=masking)


def _check(
    lines: LabelLines, ledger: dict[int, LedgerRow], items: dict[str, Item], source: str, masking: MaskPolicy
) -> None:
    """``InputError`` for the first line whose item is not the one the ledger recorded for it."""
    repeated = lines.repeated()
    for position, row in enumerate(lines.rows):  # labels.jsonl: one line per input position, in order
        item_id = None if row["item_id"] is None else str(row["item_id"])
        recorded = ledger.get(position)
        if recorded is None or recorded.item_id != item_id:
            raise InputError(
                f"{lines.path}: the result for item '{item_id}' is not what {RunDir.DB} holds at its "
                f"position ({RunDir.LABELS} and the ledger disagree); rerun the same `prelabel run` command "
                f"to rewrite {RunDir.LABELS}"
            )
        if position in repeated or item_id is None or item_id not in items:  # repeated: a duplicate id
            continue
        if recorded.status == "error" and recorded.error_type == _BAD_INPUT:
            continue
        item = items[item_id]
        # the ledger holds the digest of the item as it was sent: masked as the run masked it
        digest = masked_digest(masking, item) if is_item_digest(recorded.input_hash) else legacy_digest(item)
        if digest != recorded.input_hash:
            raise InputError(
                f"{source}: item '{item_id}' is not the one the run labeled (its text, language or images "
                f"differ from what {RunDir.DB} recorded); pass the items file the run used with --items, or "
                "rerun `prelabel run` on this file to label it again"
            )
