"""What the comparator's figures and ranking mean (issue 14 items 11–15, issue 13 items 9 and 14): ranking
by kind, unknown certainty, abstentions on both sides, ties, Unicode labels, slices, micro F1, exclusive
labels and the two percent agreements."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

import prelabel
from prelabel.comparison import interrater as irr
from prelabel.comparison.ambiguity import KINDS

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
RISK = prelabel.bundled_sop("seller_content_risk")


def frames(cases: list[tuple[list[str], str, float | None]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model results and long-form human labels from (human labels, model label, confidence) per item."""
    results = pd.DataFrame(
        {
            "item_id": [str(i) for i in range(len(cases))],
            "label": [model for _, model, _ in cases],
            "confidence": [np.nan if c is None else c for _, _, c in cases],
        }
    )
    humans = pd.DataFrame(
        [(str(i), f"a{k}", h) for i, (labels, _, _) in enumerate(cases) for k, h in enumerate(labels)],
        columns=["item_id", "annotator", "label"],
    )
    return results, humans


def expected_kind(humans: list[str], certainty: float, confident: float) -> str:
    split = len(set(humans)) > 1
    sure = not np.isnan(certainty) and certainty >= confident
    return {(True, True): "sop_ambiguity", (True, False): "inherent_ambiguity"}.get(
        (split, sure), "label_error" if sure else "model_error"
    )


def test_the_issue_counter_example_ranks_sop_ambiguity_first() -> None:
    results, humans = frames(
        [
            (["x"] * 5, "y", 0.95),  # unanimous humans vs a sure model: label_error (was 0.327)
            (["x", "y", "z", "w", "v"], "u", 0.3),  # fully split, unsure model: inherent (was 0.75)
            (["x"] * 4 + ["y"], "x", 0.95),  # humans 4/1, sure model: sop_ambiguity (was 0.2375, last)
        ]
    )
    dis = prelabel.compare(results, humans).disagreements
    assert list(dis["kind"]) == ["sop_ambiguity", "inherent_ambiguity", "label_error"]
    assert list(dis["item_id"]) == ["2", "1", "0"]


@pytest.mark.parametrize("seed", range(12))
def test_ranking_follows_the_documented_kinds_on_random_cases(seed: int) -> None:
    """Property: every disagreement of a kind ranks above every one of a later kind, kinds are what the
    QA analyst's guide says, scores fall down the list, and within a kind a higher score never ranks lower."""
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d"]
    cases = []
    for _ in range(120):
        n = int(rng.integers(1, 7))
        humans = list(rng.choice(labels[: int(rng.integers(1, 5))], n))
        model = str(rng.choice(labels))
        roll = rng.random()
        confidence = None if roll < 0.15 else 1.5 if roll < 0.2 else float(rng.random())
        cases.append((humans, model, confidence))
    confident = float(rng.choice([0.5, 0.7, 0.9]))
    results, humans = frames(cases)
    dis = prelabel.compare(results, humans, confident=confident).disagreements
    assert len(dis) == sum(any(h != m for h in hs) for hs, m, _ in cases)
    position = [KINDS.index(k) for k in dis["kind"]]
    assert position == sorted(position)
    scores = dis["ambiguity_score"].to_numpy()
    assert (np.diff(scores) <= 1e-12).all()
    assert ((scores >= 0) & (scores <= 1)).all()
    for row in dis.itertuples():
        hs, _, confidence = cases[int(row.item_id)]
        given = np.nan if confidence is None or not 0 <= confidence <= 1 else confidence
        assert np.isnan(row.model_certainty) == np.isnan(given)
        assert row.kind == expected_kind(hs, given, confident), row
    # and every sop_ambiguity outscores every other kind, pair by pair
    sop = dis.loc[dis["kind"] == "sop_ambiguity", "ambiguity_score"]
    rest = dis.loc[dis["kind"] != "sop_ambiguity", "ambiguity_score"]
    if len(sop) and len(rest):
        assert sop.min() > rest.max()


