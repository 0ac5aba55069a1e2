"""``prelabel.compare``: model-vs-human metrics against scikit-learn/statsmodels, inputs and bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    jaccard_score,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

import prelabel

DATA = Path(__file__).parents[1] / "data" / "compare"
FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")


def synthetic(seed: int, n: int = 400, annotators: int = 3, sop: prelabel.SOP = FEEDBACK):
    """Model results and long-form human labels over the SOP's leaves, with a ``market`` slice."""
    rng = np.random.default_rng(seed)
    leaves = np.asarray(sop.leaf_ids, dtype=object)
    truth = rng.integers(0, len(leaves), n)

    def noisy(p: float) -> np.ndarray:
        return leaves[np.where(rng.random(n) < p, truth, rng.integers(0, len(leaves), n))]

    results = pd.DataFrame({"item_id": np.arange(n), "label": noisy(0.75), "confidence": rng.random(n)})
    market = np.asarray(["ID", "TH", "VN"], dtype=object)[rng.integers(0, 3, n)]
    humans = pd.concat(
        [
            pd.DataFrame({"item_id": np.arange(n).astype(str), "annotator": f"a{k}", "label": noisy(0.8)})
            for k in range(annotators)
        ]
    ).assign(market=np.tile(market, annotators))
    return results, humans


