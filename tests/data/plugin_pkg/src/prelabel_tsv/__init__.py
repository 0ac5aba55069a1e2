"""``prelabel export --format tsv``: one line per result, item id and label, tab-separated."""

from __future__ import annotations

from pathlib import Path

import prelabel


class Tsv(prelabel.Exporter):
    """Item ids and labels (multi-label answers ``;``-joined), tab-separated, with a header line."""

    name = "tsv"
    description = "item ids and labels, tab-separated"
    suffix = ".tsv"

    def export(self, run: prelabel.RunExport, out: Path) -> list[Path]:
        lines = ["item_id\tlabel"]
        for row in run.rows:
            label = ";".join(row.get("labels") or []) or row.get("label") or ""
            lines.append(f"{row['item_id']}\t{label}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [out]
