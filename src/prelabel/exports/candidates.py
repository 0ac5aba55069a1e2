"""Adjudication tasks: the top ambiguity candidates of a ``prelabel compare``, for the vendor's tool.

``prelabel export CMP_DIR --format label-studio|argilla --candidates [-n TOP]``. CMP_DIR is a compare
report: ``ambiguity_candidates.csv`` ranks the clusters, ``metrics.json`` → ``sources`` names the results
(the run, whose ``run.json`` names its SOP and items) and the human labels it read, and
``draft_edge_cases.yaml`` (``compare --draft-edits``) holds the drafted edge case of each top candidate.

One task per top candidate: its most ambiguous example item (one not already taken by a higher-ranked
candidate), with the human votes (``annotator: label``), the model's label, confidence and rationale, the
SOP rules it cited (with their text) and the drafted edge case when there is one. The tool asks the
adjudicator for the right label, whether the SOP is unclear on the item (yes/no) and the ruling text; its
export goes to ``prelabel sop apply`` (read by `prelabel.vendors.adjudication`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError

from prelabel.comparison.readers import read_human_labels
from prelabel.comparison.report_dir import DRAFTS_FILE, METRICS_FILE
from prelabel.errors import InputError
from prelabel.exports.records import load_run
from prelabel.inputs.ids import normalize_id
from prelabel.inputs.items import Item
from prelabel.inputs.tables import read_table
from prelabel.runs.run_dir import RunDir
from prelabel.sop.spec import SOP

__all__ = ["CANDIDATES_FILE", "CandidateTask", "Candidates", "load_candidates"]

CANDIDATES_FILE = "ambiguity_candidates.csv"


@dataclass
class CandidateTask:
    """One adjudication task: a candidate's item and what the adjudicator should see beside it."""

    rank: int
    cluster: str
    kind: str
    item: Item
    votes: list[tuple[str, str]]
    model_label: str
    confidence: float | None
    rationale: str
    rules: list[tuple[str, str]]
    draft: str = ""

    def data(self, sop: SOP) -> dict[str, Any]:
        """The task's fields as text (Label Studio ``data``; Argilla fields and metadata)."""
        confidence = "" if self.confidence is None else f" (confidence {self.confidence:.2f})"
        model = f"{self.model_label}{confidence}" + (f"\n{self.rationale}" if self.rationale else "")
        return {
            "item_id": self.item.id,
            "text": self.item.text or "",
            "language": self.item.language,
            "sop": f"{sop.id}@{sop.version}",
            "rule_ids": ";".join(rule for rule, _ in self.rules),
            "votes": "\n".join(f"{who}: {label}" for who, label in self.votes) or "(no human vote)",
            "model": model,
            "rules": "\n".join(f"{rule}: {text}" for rule, text in self.rules) or "(no rule cited)",
            "draft": self.draft or "(no drafted edge case)",
            "candidate": f"#{self.rank}: {self.cluster} ({self.kind})",
        }


@dataclass
class Candidates:
    """The adjudication tasks of a compare report, its SOP, and what was left out and why."""

    cmp_dir: Path
    sop: SOP
    tasks: list[CandidateTask]
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


def _sources(cmp_dir: Path) -> dict[str, Any]:
    path = cmp_dir / METRICS_FILE
    if not path.is_file():
        raise InputError(f"{cmp_dir}: no {METRICS_FILE} here (expected a prelabel compare report directory)")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    sources = metrics.get("sources") or {}
    if not sources.get("results") or not sources.get("humans"):
        raise InputError(
            f"{path}: records no results and human labels files (a report of agreement, of DataFrames, or of "
            "an older prelabel); rerun prelabel compare RUN_DIR HUMANS -o CMP_DIR"
        )
    return dict(sources)


def _run_dir(results: Path) -> Path:
    """The run directory of a compare's results (a RUN_DIR, or the ``labels.jsonl`` in one)."""
    return results if results.is_dir() or results.name != RunDir.LABELS else results.parent


