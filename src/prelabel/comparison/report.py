"""The comparison report: a self-contained HTML page (charts as PNG data URIs) and a Markdown summary.

The page loads nothing from the network: CSS is inline and charts are drawn with matplotlib's Agg canvas
(``matplotlib.figure.Figure``, never pyplot, so a notebook's backend is left alone) and embedded as base64.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from prelabel._jsonio import writing
from prelabel.comparison.ambiguity import SMOKE_CANDIDATE_NOTE
from prelabel.comparison.provenance import describe

if TYPE_CHECKING:
    from prelabel.comparison.comparison import Comparison
    from prelabel.comparison.metrics_schema import ComparisonMetrics, Confusion, LeafFigures, LevelFigures

__all__ = ["coverage", "markdown_summary", "render_html", "write_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d1d1f;padding:0 1rem}h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;gap:1rem}
.card{border:1px solid #ccd;border-radius:8px;padding:.8rem 1rem;background:#fbfbfd}
.kind{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;color:#fff}
.sop_ambiguity{background:#b3261e}.inherent_ambiguity{background:#8a6d00}.label_error{background:#31579e}
.model_error{background:#5f6368}.smoke{background:#6a1b9a}
.banner{border:2px solid #6a1b9a;background:#f6edf9;border-radius:8px;padding:.7rem 1rem;margin:1rem 0}
pre{white-space:pre-wrap;background:#f4f4f6;padding:.5rem;border-radius:6px;font-size:12px}
.muted{color:#666}img{max-width:100%}
"""
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
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def _confusion_chart(confusion: Confusion | None, limit: int = 30) -> str:
    if not confusion or not confusion.labels:
        return '<p class="muted">No confusion matrix (multi-label task or nothing compared).</p>'
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


def _levels_chart(levels: Sequence[LevelFigures | LeafFigures]) -> str:
    if not levels:
        return ""
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