def test_missing_and_out_of_range_confidence_is_unknown_not_sure() -> None:
    split = ["x", "x", "y"]
    results, humans = frames([(split, "y", None), (split, "y", 0.7), (split, "y", 1.2), (split, "y", -0.1)])
    cmp = prelabel.compare(results, humans)
    dis = cmp.disagreements.set_index("item_id")
    assert cmp.disagreements["item_id"].iloc[0] == "1"  # the only known, sure answer ranks first
    assert dis.loc["1", "kind"] == "sop_ambiguity"
    for item in ("0", "2", "3"):
        assert np.isnan(dis.loc[item, "model_certainty"])
        assert dis.loc[item, "kind"] == "inherent_ambiguity"
        assert dis.loc[item, "ambiguity_score"] < dis.loc["1", "ambiguity_score"]
    assert dis.loc["2", "model_confidence"] == 1.2  # the given value is shown as given
    amb = cmp.metrics.ambiguity
    assert (amb.certainty_unknown, amb.confidence_out_of_range) == (3, 2)
    notes = " ".join(cmp.metrics.notes)
    assert "1 compared model answers carry no confidence" in notes
    assert "2 model confidences lie outside [0, 1] (e.g. 1.2, -0.1)" in notes
    assert "unknown" in cmp.metrics.definitions["certainty"]
    # an unknown certainty ranks below a known low one of the same kind
    low = prelabel.compare(*frames([(split, "y", None), (split, "y", 0.1)])).disagreements
    assert list(low["item_id"]) == ["1", "0"]


def test_label_error_needs_a_sure_model() -> None:
    results, humans = frames([(["x"] * 3, "y", 0.05), (["x"] * 3, "y", 0.95), (["x"] * 3, "y", None)])
    dis = prelabel.compare(results, humans).disagreements.set_index("item_id")
    assert dis.loc["1", "kind"] == "label_error"
    assert dis.loc["0", "kind"] == dis.loc["2", "kind"] == "model_error"


def test_abstentions_are_no_answer_on_both_sides() -> None:
    late, damaged = "logistics.late_delivery", "product.damaged"
    humans = pd.DataFrame(
        [
            *[("1", "a", late), ("1", "b", late), ("2", "a", damaged), ("2", "b", "needs_review")],
            *[("3", "a", "needs_review"), ("4", "a", late), ("4", "b", late)],
        ],
        columns=["item_id", "annotator", "label"],
    )
    results = pd.DataFrame(
        {
            "item_id": ["1", "2", "3", "4"],
            "label": [late, damaged, late, "needs_review"],
            "status": ["ok", "ok", "ok", "abstained"],
            "confidence": 0.9,
        }
    )
    cmp = prelabel.compare(results, humans, sop=FEEDBACK)
    m = cmp.metrics
    assert m.skipped.annotations_abstained == 2
    assert m.skipped.items_model_abstained == 1
    assert m.skipped.items_without_valid_human_label == 1  # item 3: its only annotation abstained
    assert m.summary.n_compared == 2 and m.summary.accuracy == 1.0
    assert "needs_review" not in {row.label for row in m.model_vs_majority.per_label or []}
    assert m.humans.n_annotations == 5
    assert any("2 human annotations are abstentions (needs_review)" in n for n in m.notes)
    # without an SOP, the abstain label is learned from the model's abstained rows
    plain = prelabel.compare(results, humans).metrics
    assert plain.skipped.annotations_abstained == 2 and plain.summary.accuracy == 1.0
    # humans only: the SOP says which label abstains
    assert prelabel.agreement(humans, sop=FEEDBACK).skipped.annotations_abstained == 2


def test_tied_items_are_counted_with_the_skips_and_beside_each_figure(tmp_path: Path) -> None:
    results, humans = frames(
        [(["x", "y"], "x", 0.9), (["x", "y", "z"], "x", 0.9), (["x", "x"], "x", 0.9), (["y"], "x", 0.9)]
    )
    cmp = prelabel.compare(results, humans)
    m = cmp.metrics
    assert m.skipped.items_majority_tied == m.model_vs_majority.n_tied_excluded == 2
    assert (m.summary.n_compared, m.summary.n_vs_majority, m.model_vs_majority.n) == (4, 2, 2)
    assert m.summary.accuracy == 0.5  # over the two untied items
    assert m.summary.n_human_paired == 3
    assert any("2 of 4 compared items have a tied human majority" in n for n in m.notes)
    assert "ties" in m.definitions
    assert "| accuracy vs human majority | 0.500 | 2 |" in cmp.to_markdown()
    assert "Skipped: items_majority_tied 2" in cmp.to_markdown()
    html = cmp.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "how ties, abstentions and unknown certainty are treated" in html
    assert "items_majority_tied" in html and "<th>n</th>" in html
    written = json.loads(cmp.save(tmp_path, html=False)["metrics"].read_text(encoding="utf-8"))
    assert written["skipped"]["items_majority_tied"] == 2


def test_labels_are_unicode_normalised() -> None:
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    humans = pd.DataFrame(
        {"item_id": ["1", "1", "2", "2"], "annotator": ["a", "b"] * 2, "label": [nfc, nfd, "x\u200b", "x"]}
    )
    results = pd.DataFrame({"item_id": ["1", "2"], "label": [f"\ufeff{nfd}", "x"], "confidence": 0.9})
    cmp = prelabel.compare(results, humans)
    assert cmp.metrics.humans.percent_agreement == 1.0
    assert cmp.metrics.summary.accuracy == 1.0
    assert cmp.disagreements.empty


