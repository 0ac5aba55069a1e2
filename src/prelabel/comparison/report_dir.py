"""The report directory of ``compare`` and ``agreement``: checked before any work, never left mixed.

``compare`` writes `COMPARE_FILES` (``draft_edge_cases.yaml`` only with ``--draft-edits``), ``agreement``
writes ``metrics.json``. A rerun replaces the command's own files. A directory that holds another command's
outputs — ``compare``'s disagreements and report beside a fresh ``agreement`` ``metrics.json``, or drafts
(paid model calls) of an earlier ``--draft-edits`` beside a report they no longer describe — is refused,
never cleaned: nothing paid for is deleted.

    >>> import tempfile
    >>> out = check_report_dir(Path(tempfile.mkdtemp()) / "report", "compare")
    >>> out.exists()  # probed, then removed again: bad input later leaves no empty directory behind
    False
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prelabel._jsonio import check_output
from prelabel.errors import InputError

__all__ = ["AGREEMENT_FILES", "COMPARE_FILES", "DRAFTS_FILE", "METRICS_FILE", "check_report_dir"]

METRICS_FILE = "metrics.json"
DRAFTS_FILE = "draft_edge_cases.yaml"
COMPARE_FILES = (METRICS_FILE, "disagreements.csv", "ambiguity_candidates.csv", "report.html", DRAFTS_FILE)
AGREEMENT_FILES = (METRICS_FILE,)


def check_report_dir(
    directory: str | Path, command: Literal["compare", "agreement"], *, drafts: bool = False
) -> Path:
    """Check ``directory`` can take ``command``'s outputs, or raise ``InputError`` (exit 2):
    a path that is a file, a directory that cannot be created or written, or one holding outputs the new
    ones would leave stale (see the module docstring). ``drafts``: ``compare --draft-edits``."""
    out = check_output(directory, directory=True)  # a file, or not writable: fail now, not after the work
    owned = COMPARE_FILES if command == "compare" else AGREEMENT_FILES
    stale = [name for name in COMPARE_FILES if name not in owned and (out / name).exists()]
    if command == "compare" and not drafts and (out / DRAFTS_FILE).exists():
        stale.append(DRAFTS_FILE)
    if stale:
        other = "an earlier compare --draft-edits" if stale == [DRAFTS_FILE] else "prelabel compare"
        raise InputError(
            f"{out} holds outputs of {other} ({', '.join(stale)}) that would be stale beside the new "
            f"{command} report; use another -o, or move them away"
        )
    return out