def _drafts(cmp_dir: Path) -> dict[int, str]:
    """Candidate rank -> its drafted edge case as one text (``DRAFT<n>`` drafts the n-th candidate)."""
    path = cmp_dir / DRAFTS_FILE
    if not path.is_file():
        return {}
    try:
        root = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    out = {}
    for entry in root.get("edge_cases") or []:
        number = str(entry.get("id", "")).removeprefix("DRAFT")
        if number.isdigit() and "error" not in entry:
            labels = entry.get("label")
            label = ";".join(labels) if isinstance(labels, list) else str(labels)
            rules = ", ".join(entry.get("rules") or [])
            out[int(number)] = f"{entry.get('text')} → {label}: {entry.get('ruling')}" + (
                f" ({rules})" if rules else ""
            )
    return out


def _rule_texts(sop: SOP) -> dict[str, str]:
    texts = {rule.id: " ".join(rule.text.split()) for rule in sop.rules}
    for case in sop.edge_cases:
        texts[case.id] = f"edge case: {case.text} → {';'.join(case.label)}: {' '.join(case.ruling.split())}"
    return texts


def _votes(humans: str, kind: str | None, sop: SOP) -> dict[str, list[tuple[str, str]]]:
    frame = read_human_labels(humans, sop=sop, humans_format=kind or "auto", votes=True)
    out: dict[str, list[tuple[str, str]]] = {}
    for item_id, who, label in frame[["item_id", "annotator", "label"]].itertuples(index=False):
        key = normalize_id(item_id)
        if key is not None:
            out.setdefault(key, []).append((str(who), str(label)))
    return out


def load_candidates(
    cmp_dir: str | Path, *, top: int = 10, sop: SOP | str | Path | None = None, items: Any = None
) -> Candidates:
    """The adjudication tasks of the ``top`` candidates of the compare report ``cmp_dir`` (see the module
    docstring). ``sop``/``items`` override the files the run's ``run.json`` names."""
    if top < 1:
        raise InputError(f"--top must be at least 1, got {top}")
    directory = Path(cmp_dir)
    sources = _sources(directory)
    table = read_table(directory / CANDIDATES_FILE, "ambiguity candidates")
    run = load_run(_run_dir(Path(sources["results"])), sop=sop, items=items, need_sop=True, need_items=True)
    assert run.sop is not None
    votes = _votes(sources["humans"], sources.get("humans_format"), run.sop)
    rows = {normalize_id(row["item_id"]): row for row in run.rows}
    drafts, texts = _drafts(directory), _rule_texts(run.sop)
    out = Candidates(directory, run.sop, [], warnings=list(run.warnings))
    taken: set[str] = set()
    ranked = table.assign(_rank=table["rank"].astype(int)).sort_values("_rank").head(top)
    for candidate in ranked.to_dict("records"):
        ids = [normalize_id(i) for i in str(candidate.get("example_item_ids") or "").split(";")]
        chosen = next((i for i in ids if i and i not in taken and i in rows and i in run.items), None)
        if chosen is None:
            out.skipped["no example item left (or not in the run's items)"] += 1
            continue
        taken.add(chosen)
        row = rows[chosen]
        label = row.get("label") if not run.sop.multi_label else ";".join(row.get("labels") or [])
        confidence = row.get("confidence")
        cited = [str(r) for r in row.get("cited_rules") or []]
        out.tasks.append(
            CandidateTask(
                rank=int(candidate["_rank"]),
                cluster=str(candidate.get("cluster", "")),
                kind=str(candidate.get("kind", "")),
                item=run.items[chosen],
                votes=votes.get(chosen, []),
                model_label=str(label or ""),
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
                rationale=str(row.get("rationale") or ""),
                rules=[(r, texts.get(r, "(not in this SOP)")) for r in cited],
                draft=drafts.get(int(candidate["_rank"]), ""),
            )
        )
    if not out.tasks:
        raise InputError(f"{directory}: no ambiguity candidate to adjudicate ({CANDIDATES_FILE} has none)")
    return out
