"""The comparison report: a self-contained HTML page (charts as PNG data URIs) and a Markdown summary.

The page is the document template ``doc_templates/report.html.v1.jinja``, rendered with autoescape on (every
value is data) from `report_context`. It loads nothing from the network: CSS is inline and charts are drawn
with matplotlib's Agg canvas (``matplotlib.figure.Figure``, never pyplot, so a notebook's backend is left
alone) and embedded as base64.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from prelabel._documents import render_document
from prelabel._jsonio import write_text, writing
from prelabel.comparison.ambiguity import SMOKE_CANDIDATE_NOTE
from prelabel.comparison.media_strip import thumbnail_strip
from prelabel.comparison.provenance import describe

if TYPE_CHECKING:
    from prelabel.comparison.comparison import Comparison
    from prelabel.comparison.metrics_schema import (
        Aggregation,
        ComparisonMetrics,
        Confusion,
        LeafFigures,
        LevelFigures,
        VendorQA,
    )

__all__ = [
    "REPORT_TEMPLATE",
    "consensus_name",
    "coverage",
    "markdown_summary",
    "render_html",
    "report_context",
    "table_cells",
    "write_html",
]

#: The document template of the HTML report (in the top-level ``doc_templates/``).
REPORT_TEMPLATE = "report.html.v1"
_SLICE_COLUMNS = [
    "value",
    "n_items",
    "n_compared",
    "n_vs_majority",
    "accuracy",
    "macro_f1",
    "kappa_vs_majority",
]
_SLICE_COLUMNS += ["percent_agreement", "pairwise_agreement", "fleiss_kappa", "krippendorff_alpha"]
_HUMAN_KEYS = ["n_items", "n_annotators", "n_items_paired", "percent_agreement", "pairwise_agreement"]
_HUMAN_KEYS += ["fleiss_kappa", "krippendorff_alpha"]
_EXAMPLE_COLUMNS = (
    "item_id",
    "text",
    "human_labels",
    "model_label",
    "model_certainty",
    "cited_rules",
    "rationale",
)
#: (figure, label, the count of items it is computed on): ties leave the figures against the majority, and
#: agreement among humans needs items with two annotations or more.
_SUMMARY_KEYS = [
    ("n_compared", "items compared", None),
    ("accuracy", "accuracy vs human majority", "n_vs_majority"),
    ("macro_f1", "macro F1", "n_vs_majority"),
    ("micro_f1", "micro F1", "n_vs_majority"),
    ("kappa_vs_majority", "Cohen's κ vs majority", "n_vs_majority"),
    ("percent_agreement", "human percent agreement (mean majority share)", "n_human_paired"),
    ("pairwise_agreement", "human pairwise agreement", "n_human_paired"),
    ("fleiss_kappa", "human Fleiss' κ", "n_human_paired"),
    ("krippendorff_alpha", "human Krippendorff's α", "n_human_paired"),
    ("n_disagreements", "disagreements", None),
    ("n_candidates", "ambiguity candidates", None),
]


def _summary_rows(cmp: Comparison) -> list[dict[str, Any]]:
    """The summary table's rows: figure, value and the number of items it is computed on."""
    summary = cmp.metrics.summary
    return [
        {"figure": label, "value": getattr(summary, key), "n": getattr(summary, n) if n else ""}
        for key, label, n in _SUMMARY_KEYS
        if key in summary.model_fields_set or type(summary).model_fields[key].is_required()
    ]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_summary(cmp: Comparison, top: int = 5) -> str:
    """Headline figures, skipped counts, notes and the top candidates as Markdown."""
    metrics = cmp.metrics
    lines = ["## prelabel compare", "", f"Results compared: {describe(metrics.provenance)}."]
    lines += [f"Human consensus: {consensus_name(metrics.humans.aggregation)}."]
    if metrics.provenance.note:
        lines += [f"> note: {metrics.provenance.note}"]
    lines += ["", coverage(metrics), "", "| figure | value | n items |", "|---|---|---|"]
    lines += [f"| {row['figure']} | {_fmt(row['value'])} | {row['n']} |" for row in _summary_rows(cmp)]
    kinds = metrics.ambiguity.kinds
    if kinds:
        lines += ["", "Disagreements by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items())]
    skipped = {k: v for k, v in metrics.skipped.model_dump().items() if v}
    if skipped:
        lines += ["", "Skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.items())]
    lines += [f"> note: {note}" for note in metrics.notes]
    if not cmp.candidates.empty:
        noted = "model_note" in cmp.candidates.columns
        head = (
            "| rank | model note | cluster | items | kind | mean score |"
            if noted
            else ("| rank | cluster | items | kind | mean score |")
        )
        lines += ["", head, "|---" * head.count("|", 1) + "|"]
        for row in cmp.candidates.head(top).to_dict(orient="records"):
            note = f" {row['model_note']} |" if noted else ""
            lines.append(
                f"| {row['rank']} |{note} {row['cluster']} | {row['n_items']} | {row['kind']} | "
                f"{row['mean_score']:.3f} |"
            )
    return "\n".join(lines) + "\n"


#: Why model results are not compared, as ``skipped`` counts them (a result may count under two reasons).
_LEFT_OUT = {
    "items_model_error": "model error",
    "items_model_abstained": "model abstained",
    "items_model_label_missing": "no model label",
    "items_model_label_not_in_sop": "model label not in the SOP",
    "items_without_valid_human_label": "no usable human label (every annotation abstained, empty or not in "
    "the SOP)",
    "items_without_human_label": "no human label",
    "model_rows_without_item_id": "no item id",
    "model_rows_duplicate": "a duplicate row",
}


def coverage(metrics: ComparisonMetrics) -> str:
    """One sentence: how many model results were compared and why the others were not, and how many of
    the compared items the figures against the human majority use (ties left out)."""
    counts, skipped, summary = metrics.counts, metrics.skipped, metrics.summary
    left = ", ".join(f"{n} {why}" for key, why in _LEFT_OUT.items() if (n := getattr(skipped, key)))
    text = f"{counts.compared_items} of {counts.model_rows} model results compared"
    text += f" (not compared: {left})" if left else ""
    if skipped.items_without_model_label:
        text += f"; {skipped.items_without_model_label} human-labeled items have no model result"
    tied = summary.n_compared - summary.n_vs_majority
    if tied:
        text += (
            f"; accuracy, F1 and κ vs the majority use {summary.n_vs_majority} of them ({tied} with a tied "
            "human majority)"
        )
    return text + "."


def _png(fig: Any) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _confusion_chart(confusion: Confusion | None, limit: int = 30) -> str | None:
    if not confusion or not confusion.labels:
        return None
    from matplotlib.figure import Figure

    labels, matrix = confusion.labels, np.asarray(confusion.matrix, dtype=float)
    if len(labels) > limit:
        keep = np.argsort(-(matrix.sum(axis=0) + matrix.sum(axis=1)))[:limit]
        keep.sort()
        labels, matrix = [labels[i] for i in keep], matrix[np.ix_(keep, keep)]
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = 2.5 + 0.45 * len(labels)
    fig = Figure(figsize=(size + 1.5, size))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("model")
    ax.set_ylabel("human majority")
    if len(labels) <= 15:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, f"{int(count)}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, label="share of row")
    return _png(fig)


def _levels_chart(levels: Sequence[LevelFigures | LeafFigures]) -> str | None:
    if not levels:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot()
    x = np.arange(len(levels))
    for offset, key in ((-0.2, "accuracy"), (0.2, "macro_f1")):
        ax.bar(x + offset, [getattr(lv, key) or 0 for lv in levels], width=0.4, label=key)
    ax.set_xticks(x, [f"level {lv.level}" + (" (leaf)" if lv.leaf else "") for lv in levels])
    ax.set_ylim(0, 1)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("model vs human majority per tree level", fontsize=10)
    return _png(fig)


def table_cells(
    rows: Sequence[BaseModel] | Sequence[dict[str, Any]] | pd.DataFrame, columns: list[str] | None = None
) -> dict[str, Any] | None:
    """A table of records for the template: column names and rows of cells (text, numeric or not); ``None``
    when there are no records. Typed rows are dumped as in ``metrics.json``; dict rows keep their values'
    types, where a DataFrame would turn 220 into 220.0."""
    if isinstance(rows, pd.DataFrame):
        records: Sequence[dict[str, Any]] = rows.to_dict(orient="records")
    else:
        records = [r.model_dump() if isinstance(r, BaseModel) else r for r in rows]
    if not records:
        return None
    present = list(dict.fromkeys(key for record in records for key in record))
    columns = [c for c in (columns or present) if c in present]
    body = [
        [
            {
                "text": _fmt(value),
                "numeric": isinstance(value, int | float | np.number) and not isinstance(value, bool),
            }
            for value in (record.get(c) for c in columns)
        ]
        for record in records
    ]
    return {"columns": [str(c) for c in columns], "rows": body}


def _candidate_cards(cmp: Comparison, top: int) -> list[dict[str, Any]]:
    if cmp.candidates.empty:
        return []
    dis = cmp.disagreements.set_index(cmp.disagreements["item_id"].astype(str))
    cards = []
    for row in cmp.candidates.head(top).to_dict(orient="records"):
        ids = [i for i in str(row["example_item_ids"]).split(";") if i in dis.index]
        example_cols = [c for c in _EXAMPLE_COLUMNS if c in dis.columns]
        cards.append(
            {
                "rank": row["rank"],
                "cluster": str(row["cluster"]),
                "kind": row["kind"],
                "model_note": row.get("model_note") or None,
                "n_items": row["n_items"],
                "mean_score": _fmt(row["mean_score"]),
                "human_split": _fmt(row["mean_human_split"]),
                "certainty": _fmt(row["mean_model_certainty"]),
                "directions": row["directions"],
                "cited_rules": row["cited_rules"] or "none",
                "sop_text": row.get("sop_text") or None,
                "examples": table_cells(dis.loc[ids, example_cols].drop_duplicates("item_id")),
                "strips": [thumbnail_strip(i, cmp.videos[i]) for i in dict.fromkeys(ids) if i in cmp.videos],
            }
        )
    return cards


def _calibration(cmp: Comparison) -> dict[str, Any] | None:
    from prelabel.comparison.reliability import reliability_figure

    if cmp.calibration is None:
        return None
    return {"chart": _png(reliability_figure(cmp.calibration)), "table": table_cells(cmp.calibration.rows())}


def consensus_name(aggregation: Aggregation | None) -> str:
    """How the human consensus was formed, in words."""
    if aggregation is None:
        return "majority vote; tied items left out of the figures against it"
    return f"{aggregation.method} annotator model (crowd-kit), weighing each annotator by their reliability"


_QA_COLUMNS = ["level", "name", "vendor", "market", "n_labels", "n_gold", "gold_accuracy", "gold_low"]
_QA_COLUMNS += ["gold_high", "below_target", "flagged", "consensus_agreement", "kappa", "items_per_hour"]
_QA_COLUMNS += ["median_seconds", "fast_share"]


def _sources(qa: VendorQA) -> str:
    return ", ".join(f"{k} {v}" for k, v in qa.gold_items.items() if v) or "none"


def _vendor_qa(qa: VendorQA | None) -> dict[str, Any] | None:
    if qa is None or not qa.agents:
        return None
    target = "no target" if qa.target_accuracy is None else f"target accuracy {qa.target_accuracy:g}"
    about = (
        f"{qa.n_gold_items} gold items ({_sources(qa)}); {target}; very fast: under {qa.fast_seconds:g} s; "
        f"durations from {qa.duration_source or 'nothing'}. "
        + " ".join(f"{k}: {v}." for k, v in qa.rules.items())
    )
    return {"about": about, "table": table_cells(qa.agents, _QA_COLUMNS)}


def report_context(cmp: Comparison, top: int = 10) -> dict[str, Any]:
    """What the report template shows: figures as text, tables as cells, charts as data URIs."""
    m = cmp.metrics
    sop = m.sop
    amb = m.ambiguity
    vs = m.model_vs_majority
    skipped = [{"what": k, "count": v} for k, v in m.skipped.model_dump().items() if v]
    candidate_columns = [
        "rank",
        "model_note",
        "group",
        "cluster",
        "n_items",
        "mean_score",
        "kind",
        "directions",
    ]
    return {
        "title": f"prelabel comparison — {sop.id} {sop.version}" if sop else "prelabel comparison",
        "smoke_note": m.provenance.note,
        "provenance": describe(m.provenance),
        "sop": sop,
        "task": m.task,
        "coverage": coverage(m),
        "summary": table_cells(_summary_rows(cmp)),
        "skipped": table_cells(skipped),
        "notes": list(m.notes),
        "definitions": dict(m.definitions),
        "smoke_candidates": SMOKE_CANDIDATE_NOTE if "model_note" in cmp.candidates.columns else None,
        "ambiguity": {
            "threshold": f"{amb.confident_threshold:g}",
            "unknown": amb.certainty_unknown,
            "out_of_range": amb.confidence_out_of_range,
        },
        "cards": _candidate_cards(cmp, top),
        "per_label": table_cells(
            vs.per_label or [], ["label", "precision", "recall", "f1", "support", "predicted"]
        ),
        "confusion": _confusion_chart(vs.confusion),
        "calibration": _calibration(cmp),
        "levels_chart": _levels_chart(m.levels),
        "levels": table_cells(m.levels, ["level", "n", "accuracy", "macro_f1", "kappa", "n_tied_excluded"]),
        "vs_annotators": table_cells(m.model_vs_annotators),
        "humans": table_cells([{k: getattr(m.humans, k) for k in _HUMAN_KEYS}]),
        "per_annotator": table_cells(m.humans.per_annotator),
        "consensus": consensus_name(m.humans.aggregation),
        "estimates": table_cells(
            m.humans.aggregation.per_annotator if m.humans.aggregation else [],
            ["annotator", "n_labels", "accuracy", "skill", "competence"],
        ),
        "vendor_qa": _vendor_qa(m.vendor_qa),
        "slices": [(column, table_cells(rows, _SLICE_COLUMNS)) for column, rows in m.slices.items()],
        "candidates": table_cells(cmp.candidates, candidate_columns),
    }


def render_html(cmp: Comparison, top: int = 10) -> str:
    """The report as one HTML string (`REPORT_TEMPLATE`, autoescaped, over `report_context`)."""
    return render_document(REPORT_TEMPLATE, **report_context(cmp, top))


def write_html(cmp: Comparison, path: Path) -> Path:
    """Write `render_html` to ``path`` (UTF-8) and return the path."""
    with writing(path):
        write_text(path, render_html(cmp))
    return path
