"""Disagreements, their ambiguity score and kind, and the clusters that point at unclear SOP text.

For an item where the model and at least one human differ:

- ``human_split`` ∈ [0, 1]: how far the humans are from unanimous, ``(1 − majority share) / (1 − 1/n)``
  (0 = unanimous or a single annotator, 1 = as split as n annotators can be);
- ``model_certainty`` ∈ [0, 1]: the share of self-consistency ``samples`` agreeing with the model's answer
  when the results carry samples, else its stated ``confidence``;
- ``off_majority``: 1 when the model's answer is not the human majority (0.5 when it ties for it), else 0.

``raw = split·certainty + ½·split·(1 − certainty) + 0.4·(1 − split)·certainty·off_majority``, then
``ambiguity_score = raw · (0.75 + 0.25·log(1 + cluster size) / log(1 + largest cluster size))``. So humans
who split under this SOP while the model is sure rank first (``sop_ambiguity``: the wording, not the item, is
unclear); humans split *and* a model unsure rank below them (``inherent_ambiguity``: the item is hard);
unanimous humans against the model are ``label_error`` candidates (either side may be wrong), scored by how
sure the model is. Each term rises with its signal, and a disagreement shared by many items rises with its
cluster.

Candidates cluster disagreements by the pair of answers in contention (the model's, and the most frequent
human answer that differs from it; the pair is unordered, with both directions counted) and by each SOP rule
the model cited. Label-pair clusters come first, then rule clusters (a rule cluster spans pairs, so it is not
ranked against them); within each group by ``mean score · (1 + ln items)``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from prelabel.compare_prep import Prepared
from prelabel.sop import SOP

__all__ = ["DISAGREEMENT_COLUMNS", "KINDS", "candidates_frame", "disagreements_frame", "sop_quote"]

KINDS = ("sop_ambiguity", "inherent_ambiguity", "label_error")
DISAGREEMENT_COLUMNS = [
    "item_id", "model_label", "model_confidence", "model_certainty", "human_labels", "human_majority",
    "majority_share", "majority_tied", "n_annotators", "human_split", "cited_rules", "ambiguity_score",
    "kind", "cluster", "contested_label",
]  # fmt: skip


def _human_labels(counts: np.ndarray, names: list[str]) -> np.ndarray:
    """'a ×2 | b ×1' per row, formatted once per distinct count pattern."""
    if len(counts) == 0:
        return np.empty(0, dtype=object)
    patterns, inverse = np.unique(counts, axis=0, return_inverse=True)
    text = []
    for row in patterns:
        order = np.argsort(-row, kind="stable")
        text.append(" | ".join(f"{names[c]} ×{row[c]}" for c in order if row[c] > 0))
    return np.asarray(text, dtype=object)[inverse.reshape(-1)]


def _joined(values: np.ndarray) -> list[str]:
    return [";".join(v) if isinstance(v, list | tuple | np.ndarray) else "" for v in values]


def disagreements_frame(prep: Prepared, confident: float = 0.7) -> pd.DataFrame:
    """One row per compared item where the model and at least one human differ, highest score first."""
    counts, n_raters, model = prep.ratings.counts, prep.ratings.n_raters, prep.model
    idx = np.flatnonzero(prep.compared)
    idx = idx[counts[idx, model[idx]] < n_raters[idx]]
    rows = np.arange(len(idx))
    c, n, m = counts[idx], n_raters[idx].astype(np.float64), model[idx]
    top, share, tied = (a[idx] for a in prep.majority)
    split = np.where(n >= 2, (1 - share) / np.maximum(1 - 1 / np.maximum(n, 1), 1e-12), 0.0)
    split = np.clip(np.round(split, 12), 0.0, 1.0)
    certainty = prep.certainty[idx]
    model_share = c[rows, m] / n
    off = np.where(tied, np.where(np.isclose(model_share, share), 0.5, 1.0), (m != top).astype(np.float64))
    others = c.copy()
    others[rows, m] = 0
    contested = others.argmax(axis=1)
    n_names = max(len(prep.names), 1)
    key = np.minimum(contested, m) * n_names + np.maximum(contested, m)
    _, key_code, size = np.unique(key, return_inverse=True, return_counts=True)
    cluster_size = size[key_code.reshape(-1)] if len(key) else np.empty(0)
    weight = np.log1p(cluster_size) / np.log1p(cluster_size.max()) if len(key) else np.empty(0)
    raw = split * certainty + 0.5 * split * (1 - certainty) + 0.4 * (1 - split) * certainty * off
    score = raw * (0.75 + 0.25 * weight)
    kind = np.where(split > 0, np.where(certainty >= confident, KINDS[0], KINDS[1]), KINDS[2])
    names = np.asarray(prep.names, dtype=object)
    lo, hi = names[np.minimum(contested, m)], names[np.maximum(contested, m)]
    res = prep.results
    data: dict[str, Any] = {
        "item_id": prep.ratings.items.to_numpy()[idx],
        "model_label": names[m],
        "model_confidence": prep.confidence[idx],
        "model_certainty": certainty,
        "human_labels": _human_labels(c, prep.names),
        "human_majority": np.where(tied, "", names[top]),
        "majority_share": share,
        "majority_tied": tied,
        "n_annotators": n.astype(np.int64),
        "human_split": split,
        "cited_rules": _joined(res["cited_rules"].to_numpy()[prep.row[idx]]) if res is not None else "",
        "ambiguity_score": score,
        "kind": kind,
        "cluster": [f"{a} ↔ {b}" for a, b in zip(lo, hi, strict=True)],
        "contested_label": names[contested],
    }
    frame = pd.DataFrame(data, columns=DISAGREEMENT_COLUMNS)
    if res is not None:
        with_samples = res["samples"].notna()
        if with_samples.any():
            frame["model_spread"] = np.where(with_samples.to_numpy()[prep.row[idx]], 1 - certainty, np.nan)
        if "rationale" in res.columns:
            frame["rationale"] = res["rationale"].to_numpy()[prep.row[idx]]
    if prep.text is not None:
        frame["text"] = prep.text[idx]
    for column, values in prep.slices.items():
        frame[column if column not in frame.columns else f"slice_{column}"] = values[idx]
    frame = frame.sort_values(["ambiguity_score", "item_id"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def sop_quote(sop: SOP | None, labels: list[str], rules: list[str]) -> str:
    """The SOP text involved: each label's definition, include/exclude lines, edge cases; each rule's text."""
    if sop is None:
        return ""
    lines: list[str] = []
    for label_id in labels:
        label = sop.label_index.get(label_id)
        if label is None:
            continue
        lines.append(f"{label.id}: {label.definition.strip()}")
        lines += [f"  include: {text}" for text in label.include]
        lines += [f"  exclude: {ex.text}" + (f" (use {ex.use})" if ex.use else "") for ex in label.exclude]
        for case in sop.edge_cases:
            if label_id in case.label:
                lines.append(f"  edge case {case.id}: {case.text!r} → {', '.join(case.label)}: {case.ruling}")
    by_id = {rule.id: rule.text for rule in sop.rules}
    lines += [f"{rule}: {by_id[rule]}" for rule in rules if rule in by_id]
    return "\n".join(lines)


def _tally(values: pd.Series) -> str:
    return "; ".join(f"{k} ({v})" for k, v in Counter(v for v in values if v).most_common())


def _summarise(group: pd.DataFrame, prep: Prepared, examples: int, total: int) -> dict[str, Any]:
    top = group.head(examples)
    rules = Counter(r for value in group["cited_rules"] for r in value.split(";") if r)
    kinds = group["kind"].value_counts()
    out = {
        "n_items": len(group),
        "share_of_disagreements": len(group) / total,
        "mean_score": float(group["ambiguity_score"].mean()),
        "kind": str(kinds.index[0]),
        "kinds": "; ".join(f"{k} ({v})" for k, v in kinds.items()),
        "directions": _tally("humans " + group["contested_label"] + " → model " + group["model_label"]),
        "cited_rules": "; ".join(f"{k} ({v})" for k, v in rules.most_common()),
        "mean_human_split": float(group["human_split"].mean()),
        "mean_model_certainty": float(group["model_certainty"].mean()),
        "example_item_ids": ";".join(map(str, top["item_id"])),
        "examples": " || ".join(map(str, top["text"])) if "text" in group.columns else "",
    }
    return out


def candidates_frame(dis: pd.DataFrame, prep: Prepared, examples: int = 3) -> pd.DataFrame:
    """Ranked clusters of disagreements (by answer pair and by cited rule), with the SOP text involved."""
    columns = ["rank", "group", "cluster", "rank_score", "n_items", "mean_score", "kind", "sop_text"]
    if dis.empty:
        return pd.DataFrame(columns=columns)
    sop, total = prep.space.sop, len(dis)
    rows: list[dict[str, Any]] = []
    for cluster, group in dis.groupby("cluster", sort=False):
        pair = [part for side in str(cluster).split(" ↔ ") for part in prep.space.members(side)]
        info = _summarise(group, prep, examples, total)
        cited = [r.split(" (")[0] for r in info["cited_rules"].split("; ") if r]
        rows.append(
            {"group": "label_pair", "cluster": cluster, **info, "sop_text": sop_quote(sop, pair, cited)}
        )
    rules = dis.assign(rule=dis["cited_rules"].str.split(";")).explode("rule")
    rules = rules[rules["rule"].notna() & (rules["rule"] != "")]
    for rule, group in rules.groupby("rule", sort=False):
        info = _summarise(group, prep, examples, total)
        pairs = list(dict.fromkeys(group["model_label"].tolist() + group["contested_label"].tolist()))[:4]
        labels = [m for p in pairs for m in prep.space.members(p)]
        rows.append(
            {"group": "rule", "cluster": f"rule {rule}", **info, "sop_text": sop_quote(sop, labels, [rule])}
        )
    frame = pd.DataFrame(rows)
    frame["rank_score"] = frame["mean_score"] * (1 + np.log(frame["n_items"]))
    frame["_pairs_first"] = frame["group"] != "label_pair"
    frame = frame.sort_values(
        ["_pairs_first", "rank_score", "n_items", "cluster"],
        ascending=[True, False, False, True],
        kind="stable",
    ).drop(columns="_pairs_first")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    ordered = columns[:-1] + [c for c in frame.columns if c not in columns] + ["sop_text"]
    return frame[ordered].reset_index(drop=True)
