"""Which results a route split, and the check that ``export --only`` reads exactly those.

``route`` records in ``route.json`` the results it read (``RoutedResults``: the results file, the sha256 of
its bytes, a digest of the item digests the run's ledger recorded for its lines, and the number of lines),
and every line of ``accept.jsonl``/``review.jsonl`` carries ``route.position``: its index among the run's
result lines. ``export --only accept|review`` (``routed_positions``) takes the run's lines at those
positions — never by id — once it has checked that the run's results are still the ones routed. A route of
another run, of an older state of this run (edited items and a rerun, a ``--restart``), one whose
``route.json`` does not record its results (an older prelabel, a DataFrame), a side file naming a line twice,
a line of the other side, or a line not in the run is an ``InputError``: one line, saying to rerun
``prelabel route``.

    >>> import tempfile, pathlib
    >>> labels = pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl"
    >>> _ = labels.write_text('{"item_id": "a"}\\n', encoding="utf-8")
    >>> found = routed_results(labels)
    >>> found.n_lines, found.sha256.startswith("sha256:"), found.items_sha256
    (1, True, None)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prelabel.errors import InputError
from prelabel.labeling.ledger import recorded_items
from prelabel.runs.labels import LabelLines, read_labels
from prelabel.runs.run_dir import RunDir

__all__ = ["ROUTE_FILES", "RoutedResults", "routed_positions", "routed_results"]

#: What ``prelabel route`` writes into its output directory.
ROUTE_FILES = ("accept.jsonl", "review.jsonl", "route.json")
_RERUN = "rerun `prelabel route` on the run to route its results as they are now"


class RoutedResults(BaseModel):
    """The results a route split (``route.json`` ``results``)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """The results file read (absolute)."""
    sha256: str
    """``sha256:<hex>`` of its bytes."""
    items_sha256: str | None
    """``sha256:<hex>`` of the item digests the run's ledger recorded for those lines (``None``: none)."""
    n_lines: int
    """The result lines read (a cut-off last line is not one)."""


def routed_results(results: str | Path, lines: LabelLines | None = None) -> RoutedResults:
    """What ``route.json`` records of the results file ``results`` (``lines``: its lines, if read)."""
    path = Path(results).resolve()
    lines = lines if lines is not None else read_labels(path)
    with path.open("rb") as handle:
        sha = "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    ledger = recorded_items(RunDir.of(path).path)
    items_sha = None
    if ledger is not None:
        digest = hashlib.sha256()
        for position in range(len(lines.rows)):
            row = ledger.get(position)
            recorded = (row.item_id, row.input_hash) if row is not None else None
            digest.update(json.dumps([position, recorded]).encode("utf-8", "surrogatepass"))
        items_sha = "sha256:" + digest.hexdigest()
    return RoutedResults(path=str(path), sha256=sha, items_sha256=items_sha, n_lines=len(lines.rows))


def _report(folder: Path) -> dict[str, Any]:
    path = folder / ROUTE_FILES[2]
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = "not there" if isinstance(exc, FileNotFoundError) else "unreadable"
        raise InputError(f"{path}: {reason}: the routing cannot be checked; {_RERUN}") from None
    if not isinstance(report, dict):
        raise InputError(f"{path}: not a route.json (expected a JSON object); {_RERUN}")
    return report


def routed_positions(
    run_dir: str | Path, lines: LabelLines, only: Literal["accept", "review"], route: str | Path | None
) -> list[int]:
    """The positions (indices among ``lines``, the run's results) of the lines ``prelabel route`` put on the
    ``only`` side; ``route`` is its output directory (default ``RUN_DIR/route``). ``InputError`` when the
    routing is not of these results (see the module docstring)."""
    run = RunDir.of(run_dir).path
    folder = Path(route) if route is not None else run / "route"
    side = folder / f"{only}.jsonl"
    if not side.is_file():
        hint = "run `prelabel route` first, or pass its -o DIR as --route"
        raise InputError(f"{side}: no routing here; {hint}")
    report = _report(folder)
    if not isinstance(report.get("results"), dict):
        raise InputError(
            f"{folder / ROUTE_FILES[2]} does not record which results it routed (written by an older "
            f"prelabel, or routed from a DataFrame or a table); {_RERUN}"
        )
    routed = RoutedResults.model_validate(report["results"])
    now = routed_results(lines.path, lines)
    if (routed.sha256, routed.items_sha256) != (now.sha256, now.items_sha256):
        if routed.path != now.path:
            raise InputError(
                f"{folder}: a routing of other results ({routed.path}), not of {now.path}; pass this run's "
                f"route with --route, or {_RERUN}"
            )
        raise InputError(
            f"{folder}: {run} changed since it was routed (its results or items are not the ones route "
            f"split); {_RERUN}"
        )
    return _positions(side, lines, only, report)


def _positions(side: Path, lines: LabelLines, only: str, report: dict[str, Any]) -> list[int]:
    if not side.stat().st_size:
        found: list[dict[str, Any]] = []
    else:
        read = read_labels(side).require_ids()
        if read.cut_line:  # a selection cut short would export the wrong items
            raise InputError(f"{side}:{read.cut_line}: the last line is cut off; {_RERUN}")
        found = read.rows
    positions: list[int] = []
    seen: set[int] = set()
    for number, row in enumerate(found, start=1):
        decision: dict[str, Any] = row["route"] if isinstance(row.get("route"), dict) else {}
        position = decision.get("position")
        if (
            not isinstance(position, int)
            or isinstance(position, bool)
            or not 0 <= position < len(lines.rows)
            or position in seen
            or decision.get("decision") != only
            or lines.rows[position].get("item_id") != row["item_id"]
        ):
            raise InputError(
                f"{side}:{number}: item '{row['item_id']}' is not a line route put on the {only} side of "
                f"this run (a line named twice, of the other side, or not in the run); {_RERUN}"
            )
        seen.add(position)
        positions.append(position)
    expected = (report.get("run") or {}).get(f"n_{only}")
    if isinstance(expected, int) and expected != len(positions):
        raise InputError(f"{side}: {len(positions)} lines where route.json counts {expected}; {_RERUN}")
    return positions