def naive_majority(humans: pd.DataFrame) -> pd.Series:
    """The majority label per item, or None when tied (a plain loop: the reference)."""
    out = {}
    for item, labels in humans.groupby("item_id")["label"]:
        counts = Counter(labels).most_common()
        out[item] = None if len(counts) > 1 and counts[0][1] == counts[1][1] else counts[0][0]
    return pd.Series(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_model_vs_majority_matches_sklearn(seed: int) -> None:
    results, humans = synthetic(seed)
    got = prelabel.compare(results, humans, sop=FEEDBACK).metrics
    majority = naive_majority(humans)
    model = results.set_index(results["item_id"].astype(str))["label"]
    keep = majority.dropna().index
    y_true, y_pred = majority[keep].to_numpy(), model[keep].to_numpy()
    vs = got.model_vs_majority
    assert vs.n == len(keep)
    assert vs.n_tied_excluded == majority.isna().sum()
    assert vs.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert vs.kappa == pytest.approx(cohen_kappa_score(y_true, y_pred), rel=1e-12)
    labels = sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    by_label = {row.label: row for row in vs.per_label}
    for i, label in enumerate(labels):
        assert by_label[label].precision == pytest.approx(p[i])
        assert by_label[label].recall == pytest.approx(r[i])
        assert by_label[label].f1 == pytest.approx(f[i])
        assert by_label[label].support == s[i]
    assert vs.macro_f1 == pytest.approx(f.mean())
    order = vs.confusion.labels
    assert (np.array(vs.confusion.matrix) == confusion_matrix(y_true, y_pred, labels=order)).all()
    assert got.summary.accuracy == vs.accuracy


def test_model_vs_each_annotator_matches_sklearn() -> None:
    results, humans = synthetic(2)
    got = {row.annotator: row for row in prelabel.compare(results, humans).metrics.model_vs_annotators}
    model = results.set_index(results["item_id"].astype(str))["label"]
    for name, rows in humans.groupby("annotator"):
        y_pred = model[rows["item_id"]].to_numpy()
        assert got[name].n == len(rows)
        assert got[name].kappa == pytest.approx(cohen_kappa_score(rows["label"], y_pred), rel=1e-12)
        assert got[name].agreement == pytest.approx(np.mean(rows["label"].to_numpy() == y_pred))


def test_tree_levels_roll_leaves_up_before_the_majority_vote() -> None:
    results, humans = synthetic(3)
    levels = prelabel.compare(results, humans, sop=FEEDBACK).metrics.levels
    assert [lv.level for lv in levels] == [1, 2] and levels[-1].leaf
    parent = humans.assign(label=humans["label"].str.split(".").str[0])
    majority = naive_majority(parent).dropna()
    model = results.set_index(results["item_id"].astype(str))["label"].str.split(".").str[0]
    y_true, y_pred = majority.to_numpy(), model[majority.index].to_numpy()
    assert levels[0].n == len(majority)
    assert levels[0].accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert levels[0].kappa == pytest.approx(cohen_kappa_score(y_true, y_pred), rel=1e-12)
    assert {row.label for row in levels[0].per_label} <= {label.id for label in FEEDBACK.labels}


def test_slices_match_sklearn_and_statsmodels_on_each_subset() -> None:
    results, humans = synthetic(4)
    got = prelabel.compare(results, humans).metrics.slices["market"]
    majority = naive_majority(humans)
    model = results.set_index(results["item_id"].astype(str))["label"]
    for row in got:
        sub = humans[humans["market"] == row.value]
        keep = majority[sub["item_id"].unique()].dropna().index
        assert row.accuracy == pytest.approx(accuracy_score(majority[keep], model[keep]))
        assert row.kappa_vs_majority == pytest.approx(cohen_kappa_score(majority[keep], model[keep]))
        table, _ = aggregate_raters(
            sub.pivot(index="item_id", columns="annotator", values="label").to_numpy()
        )
        assert row.fleiss_kappa == pytest.approx(sm_fleiss(table), rel=1e-12)
        assert row.n_items == sub["item_id"].nunique()
        labels = sorted(set(majority[keep]) | set(model[keep]))
        _, _, f1, _ = precision_recall_fscore_support(
            majority[keep], model[keep], labels=labels, zero_division=0
        )
        assert {r.label: r.f1 for r in row.per_label} == pytest.approx(dict(zip(labels, f1, strict=True)))
        assert {r.annotator for r in row.per_annotator} == {"a0", "a1", "a2"}


def test_slices_carry_tree_levels_matching_sklearn_on_each_subset() -> None:
    results, humans = synthetic(4)
    got = prelabel.compare(results, humans).metrics.slices["market"]
    parent = humans.assign(label=humans["label"].str.split(".").str[0])
    majority = naive_majority(parent).dropna()
    model = results.set_index(results["item_id"].astype(str))["label"].str.split(".").str[0]
    for row in got:
        top, leaf = row.levels
        assert leaf.leaf and leaf.accuracy == row.accuracy
        items = humans.loc[humans["market"] == row.value, "item_id"].unique()
        keep = majority.index.intersection(items)
        assert top.level == 1 and top.n == len(keep)
        assert top.accuracy == pytest.approx(accuracy_score(majority[keep], model[keep]))
        assert top.kappa == pytest.approx(cohen_kappa_score(majority[keep], model[keep]), rel=1e-12)


def test_fixture_files_skip_and_count_everything() -> None:
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=FEEDBACK)
    skipped = cmp.metrics.skipped
    assert skipped.items_model_error == 1  # item 8
    assert skipped.items_model_abstained == 1  # item 9
    assert skipped.items_without_human_label == 1  # item 11
    assert cmp.metrics.skipped_examples["items_without_human_label"] == ["11"]
    assert cmp.metrics.summary.n_compared == 8
    assert cmp.metrics.counts.human_items == 10
    assert set(cmp.disagreements["item_id"]) == {"2", "3", "5", "6", "10"}
    row = cmp.disagreements.set_index("item_id").loc["3"]
    assert row["model_label"] == "counterfeit.suspected_fake"
    assert row["human_majority"] == "product.not_as_described"
    assert row["majority_share"] == pytest.approx(2 / 3)
    assert row["cited_rules"] == "R4"
    assert row["market"] == "TH"


def test_run_directory_and_wide_form_give_the_same_comparison(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "labels.jsonl").write_text((DATA / "labels.jsonl").read_text())
    long = prelabel.compare(run_dir, DATA / "humans.csv")
    wide = prelabel.compare(DATA / "labels.jsonl", DATA / "humans_wide.csv", wide=True, slices=["market"])
    assert long.metrics.summary == wide.metrics.summary
    pd.testing.assert_frame_equal(long.disagreements, wide.disagreements)


