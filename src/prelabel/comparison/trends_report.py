"""The HTML report of `prelabel.qa`: per level (annotator, vendor, market), line charts of accuracy, κ and
throughput over the batches, flagged drops marked, and the trend table.

The page is the document template ``doc_templates/qa.html.v1.jinja`` (autoescaped). Charts are drawn with
matplotlib's Agg-free SVG canvas (``matplotlib.figure.Figure``, never pyplot) and embedded as SVG data URIs:
the page loads nothing from the network.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import pandas as pd

from prelabel._documents import render_document
from prelabel.comparison.report import table_cells

if TYPE_CHECKING:
    from prelabel.comparison.trends import QAReport

__all__ = ["QA_TEMPLATE", "render_trends", "trends_context"]

#: The document template of the trend report (in the top-level ``doc_templates/``).
QA_TEMPLATE = "qa.html.v1"
#: Lines drawn per chart at most (the agents with the most votes); the table lists everyone.
MAX_LINES = 12
_CHARTS = (
    ("accuracy", "accuracy (gold, else vs consensus)"),
    ("kappa", "Cohen's κ vs consensus"),
    ("items_per_hour", "items per hour"),
    ("fast_share", "share of very fast answers"),
)
_TABLE = ["batch", "name", "vendor", "market", "n_labels", "measure", "accuracy", "prev_accuracy"]
_TABLE += ["p_adjusted", "drop_flag", "gold_low", "gold_high", "kappa", "items_per_hour", "median_seconds"]
_TABLE += ["fast_share"]


def _svg(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _chart(rows: pd.DataFrame, column: str, title: str, batches: list[str]) -> str | None:
    if rows[column].notna().sum() == 0:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    busiest = rows.groupby("name")["n_labels"].sum().sort_values(ascending=False).index[:MAX_LINES]
    for name in sorted(busiest):
        series = rows[rows["name"] == name].sort_values("batch_index")
        ax.plot(series["batch_index"], series[column], marker="o", label=str(name))
        drops = series[series["drop_flag"].astype(bool)]
        if column == "accuracy" and len(drops):
            ax.scatter(drops["batch_index"], drops[column], s=160, facecolors="none", edgecolors="#b3261e")
    ax.set_xticks(range(len(batches)), batches, fontsize=8)
    ax.set_title(title + (" — circled: significant drop" if column == "accuracy" else ""), fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    return _svg(fig)


def trends_context(report: QAReport) -> dict[str, Any]:
    """What the trend template shows: flagged drops, and per level its charts and table."""
    trends = report.trends
    levels = []
    for level in ("annotator", "vendor", "market"):
        rows = trends[trends["level"] == level]
        if rows.empty:
            continue
        charts = [
            {"alt": title, "uri": uri}
            for column, title in _CHARTS
            if (uri := _chart(rows, column, title, report.batches)) is not None
        ]
        levels.append({"name": level, "charts": charts, "table": table_cells(rows, _TABLE)})
    flagged = report.flagged
    return {
        "title": "prelabel vendor QA",
        "batches": report.batches,
        "alpha": f"{report.alpha:g}",
        "drop_test": report.summary()["drop_test"],
        "flagged": table_cells(
            flagged, ["batch", "level", "name", "measure", "accuracy", "prev_accuracy", "p_adjusted"]
        )
        if len(flagged)
        else None,
        "levels": levels,
    }


def render_trends(report: QAReport) -> str:
    """The trend report as one HTML string (`QA_TEMPLATE`, autoescaped)."""
    return render_document(QA_TEMPLATE, **trends_context(report))