def _table(
    rows: Sequence[BaseModel] | Sequence[dict[str, Any]] | pd.DataFrame, columns: list[str] | None = None
) -> str:
    """An HTML table of records (typed rows are dumped as in ``metrics.json``; dict rows keep their values'
    types, where a DataFrame would turn 220 into 220.0)."""
    if isinstance(rows, pd.DataFrame):
        records: Sequence[dict[str, Any]] = rows.to_dict(orient="records")
    else:
        records = [r.model_dump() if isinstance(r, BaseModel) else r for r in rows]
    if not records:
        return '<p class="muted">none</p>'
    present = list(dict.fromkeys(key for record in records for key in record))
    columns = [c for c in (columns or present) if c in present]
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = []
    for record in records:
        cells = []
        for value in (record.get(c) for c in columns):
            numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            cls = ' class="n"' if numeric else ""
            cells.append(f"<td{cls}>{escape(_fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _candidate_cards(cmp: Comparison, top: int) -> str:
    if cmp.candidates.empty:
        return '<p class="muted">No disagreements, so no candidates.</p>'
    dis = cmp.disagreements.set_index(cmp.disagreements["item_id"].astype(str))
    cards = []
    for row in cmp.candidates.head(top).to_dict(orient="records"):
        ids = [i for i in str(row["example_item_ids"]).split(";") if i in dis.index]
        example_cols = [c for c in _EXAMPLE_COLUMNS if c in dis.columns]
        examples = _table(dis.loc[ids, example_cols].drop_duplicates("item_id"))
        sop_text = (
            f"<pre>{escape(row['sop_text'])}</pre>"
            if row.get("sop_text")
            else ('<p class="muted">Pass the SOP (--sop) to quote its text here.</p>')
        )
        smoke = (
            f' <span class="kind smoke">{escape(row["model_note"])}</span>' if row.get("model_note") else ""
        )
        cards.append(
            f'<div class="card"><h3>#{row["rank"]} {escape(str(row["cluster"]))} '
            f'<span class="kind {escape(row["kind"])}">{escape(row["kind"])}</span>{smoke}</h3>'
            f"<p>{row['n_items']} items · mean score {_fmt(row['mean_score'])} · "
            f"human split {_fmt(row['mean_human_split'])} · "
            f"model certainty {_fmt(row['mean_model_certainty'])}"
            f"<br>{escape(row['directions'])}<br>cited rules: {escape(row['cited_rules'] or 'none')}</p>"
            f"{sop_text}{examples}</div>"
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _calibration(cmp: Comparison) -> str:
    from prelabel.comparison.reliability import reliability_figure

    if cmp.calibration is None:
        return "<p class='muted'>No confidence, samples or label probabilities to calibrate.</p>"
    return _png(reliability_figure(cmp.calibration)) + _table(cmp.calibration.rows())


def render_html(cmp: Comparison, top: int = 10) -> str:
    """The report as one HTML string."""
    m = cmp.metrics
    sop = m.sop
    title = f"prelabel comparison — {sop.id} {sop.version}" if sop else "prelabel comparison"
    summary = _summary_rows(cmp)
    definitions = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in m.definitions.items())
    amb = m.ambiguity
    certainty = (
        f"<p class='muted'>Kinds, in ranking order: sop_ambiguity (humans split, model sure), "
        f"inherent_ambiguity (humans split, model not sure), label_error (humans unanimous, model sure), "
        f"model_error (humans unanimous, model not sure). Sure means a known certainty of at least "
        f"{amb.confident_threshold:g}; {amb.certainty_unknown} compared answers have an unknown certainty "
        f"and {amb.confidence_out_of_range} a confidence outside [0, 1].</p>"
    )
    skipped = [{"what": k, "count": v} for k, v in m.skipped.model_dump().items() if v]
    notes = "".join(f"<li>{escape(n)}</li>" for n in m.notes)
    vs = m.model_vs_majority
    slices = (
        "".join(
            f"<h3>{escape(column)}</h3>" + _table(rows, _SLICE_COLUMNS) for column, rows in m.slices.items()
        )
        or '<p class="muted">No slice columns in the human labels.</p>'
    )
    found = m.provenance
    banner = (
        f"<div class='banner' role='note'><b>Smoke-model results.</b> {escape(found.note)}</div>"
        if found.note
        else ""
    )
    checked = f" Labels are checked against {escape(sop.id)}@{escape(sop.version)} (--sop)." if sop else ""
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
        banner,
        f"<p>Results compared: {escape(describe(found))}.{checked}</p>",
        f"<p class='muted'>Task: {escape(m.task)}. The model is compared with the human majority answer; "
        "ambiguity candidates point at SOP text that humans read differently.</p>",
        "<h2>Summary</h2>",
        f"<p>{escape(coverage(m))}</p>",
        _table(summary),
        "<h3>Skipped</h3>",
        _table(skipped) if skipped else "<p class='muted'>nothing skipped</p>",
        f"<ul>{notes}</ul>" if notes else "",
        "<h3>Definitions: how ties, abstentions and unknown certainty are treated</h3>",
        f"<ul>{definitions}</ul>",
        "<h2>Top ambiguity candidates</h2>",
        f"<div class='banner'>Clusters marked “{escape(SMOKE_CANDIDATE_NOTE)}” hold answers of the smoke "
        "model: their place in this ranking illustrates the mechanics only.</div>"
        if "model_note" in cmp.candidates.columns
        else "",
        certainty,
        _candidate_cards(cmp, top),
        "<h2>Model vs human majority</h2>",
        _table(vs.per_label or [], ["label", "precision", "recall", "f1", "support", "predicted"]),
        "<h3>Confusion matrix</h3>",
        _confusion_chart(vs.confusion),
        "<h3>Calibration: reliability diagram and expected calibration error</h3>",
        _calibration(cmp),
        "<h3>Per tree level</h3>",
        _levels_chart(m.levels),
        _table(m.levels, ["level", "n", "accuracy", "macro_f1", "kappa", "n_tied_excluded"]),
        "<h3>Model vs each annotator</h3>",
        _table(m.model_vs_annotators),
        "<h2>Agreement among humans</h2>",
        _table([{k: getattr(m.humans, k) for k in _HUMAN_KEYS}]),
        "<h3>Each annotator vs the others' consensus</h3>",
        _table(m.humans.per_annotator),
        "<h2>Slices</h2>",
        slices,
        "<h2>All candidates</h2>",
        _table(
            cmp.candidates,
            ["rank", "model_note", "group", "cluster", "n_items", "mean_score", "kind", "directions"],
        ),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_html(cmp: Comparison, path: Path) -> Path:
    """Write `render_html` to ``path`` (UTF-8) and return the path."""
    with writing(path):
        path.write_text(render_html(cmp), encoding="utf-8")
    return path