def test_an_item_whose_rows_disagree_on_a_slice_is_noted() -> None:
    humans = pd.DataFrame(
        {
            "item_id": ["1", "1", "2", "2"],
            "annotator": ["a", "b"] * 2,
            "label": "x",
            "market": ["ID", "TH", "VN", "VN"],
        }
    )
    metrics = prelabel.agreement(humans)
    assert any("column 'market': 1 items have rows with different values" in n for n in metrics.notes)
    assert [(s.value, s.n_items) for s in metrics.slices["market"]] == [("ID", 1), ("VN", 1)]


def test_multi_label_reports_micro_f1_and_notes_exclusive_combinations() -> None:
    rng = np.random.default_rng(3)
    leaves = [leaf for leaf in RISK.leaf_ids if leaf != "safe"][:6]
    truth = [sorted(set(rng.choice(leaves, int(rng.integers(1, 3))))) for _ in range(60)]
    model = [t if rng.random() < 0.6 else sorted(set(rng.choice(leaves, 2))) for t in truth]
    humans = pd.DataFrame(
        {"item_id": [str(i) for i in range(60)], "annotator": "a", "label": [";".join(t) for t in truth]}
    )
    humans.loc[0, "label"] = "safe;" + humans.loc[0, "label"]
    results = pd.DataFrame({"item_id": humans["item_id"], "labels": model, "confidence": 0.9})
    cmp = prelabel.compare(results, humans, sop=RISK)
    binarizer = MultiLabelBinarizer(classes=[*leaves, "safe"])
    y_true = binarizer.fit_transform([["safe", *truth[0]], *truth[1:]])
    y_pred = binarizer.transform(model)
    expected = f1_score(y_true, y_pred, average="micro")
    assert cmp.metrics.model_vs_majority.micro_f1 == pytest.approx(expected, rel=1e-12)
    assert cmp.metrics.summary.micro_f1 == cmp.metrics.model_vs_majority.micro_f1
    assert any("1 human labels combine an exclusive label with others" in n for n in cmp.metrics.notes)


def naive_pairwise(groups: list[list[str]]) -> float:
    shares = []
    for labels in groups:
        if len(labels) >= 2:
            pairs = list(itertools.combinations(labels, 2))
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return float(np.mean(shares))


def test_pairwise_agreement_next_to_the_mean_majority_share() -> None:
    two = pd.DataFrame({"item_id": ["1", "1"], "annotator": ["a", "b"], "label": ["x", "y"]})
    got = prelabel.agreement(two)
    assert (got.percent_agreement, got.pairwise_agreement) == (0.5, 0.0)
    assert "majority" in got.definitions["percent_agreement"]
    rng = np.random.default_rng(0)
    groups = [list(rng.choice(["a", "b", "c"], int(rng.integers(1, 6)))) for _ in range(200)]
    long = pd.DataFrame(
        [(str(i), f"r{k}", label) for i, g in enumerate(groups) for k, label in enumerate(g)],
        columns=["item_id", "annotator", "label"],
    )
    metrics = prelabel.agreement(long)
    assert metrics.pairwise_agreement == pytest.approx(naive_pairwise(groups), rel=1e-12)
    assert metrics.n_items_paired == sum(len(g) >= 2 for g in groups)
    ratings = irr.Ratings.from_frame(long)
    codes, rows = irr.row_patterns(ratings.counts)
    weighted = irr.pairwise_agreement(rows, np.bincount(codes))
    assert weighted == pytest.approx(metrics.pairwise_agreement, rel=1e-12)


def test_unknown_certainty_scores_as_certainty_zero_and_the_docs_say_so() -> None:
    fully, split = ["x", "y", "z"], ["x", "x", "y"]
    results, humans = frames([(fully, "w", None), (split, "y", 0.1), (fully, "w", 0.0)])
    cmp = prelabel.compare(results, humans)
    dis = cmp.disagreements.set_index("item_id")
    assert dis.loc["0", "ambiguity_score"] == pytest.approx(dis.loc["2", "ambiguity_score"])
    assert dis.loc["0", "ambiguity_score"] > dis.loc["1", "ambiguity_score"]  # a wider split outranks
    guide = Path(__file__).parents[2] / "docs" / "guides" / "qa-analyst.md"
    promised = [cmp.metrics.definitions["certainty"], guide.read_text()]
    for text in promised:  # neither may claim it ranks below *every* known certainty
        assert "below every known" not in text and "certainty 0 within its kind" in text
