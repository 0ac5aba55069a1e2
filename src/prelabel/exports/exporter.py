"""``Exporter``: one export format, what ``prelabel export --format NAME`` runs.

An exporter names its format, says in one line what it writes and the suffix of its output file, declares
whether it needs the run's SOP and items, and writes a `RunExport` (the run's result lines, its items and
SOP, the ``--only`` selection already applied) to files. Built-in formats and plugins register the same way,
under the entry-point group ``prelabel.exporters`` (see ``prelabel.exports.registry``)::

    # my_package/tsv.py
    class Tsv(prelabel.Exporter):
        name, description, suffix = "tsv", "tab-separated item ids and labels", ".tsv"

        def export(self, run, out):
            out.write_text("".join(f"{r['item_id']}\\t{r.get('label')}\\n" for r in run.rows))
            return [out]

    # my_package's pyproject.toml
    [project.entry-points."prelabel.exporters"]
    tsv = "my_package.tsv:Tsv"

    >>> class Tsv(Exporter):
    ...     name, description, suffix = "tsv", "tab-separated item ids and labels", ".tsv"
    >>> Tsv().outputs(Path("labels.tsv")) == [Path("labels.tsv")]
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from prelabel.exports.candidates import Candidates
    from prelabel.exports.records import RunExport

__all__ = ["Exporter"]


class Exporter:
    """One export format; subclass it and register the subclass (or an instance) as an entry point."""

    #: The format's name: ``prelabel export --format NAME`` and the entry point's name.
    name: ClassVar[str] = ""
    #: One line for ``prelabel export --help``: what the files hold.
    description: ClassVar[str] = ""
    #: The suffix of the output file (``.json``, ``.csv``), shown in the help.
    suffix: ClassVar[str] = ""
    #: The run's SOP must be known (from ``run.json`` or ``--sop``), and the items (``--items``).
    needs_sop: ClassVar[bool] = False
    needs_items: ClassVar[bool] = False
    #: Result lines become predictions: lines without one (errors, abstentions) are counted in the summary.
    predictions: ClassVar[bool] = False
    #: It writes adjudication tasks too (``prelabel export CMP_DIR --candidates``): `export_candidates`.
    adjudication: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} exporter '{self.name}'>"

    def outputs(self, out: Path) -> list[Path]:
        """Every file ``export`` writes for ``out`` (checked before anything is written: none may exist
        unless ``--force``)."""
        return [out]

    def export(self, run: RunExport, out: Path) -> list[Path]:
        """Write ``run`` to ``out`` (and the other files of `outputs`); return the paths written."""
        raise NotImplementedError(f"{type(self).__name__}.export")

    def export_candidates(self, candidates: Candidates, out: Path) -> list[Path]:
        """Write adjudication tasks for ``candidates`` to ``out`` (and the other files of `outputs`)."""
        raise NotImplementedError(f"{type(self).__name__}.export_candidates")