def test_item_ids_match_across_int_float_and_text() -> None:
    humans = pd.DataFrame(
        {"item_id": ["7", "7", "8", "8"], "annotator": ["x", "y"] * 2, "label": list("aabb")}
    )
    for ids in ([7, 8], [7.0, 8.0], np.array([7, 8], dtype=np.int32), ["7", "8"]):
        results = pd.DataFrame({"item_id": ids, "label": ["a", "a"], "confidence": 0.9})
        cmp = prelabel.compare(results, humans)
        assert cmp.metrics.summary.n_compared == 2, ids
        assert cmp.metrics.skipped.items_without_human_label == 0
    gappy = pd.DataFrame({"item_id": [7, None], "label": ["a", "b"]})  # float ids with a gap
    cmp = prelabel.compare(gappy, humans)
    assert cmp.metrics.skipped.model_rows_without_item_id == 1
    assert cmp.metrics.skipped.items_without_model_label == 1


def test_labels_outside_the_sop_are_counted_on_both_sides() -> None:
    labels = ["product.damaged"] * 2 + ["spam"] * 2 + ["seller.conduct"] * 2
    humans = pd.DataFrame({"item_id": list("112233"), "annotator": ["x", "y"] * 3, "label": labels})
    results = pd.DataFrame(
        {"item_id": list("123"), "label": ["product.broken", "product.damaged", "seller.conduct"]}
    )
    cmp = prelabel.compare(results, humans, sop=FEEDBACK)
    assert cmp.metrics.summary.n_compared == 1
    skipped = cmp.metrics.skipped
    assert skipped.annotations_not_in_sop == 2
    assert skipped.items_model_label_not_in_sop == 1
    assert skipped.items_without_valid_human_label == 1
    assert cmp.metrics.skipped_examples["items_model_label_not_in_sop"] == ["product.broken"]
    assert cmp.metrics.skipped_examples["annotations_not_in_sop"] == ["spam"]


def test_no_overlap_is_a_clear_input_error() -> None:
    humans = pd.DataFrame({"item_id": ["a"], "annotator": ["x"], "label": ["l"]})
    results = pd.DataFrame({"item_id": ["b"], "label": ["l"]})
    with pytest.raises(prelabel.InputError, match="do the item ids match"):
        prelabel.compare(results, humans)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("labels.jsonl", "", "empty"),
        ("labels.jsonl", '{"item_id": "1"}\nnot json\n{"item_id": "2"}\n', ":2: not a JSON object"),
        ("labels.jsonl", "[1, 2]\n", ":1: expected a JSON object"),
        ("labels.csv", "label\na\n", "no 'item_id' column"),
    ],
)
def test_bad_result_files_raise_input_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(prelabel.InputError, match=message):
        prelabel.read_results(path)


def test_missing_files_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="no such model results"):
        prelabel.read_results(tmp_path)
    with pytest.raises(prelabel.InputError, match="no such human labels"):
        prelabel.read_human_labels(tmp_path / "nope.csv")
    with pytest.raises(prelabel.InputError, match="slice column"):
        prelabel.read_human_labels(DATA / "humans.csv", slices=["vendor"])


def test_single_annotator_and_one_class_do_not_crash() -> None:
    humans = pd.DataFrame({"item_id": ["1", "2", "3"], "annotator": "solo", "label": "a"})
    results = pd.DataFrame({"item_id": ["1", "2", "3"], "label": ["a", "a", "b"], "confidence": 0.9})
    cmp = prelabel.compare(results, humans)
    assert cmp.metrics.humans.fleiss_kappa is None
    assert cmp.metrics.model_vs_majority.kappa is not None  # a vs {a, b}: two classes
    assert any("one annotator" in n for n in cmp.metrics.notes)
    assert list(cmp.disagreements["kind"]) == ["label_error"]
    same = prelabel.compare(results.assign(label="a"), humans)
    assert same.metrics.model_vs_majority.kappa is None
    assert same.metrics.model_vs_majority.accuracy == 1.0
    assert same.disagreements.empty and same.candidates.empty


