"""Ambiguity scoring: an SOP with two deliberately overlapping definitions must rank that pair first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import prelabel

SOP_TEXT = """\
id: listing_issue
version: 1.0.0
title: Listing issue
labels:
  - id: quality
    definition: Product quality problems.
    children:
      - id: quality.defective
        definition: The item is broken or does not work properly.
      - id: quality.damaged
        definition: The item does not work properly or is broken.
  - id: tone
    definition: Tone of the message.
    children:
      - id: tone.sarcasm
        definition: Praise that means the opposite.
      - id: tone.complaint
        definition: An open complaint.
  - id: delivery
    definition: Delivery problems.
    children:
      - id: delivery.late
        definition: The parcel arrived after the promised date.
        include: [tracking shows no movement for days]
      - id: delivery.lost
        definition: The parcel never arrived.
  - id: other
    definition: Anything else.
rules:
  - id: R1
    text: Label the main problem.
  - id: R2
    text: Anything that stopped working is a quality problem.
"""
SOP = prelabel.parse_sop(SOP_TEXT)
OVERLAP, INHERENT, ERROR = (
    "quality.defective ↔ quality.damaged",
    "tone.sarcasm ↔ tone.complaint",
    ("delivery.late ↔ delivery.lost"),
)


def scenario(seed: int = 0, per_cluster: int = 40) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Overlap pair (humans split, model sure), inherent pair (both unsure), label errors, clean items."""
    rng = np.random.default_rng(seed)
    results, humans, expected = [], [], {}

    def add(item: str, human: list[str], model: str, confidence: float, rules: list[str], kind: str) -> None:
        results.append({"item_id": item, "label": model, "confidence": confidence, "cited_rules": rules})
        humans.extend({"item_id": item, "annotator": f"a{k}", "label": h} for k, h in enumerate(human))
        expected[item] = kind

    for i in range(per_cluster):
        pair = ["quality.defective", "quality.damaged"][:: 1 if rng.random() < 0.5 else -1]
        add(f"o{i}", [pair[0], pair[0], pair[1]], pair[int(rng.random() < 0.5)], 0.9, ["R2"], "sop_ambiguity")
        pair = ["tone.sarcasm", "tone.complaint"][:: 1 if rng.random() < 0.5 else -1]
        add(
            f"i{i}",
            [pair[0], pair[0], pair[1]],
            pair[int(rng.random() < 0.5)],
            0.35,
            ["R1"],
            "inherent_ambiguity",
        )
        add(f"e{i}", ["delivery.late"] * 3, "delivery.lost", 0.95, [], "label_error")
    for i in range(100):
        label = SOP.leaf_ids[i % len(SOP.leaf_ids)]
        add(f"c{i}", [label] * 3, label, 0.9, [], "")
    return pd.DataFrame(results), pd.DataFrame(humans), expected


def test_overlapping_definitions_rank_first_and_inherent_ambiguity_below() -> None:
    results, humans, _ = scenario()
    cmp = prelabel.compare(results, humans, sop=SOP)
    pairs = cmp.candidates[cmp.candidates["group"] == "label_pair"].set_index("cluster")
    top = cmp.candidates.iloc[0]
    assert top["cluster"] == OVERLAP
    assert top["kind"] == "sop_ambiguity"
    assert pairs.loc[INHERENT, "kind"] == "inherent_ambiguity"
    assert pairs.loc[INHERENT, "rank"] > pairs.loc[OVERLAP, "rank"]
    assert pairs.loc[INHERENT, "mean_score"] < pairs.loc[OVERLAP, "mean_score"]
    assert pairs.loc[ERROR, "kind"] == "label_error"
    assert pairs.loc[ERROR, "directions"] == "humans delivery.late → model delivery.lost (40)"
    # the SOP text involved is quoted: both (overlapping) definitions and the rule the model cited
    assert "quality.defective: The item is broken or does not work properly." in top["sop_text"]
    assert "quality.damaged: The item does not work properly or is broken." in top["sop_text"]
    assert "R2: Anything that stopped working is a quality problem." in top["sop_text"]
    assert "include: tracking shows no movement for days" in pairs.loc[ERROR, "sop_text"]
    assert top["cited_rules"] == "R2 (40)"
    rules = cmp.candidates[cmp.candidates["group"] == "rule"]
    assert set(rules["cluster"]) == {"rule R1", "rule R2"}
    assert rules["rank"].min() > len(pairs)  # rule clusters come after the label pairs


def test_every_disagreement_gets_the_expected_kind_and_rows_are_sorted() -> None:
    results, humans, expected = scenario(seed=1)
    dis = prelabel.compare(results, humans, sop=SOP).disagreements
    assert set(dis["item_id"]) == {item for item, kind in expected.items() if kind}
    for row in dis.itertuples():
        assert row.kind == expected[row.item_id], row.item_id
    scores = dis["ambiguity_score"].to_numpy()
    assert (np.diff(scores) <= 0).all()
    assert ((scores >= 0) & (scores <= 1)).all()


def two_items(confidences: tuple[float, float], humans_split: bool = True) -> pd.Series:
    labels = ["x", "x", "y"] if humans_split else ["x", "x", "x"]
    humans = pd.DataFrame(
        [(item, f"a{k}", label) for item in ("1", "2") for k, label in enumerate(labels)],
        columns=["item_id", "annotator", "label"],
    )
    results = pd.DataFrame({"item_id": ["1", "2"], "label": ["y", "y"], "confidence": list(confidences)})
    dis = prelabel.compare(results, humans).disagreements.set_index("item_id")
    return dis["ambiguity_score"]


@pytest.mark.parametrize("humans_split", [True, False])
def test_score_rises_with_model_certainty(humans_split: bool) -> None:
    score = two_items((0.9, 0.5), humans_split)
    assert score["1"] > score["2"]


def test_score_rises_with_human_split_and_with_cluster_size() -> None:
    humans = pd.DataFrame(
        [("1", "a0", "x"), ("1", "a1", "y"), ("2", "a0", "x"), ("2", "a1", "x"), ("2", "a2", "y")]
        + [(f"b{i}", f"a{k}", "p") for i in range(5) for k in range(2)]
        + [("c", "a0", "p"), ("c", "a1", "p")],
        columns=["item_id", "annotator", "label"],
    )
    results = pd.DataFrame(
        {"item_id": ["1", "2", *[f"b{i}" for i in range(5)], "c"], "label": ["y"] * 2 + ["q"] * 5 + ["r"]}
    ).assign(confidence=0.9)
    dis = prelabel.compare(results, humans).disagreements.set_index("item_id")
    assert dis.loc["1", "human_split"] == 1.0 and dis.loc["2", "human_split"] == 0.5
    assert dis.loc["1", "ambiguity_score"] > dis.loc["2", "ambiguity_score"]
    # same profile (unanimous humans vs a sure model), bigger cluster → higher score
    assert dis.loc["b0", "ambiguity_score"] > dis.loc["c", "ambiguity_score"]
    assert dis.loc["b0", "kind"] == dis.loc["c", "kind"] == "label_error"
