"""Disagreements, their kind and ambiguity score, and the clusters that point at unclear SOP text.

For an item where the model and at least one human differ:

- ``human_split`` ∈ [0, 1]: how far the humans are from unanimous, ``(1 − majority share) / (1 − 1/n)``
  (0 = unanimous or a single annotator, 1 = as split as n annotators can be);
- ``model_certainty`` ∈ [0, 1]: the share of self-consistency ``samples`` agreeing with the model's answer
  when the results carry samples, else its stated ``confidence`` (``NaN`` when unknown: no samples and no
  confidence in [0, 1]; see `prelabel.comparison.certainty`). The model is *sure* when its certainty is known
  and at least ``confident``;
- ``off_majority``: 1 when the model's answer is not the human majority (0.5 when it ties for it), else 0.

The ``kind`` says what the humans and the model did, and disagreements are ranked by kind first, in this
order: ``sop_ambiguity`` (humans split, model sure: the wording, not the item, is unclear),
``inherent_ambiguity`` (humans split, model not sure: the item is hard), ``label_error`` (humans unanimous,
model sure: either side may be wrong) and ``model_error`` (humans unanimous, model not sure: most likely the
model's own mistake). Within a kind, ``raw = split·c + ½·split·(1 − c) + 0.4·(1 − split)·c·off_majority``
(``c`` the certainty, 0 when unknown: below a known one with the same split and cluster, not below every
known one), weighted by the cluster,
``within = raw · (0.75 + 0.25·log(1 + cluster size) / log(1 + largest cluster size))``; and
``ambiguity_score = (3 − kind's position + within) / 4``, so every ``sop_ambiguity`` scores above every
``inherent_ambiguity``, and so on. Each term rises with its signal.

Candidates cluster disagreements by the pair of answers in contention (the model's, and the most frequent
human answer that differs from it; the pair is unordered, with both directions counted) and by each SOP rule
the model cited. Label-pair clusters come first, then rule clusters (a rule cluster spans pairs, so it is not
ranked against them); within each group by ``mean score · (1 + ln items)``.

When the results name their model, each disagreement carries it (``model``); when some answers come from the
bundled smoke model, the candidates get a ``model_note`` column right after ``rank`` that marks each cluster
holding such answers (`SMOKE_CANDIDATE_NOTE`): its place in the ranking illustrates the mechanics only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from prelabel.comparison.interrater import dense_unique
from prelabel.comparison.prep import Prepared
from prelabel.comparison.provenance import smoke_flags
from prelabel.comparison.readers import as_list
from prelabel.llm.endpoints import SMOKE_MODEL, model_label
from prelabel.sop.spec import SOP

__all__ = [
    "DISAGREEMENT_COLUMNS",
    "KINDS",
    "SMOKE_CANDIDATE_NOTE",
    "candidates_frame",
    "disagreements_frame",
    "sop_quote",
]

#: The kinds of disagreement, in ranking order.
KINDS = ("sop_ambiguity", "inherent_ambiguity", "label_error", "model_error")
#: ``model_note`` of a candidate cluster holding answers of the smoke model (the column exists only then).
SMOKE_CANDIDATE_NOTE = f"ranked from answers of {model_label(SMOKE_MODEL)}"
DISAGREEMENT_COLUMNS = [
    "item_id", "model_label", "model_confidence", "model_certainty", "human_labels", "human_majority",
    "majority_share", "majority_tied", "n_annotators", "human_split", "cited_rules", "ambiguity_score",
    "kind", "cluster", "contested_label",
]  # fmt: skip


def _human_labels(patterns: np.ndarray, names: list[str]) -> np.ndarray:
    """'a ×2 | b ×1' for each count-table row."""
    text = []
    for row in patterns:
        order = np.argsort(-row, kind="stable")
        text.append(" | ".join(f"{names[c]} ×{row[c]}" for c in order if row[c] > 0))
    return np.asarray(text, dtype=object)


def _joined(values: np.ndarray) -> np.ndarray:
    """Each list cell as ``;``-joined text; a cell object shared by many rows (the DuckDB engine decodes
    each distinct list once) is joined once."""
    done: dict[int, str] = {}
    out = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        key = id(value)
        text = done.get(key)
        if text is None:
            text = done[key] = ";".join(as_list(value) or [])
        out[index] = text
    return out


def disagreements_frame(prep: Prepared, confident: float = 0.7) -> pd.DataFrame:
    """One row per compared item where the model and at least one human differ, highest score first."""
    codes, patterns = prep.patterns
    n_names = max(len(prep.names), 1)
    idx = np.flatnonzero(prep.compared)
    idx = idx[patterns[codes[idx], prep.model[idx]] < prep.ratings.n_raters[idx]]
    pattern, m = codes[idx], prep.model[idx]
    n = prep.ratings.n_raters[idx].astype(np.float64)
    top, share, tied = (a[idx] for a in prep.majority)
    split = np.where(n >= 2, (1 - share) / np.maximum(1 - 1 / np.maximum(n, 1), 1e-12), 0.0)
    split = np.clip(np.round(split, 12), 0.0, 1.0)
    certainty = prep.certainty[idx]
    known = ~np.isnan(certainty)
    c = np.where(known, certainty, 0.0)
    sure = known & (c >= confident)
    model_share = patterns[pattern, m] / n
    off = np.where(tied, np.where(np.isclose(model_share, share), 0.5, 1.0), (m != top).astype(np.float64))
    # the contested human answer depends only on (pattern, model answer): compute it once per distinct pair
    pair_keys, pair_inverse = dense_unique(pattern * n_names + m, len(patterns) * n_names)
    others = patterns[pair_keys // n_names].copy()
    others[np.arange(len(pair_keys)), pair_keys % n_names] = 0
    contested = others.argmax(axis=1)[pair_inverse]
    low, high = np.minimum(contested, m), np.maximum(contested, m)
    cluster_keys, cluster = dense_unique(low * n_names + high, n_names * n_names)
    size = np.bincount(cluster, minlength=len(cluster_keys))
    weight = (np.log1p(size) / np.log1p(max(int(size.max(initial=0)), 1)))[cluster]
    raw = split * c + 0.5 * split * (1 - c) + 0.4 * (1 - split) * c * off
    kind = np.where(split > 0, np.where(sure, 0, 1), np.where(sure, 2, 3))
    score = (len(KINDS) - 1 - kind + raw * (0.75 + 0.25 * weight)) / len(KINDS)
    order = np.lexsort((-score, kind))  # by kind, then highest score first; ties keep input order
    idx, pattern, m, contested, cluster, kind = (
        a[order] for a in (idx, pattern, m, contested, cluster, kind)
    )
    top, share, tied, n, split, certainty, score = (
        a[order] for a in (top, share, tied, n, split, certainty, score)
    )
    used, used_pattern = dense_unique(pattern, len(patterns))
    names = prep.names
    cluster_names = [f"{names[k // n_names]} ↔ {names[k % n_names]}" for k in cluster_keys]
    res = prep.results
    rows = prep.row[idx]
    data: dict[str, Any] = {
        "item_id": prep.ratings.items.to_numpy()[idx],
        "model_label": pd.Categorical.from_codes(m, categories=names),
        "model_confidence": prep.confidence[idx],
        "model_certainty": certainty,
        "human_labels": pd.Categorical.from_codes(used_pattern, _human_labels(patterns[used], names)),
        "human_majority": pd.Categorical.from_codes(np.where(tied, -1, top), categories=names),
        "majority_share": share,
        "majority_tied": tied,
        "n_annotators": n.astype(np.int64),
        "human_split": split,
        "cited_rules": pd.Categorical(
            _joined(res["cited_rules"].to_numpy()[rows]) if res is not None else []
        ),
        "ambiguity_score": score,
        "kind": pd.Categorical.from_codes(kind, categories=KINDS),
        "cluster": pd.Categorical.from_codes(cluster, categories=cluster_names),
        "contested_label": pd.Categorical.from_codes(contested, categories=names),
    }
    frame = pd.DataFrame(data, columns=DISAGREEMENT_COLUMNS)
    if res is not None:
        if res["samples"].notna().any():
            has_samples = np.asarray([bool(as_list(v)) for v in res["samples"].to_numpy()[rows]], dtype=bool)
            frame["model_spread"] = np.where(has_samples, 1 - certainty, np.nan)
        if "rationale" in res.columns:
            frame["rationale"] = res["rationale"].to_numpy()[rows]
        if "model" in res.columns and res["model"].notna().any():  # which model gave each answer
            frame["model"] = pd.Categorical(res["model"].to_numpy()[rows])
    if prep.text is not None:
        frame["text"] = prep.text[idx]
    for column, values in prep.slices.items():
        frame[column if column not in frame.columns else f"slice_{column}"] = values[idx]
    return frame


def sop_quote(sop: SOP | None, labels: list[str], rules: list[str]) -> str:
    """The SOP text involved: each label's definition, include/exclude lines, edge cases; each rule's text."""
    if sop is None:
        return ""
    lines: list[str] = []
    for label_id in dict.fromkeys(labels):
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
    lines += [f"{rule}: {by_id[rule]}" for rule in dict.fromkeys(rules) if rule in by_id]
    return "\n".join(lines)


def _tallies(sizes: pd.Series) -> dict[Any, Counter[Any]]:
    """A (key, *values) → count series as {key: Counter(values)}."""
    out: dict[Any, Counter[Any]] = defaultdict(Counter)
    for index, count in sizes.items():
        key, *rest = index if isinstance(index, tuple) else (index,)
        out[key][tuple(rest) if len(rest) > 1 else rest[0]] += int(count)
    return out


def _text(counter: Counter[Any], fmt: Any = str) -> str:
    return "; ".join(f"{fmt(value)} ({n})" for value, n in counter.most_common())


def _aggregate(frame: pd.DataFrame, key: str, examples: int, total: int) -> pd.DataFrame:
    """One row per value of ``key``: size, mean score/split/certainty, kinds, directions, rules, examples."""
    groups = frame.groupby(key, sort=False, observed=True)
    stats = groups.agg(
        n_items=("ambiguity_score", "size"),
        mean_score=("ambiguity_score", "mean"),
        mean_human_split=("human_split", "mean"),
        mean_model_certainty=("model_certainty", "mean"),
    )
    kinds = _tallies(frame.groupby([key, "kind"], sort=False, observed=True).size())
    directions = _tallies(
        frame.groupby([key, "contested_label", "model_label"], sort=False, observed=True).size()
    )
    rules: dict[Any, Counter[str]] = defaultdict(Counter)
    for (value, joined), count in (
        frame.groupby([key, "cited_rules"], sort=False, observed=True).size().items()
    ):
        for rule in str(joined).split(";"):
            if rule:
                rules[value][rule] += int(count)
    heads = groups.head(examples)
    ids = heads.groupby(key, sort=False, observed=True)["item_id"].agg(lambda s: ";".join(map(str, s)))
    texts = (
        heads.groupby(key, sort=False, observed=True)["text"].agg(lambda s: " || ".join(map(str, s.dropna())))
        if "text" in frame
        else None
    )
    if "_smoke" in frame.columns:
        stats["_smoke"] = groups["_smoke"].any()
    stats["share_of_disagreements"] = stats["n_items"] / total
    stats["kind"] = [kinds[v].most_common(1)[0][0] for v in stats.index]
    stats["kinds"] = [_text(kinds[v]) for v in stats.index]
    stats["directions"] = [
        _text(directions[v], lambda p: f"humans {p[0]} → model {p[1]}") for v in stats.index
    ]
    stats["cited_rules"] = [_text(rules[v]) for v in stats.index]
    stats["top_rules"] = [[r for r, _ in rules[v].most_common()] for v in stats.index]
    stats["top_pairs"] = [[p for pair, _ in directions[v].most_common(2) for p in pair] for v in stats.index]
    stats["example_item_ids"] = ids.reindex(stats.index).to_numpy()
    stats["examples"] = texts.reindex(stats.index).to_numpy() if texts is not None else ""
    return stats


def candidates_frame(dis: pd.DataFrame, prep: Prepared, examples: int = 3) -> pd.DataFrame:
    """Ranked clusters of disagreements (label pairs first, then cited rules), with the SOP text involved."""
    columns = ["rank", "group", "cluster", "rank_score", "n_items", "mean_score", "kind", "sop_text"]
    if dis.empty:
        return pd.DataFrame(columns=columns)
    sop, total, members = prep.space.sop, len(dis), prep.space.members
    smoke = smoke_flags(dis["model"]) if "model" in dis.columns else np.zeros(total, dtype=bool)
    if smoke.any():  # the ranking of these clusters comes from the smoke model's answers: say so beside it
        dis = dis.assign(_smoke=smoke)
        columns.insert(1, "model_note")
    pairs = _aggregate(dis, "cluster", examples, total)
    pairs["group"] = "label_pair"
    pairs["sop_text"] = [
        sop_quote(sop, [m for side in str(c).split(" ↔ ") for m in members(side)], rules)
        for c, rules in zip(pairs.index, pairs["top_rules"], strict=True)
    ]
    parts = [pairs.rename_axis("cluster").reset_index()]
    rule_codes = dis["cited_rules"].cat.codes.to_numpy()
    by_rule: dict[str, list[int]] = defaultdict(list)
    for code, combo in enumerate(dis["cited_rules"].cat.categories):
        for rule in str(combo).split(";"):
            if rule:
                by_rule[rule].append(code)
    if by_rule:
        needed = ["item_id", "ambiguity_score", "human_split", "model_certainty", "kind", "contested_label"]
        needed += ["model_label", "cited_rules", *(["text"] if "text" in dis else [])]
        needed += ["_smoke"] if "_smoke" in dis else []
        slim = dis[needed]
        exploded = pd.concat(
            [slim[np.isin(rule_codes, codes)].assign(rule=rule) for rule, codes in by_rule.items()],
            ignore_index=True,
        ).sort_values("ambiguity_score", ascending=False, kind="stable")
        rules = _aggregate(exploded, "rule", examples, total)
        rules["group"] = "rule"
        rules["sop_text"] = [
            sop_quote(sop, [m for p in top for m in members(p)], [rule])
            for rule, top in zip(rules.index, rules["top_pairs"], strict=True)
        ]
        rules.index = [f"rule {r}" for r in rules.index]
        parts.append(rules.rename_axis("cluster").reset_index())
    frame = pd.concat(parts, ignore_index=True).drop(columns=["top_rules", "top_pairs"])
    frame["rank_score"] = frame["mean_score"] * (1 + np.log(frame["n_items"]))
    frame["_pairs_first"] = frame["group"] != "label_pair"
    frame = frame.sort_values(
        ["_pairs_first", "rank_score", "n_items", "cluster"],
        ascending=[True, False, False, True],
        kind="stable",
    ).drop(columns="_pairs_first")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    if "_smoke" in frame.columns:
        frame["model_note"] = np.where(frame.pop("_smoke").astype(bool), SMOKE_CANDIDATE_NOTE, "")
    ordered = columns[:-1] + [c for c in frame.columns if c not in columns] + ["sop_text"]
    return frame[ordered].reset_index(drop=True)