def test_duplicates_are_counted_an_annotators_last_label_and_the_first_model_row_win() -> None:
    """An annotator's later label corrects the earlier one; a run labels the first row of an id and records
    the later ones as duplicate-id errors, so compare uses the first model row (as export and route do)."""
    humans = pd.DataFrame(
        {"item_id": ["1", "1", "1"], "annotator": ["x", "x", "y"], "label": ["b", "a", "a"]}
    )
    results = pd.DataFrame(
        {"item_id": ["1", "1"], "status": ["ok", "error"], "label": ["a", None], "confidence": [0.9, None]}
    )
    cmp = prelabel.compare(results, humans)
    assert cmp.metrics.skipped.annotations_duplicate == 1
    assert cmp.metrics.skipped.model_rows_duplicate == 1 and cmp.metrics.skipped.items_model_error == 0
    assert cmp.metrics.model_vs_majority.accuracy == 1.0
    assert any("the first row of each is used" in note for note in cmp.metrics.notes)


def test_self_consistency_samples_set_the_model_certainty() -> None:
    humans = pd.DataFrame(
        {"item_id": ["1", "1", "2", "2"], "annotator": ["x", "y"] * 2, "label": list("abab")}
    )
    results = pd.DataFrame(
        {
            "item_id": ["1", "2"],
            "label": ["a", "a"],
            "confidence": [0.95, 0.95],
            "samples": [["a", "a", "a", "a"], "a;b;b;b"],
        }
    )
    dis = prelabel.compare(results, humans).disagreements.set_index("item_id")
    assert dis.loc["1", "model_certainty"] == 1.0 and dis.loc["1", "kind"] == "sop_ambiguity"
    assert dis.loc["2", "model_certainty"] == 0.25 and dis.loc["2", "kind"] == "inherent_ambiguity"
    assert dis.loc["2", "model_spread"] == pytest.approx(0.75)
    assert dis.loc["1", "ambiguity_score"] > dis.loc["2", "ambiguity_score"]


def test_multi_label_metrics_match_sklearn() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    rng = np.random.default_rng(5)
    leaves = list(sop.leaf_ids[:5])

    def pick() -> list[str]:
        return sorted(rng.choice(leaves, size=rng.integers(1, 3), replace=False).tolist())

    n = 120
    truth = [pick() for _ in range(n)]
    humans = pd.DataFrame(
        [
            (str(i), a, ";".join(t if rng.random() < 0.8 else pick()))
            for i, t in enumerate(truth)
            for a in "xyz"
        ],
        columns=["item_id", "annotator", "label"],
    )
    model = [t if rng.random() < 0.7 else pick() for t in truth]
    results = pd.DataFrame({"item_id": [str(i) for i in range(n)], "labels": model, "confidence": 0.8})
    got = prelabel.compare(results, humans, sop=sop).metrics
    assert got.task == "multi_label"
    majority = naive_majority(
        humans.assign(label=humans["label"].map(lambda s: ";".join(sorted(s.split(";")))))
    )
    keep = majority.dropna().index
    binarizer = MultiLabelBinarizer(classes=leaves)
    y_true = binarizer.fit_transform([m.split(";") for m in majority[keep]])
    y_pred = binarizer.transform([model[int(i)] for i in keep])
    vs = got.model_vs_majority
    assert vs.exact_match == pytest.approx(accuracy_score(y_true, y_pred))
    assert vs.jaccard == pytest.approx(jaccard_score(y_true, y_pred, average="samples"))
    _, _, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    by_label = {row.label: row for row in vs.per_label}
    for i, label in enumerate(leaves):
        if s[i] or y_pred[:, i].sum():
            assert by_label[label].f1 == pytest.approx(f[i])
            assert by_label[label].support == s[i]
    assert vs.confusion is None
    assert {row.label for row in got.humans.per_label} == set(leaves)


def test_save_writes_the_contract_files(tmp_path: Path) -> None:
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=FEEDBACK)
    paths = cmp.save(tmp_path)
    assert {p.name for p in paths.values()} == {
        "metrics.json",
        "disagreements.csv",
        "ambiguity_candidates.csv",
        "report.html",
    }
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["sop"]["id"] == "customer_feedback_intent"
    dis = pd.read_csv(tmp_path / "disagreements.csv", dtype={"item_id": str})
    required = [
        "item_id",
        "model_label",
        "model_confidence",
        "human_labels",
        "human_majority",
        "majority_share",
    ]
    required += ["cited_rules", "ambiguity_score", "kind"]
    assert set(required) <= set(dis.columns)
    assert set(dis["kind"]) <= {"sop_ambiguity", "inherent_ambiguity", "label_error"}
    cands = pd.read_csv(tmp_path / "ambiguity_candidates.csv")
    assert list(cands["rank"]) == list(range(1, len(cands) + 1))
    assert {"cluster", "n_items", "mean_score", "kind", "example_item_ids", "sop_text"} <= set(cands.columns)


def test_agreement_without_a_usable_human_label_is_an_input_error() -> None:
    humans = pd.DataFrame({"item_id": ["1", "1"], "annotator": ["x", "y"], "label": ["", ""]})
    with pytest.raises(prelabel.InputError, match="no usable human label"):
        prelabel.agreement(humans)


def test_non_text_cited_rules_are_read_as_text() -> None:
    results, humans = synthetic(5, n=60)
    results["cited_rules"] = [[1, 2]] * len(results)
    dis = prelabel.compare(results, humans).disagreements
    assert set(dis["cited_rules"].astype(str)) == {"1;2"}


def test_missing_example_texts_are_left_out_of_candidates() -> None:
    results, humans = synthetic(6, n=60)
    texts = np.where(humans["item_id"].astype(int) % 2 == 0, "hello", None)
    cands = prelabel.compare(results, humans.assign(text=texts)).candidates
    examples = " || ".join(cands["examples"].dropna().astype(str))
    assert "hello" in examples and "nan" not in examples and "None" not in examples


def test_reports_are_written_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys, prelabel\n"
        "h = prelabel.read_human_labels(sys.argv[1])\n"
        "thai = h.assign(label='\\u0e23\\u0e32')\n"
        "prelabel.compare(sys.argv[2], thai, multi_label=False).save(sys.argv[3])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    args = [sys.executable, "-c", script, str(DATA / "humans.csv"), str(DATA / "labels.jsonl"), str(tmp_path)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 0, done.stderr
    assert "รา" in (tmp_path / "metrics.json").read_text(encoding="utf-8")


def test_multi_label_compare_when_every_label_rolls_up_to_one_parent() -> None:
    # only prohibited.* leaves: at the top level every answer is {prohibited}, a single column for sklearn
    sop = prelabel.bundled_sop("seller_content_risk")
    humans = pd.DataFrame(
        [
            (str(i), a, lab)
            for i, lab in enumerate(["prohibited.weapons", "prohibited.drugs"] * 3)
            for a in "xy"
        ],
        columns=["item_id", "annotator", "label"],
    )
    model = ["prohibited.weapons", "prohibited.weapons", "prohibited.drugs"] * 2
    results = pd.DataFrame({"item_id": [str(i) for i in range(6)], "labels": [[m] for m in model]})
    metrics = prelabel.compare(results, humans, sop=sop).metrics
    (top,) = [level for level in metrics.levels if level.level == 1]
    assert top.exact_match == 1.0 and top.jaccard == 1.0
    assert [row.label for row in top.per_label] == ["prohibited"] and top.per_label[0].f1 == 1.0
    assert metrics.model_vs_majority.exact_match == pytest.approx(3 / 6)  # i0, i4, i5 match
