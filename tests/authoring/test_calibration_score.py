"""Calibration scoring against a hand-computed fixture (tests/authoring/data/key.csv, answers.csv).

Key: q1 a, q2 a, q3 b, q4 b, q5 c, q6 c.
Annotator x answers a a b a c c: 5/6 correct; marginals key (2, 2, 2), x (3, 1, 2):
p_e = (2·3 + 2·1 + 2·2) / 36 = 1/3, κ = (5/6 − 1/3) / (1 − 1/3) = 0.75.
Annotator y answers a b b c c a: 3/6 correct; marginals (2, 2, 2): p_e = 1/3, κ = (1/2 − 1/3) / (2/3) = 0.25.
Per key label: a 3/4, b 2/4, c 3/4. Most missed: q4 (2/2 wrong), then q2 and q6 (1/2).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

import prelabel

DATA = Path(__file__).parent / "data"


def test_matches_hand_computed_figures() -> None:
    score = prelabel.score_calibration(DATA / "key.csv", DATA / "answers.csv")
    rows = score.annotators.set_index("annotator")
    assert rows.loc["x", "accuracy"] == pytest.approx(5 / 6) and rows.loc["x", "kappa"] == pytest.approx(0.75)
    assert rows.loc["y", "accuracy"] == pytest.approx(0.5) and rows.loc["y", "kappa"] == pytest.approx(0.25)
    key = list("aabbcc")
    assert cohen_kappa_score(key, list("aabacc")) == pytest.approx(0.75)  # the same figure from sklearn
    labels = score.labels.set_index("label")["accuracy"].to_dict()
    assert labels == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.75})
    assert list(score.missed["item_id"]) == ["q4", "q2", "q6"]
    assert score.missed.iloc[0][["n_wrong", "wrong_answers", "source_id"]].tolist() == [
        2,
        "a ×1 | c ×1",
        "T1",
    ]
    assert score.summary["accuracy"] == pytest.approx(8 / 12) and score.problems.empty


def test_unknown_items_labels_blank_and_repeats_are_reported_and_counted() -> None:
    answers = pd.read_csv(DATA / "answers.csv")
    extra = pd.DataFrame(
        {
            "item_id": ["q99", "q1", "q2", "q3", "q3"],
            "annotator": ["x", "z", "z", "z", "z"],
            "label": ["a", "typo", None, "a", "b"],
        }
    )
    score = prelabel.score_calibration(DATA / "key.csv", pd.concat([answers, extra], ignore_index=True))
    kinds = score.summary["problems"]
    assert kinds == {"unknown item": 1, "unknown label": 1, "blank answer": 1, "repeated answer": 1}
    z = score.annotators.set_index("annotator").loc["z"]
    assert (z["answered"], z["correct"], z["unknown_labels"], z["unanswered"]) == (
        2,
        1,
        1,
        4,
    )  # typo is wrong
    assert score.annotators.set_index("annotator").loc["x", "unknown_items"] == 1
    assert score.summary["n_answers"] == 17 and score.summary["n_scored"] == 14


def test_sop_checks_labels_and_multi_label_sets_ignore_order() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    calib = prelabel.calibration_set(sop, n=5)
    multi = calib.key[calib.key["label"].str.contains(";")].iloc[0]
    reversed_answer = ";".join(reversed(multi["label"].split(";")))
    answers = pd.DataFrame({"item_id": [multi["item_id"]] * 2, "annotator": ["p", "q"],
                            "label": [reversed_answer, "safe;not_a_label"]})  # fmt: skip
    score = prelabel.score_calibration(calib.key, answers, sop=sop)
    assert score.annotators.set_index("annotator")["correct"].to_dict() == {"p": 1, "q": 0}
    assert "not in the SOP seller_content_risk" in score.problems["problem"].iloc[0]
    with pytest.raises(prelabel.InputError, match="is for SOP 'seller_content_risk'"):
        prelabel.score_calibration(calib.key, answers, sop=prelabel.bundled_sop("review_authenticity"))


def test_save_and_bad_input(tmp_path: Path) -> None:
    score = prelabel.score_calibration(DATA / "key.csv", DATA / "answers.csv")
    paths = score.save(tmp_path / "scores")
    assert json.loads(paths["summary"].read_text(encoding="utf-8"))["n_items"] == 6
    with pytest.raises(prelabel.InputError, match="already exists"):
        score.save(tmp_path / "scores")
    with pytest.raises(prelabel.InputError, match="no such answer key"):
        prelabel.score_calibration(tmp_path / "nope.csv", DATA / "answers.csv")
    (tmp_path / "wrong.csv").write_text("item,answer\nq1,a\n", encoding="utf-8")
    with pytest.raises(prelabel.InputError, match=r"missing column\(s\) item_id, label"):
        prelabel.score_calibration(tmp_path / "wrong.csv", DATA / "answers.csv")
    with pytest.raises(prelabel.InputError, match="appears twice"):
        prelabel.score_calibration(DATA / "answers.csv", DATA / "answers.csv")
    only_unknown = pd.DataFrame({"item_id": ["zz"], "annotator": ["x"], "label": ["a"]})
    with pytest.raises(prelabel.InputError, match="no answer can be scored"):
        prelabel.score_calibration(DATA / "key.csv", only_unknown)


def test_ids_are_normalised_like_compare() -> None:
    """The key's ``7`` and an answer's ``7.0`` or `` 7 `` are one item, as in compare and agreement."""
    key = pd.DataFrame({"item_id": [7, 8], "label": ["a", "b"]})
    answers = pd.DataFrame({"item_id": ["7.0", " 8 "], "annotator": ["x", "x"], "label": ["a", "b"]})
    score = prelabel.score_calibration(key, answers)
    assert score.problems.empty and score.summary["accuracy"] == pytest.approx(1.0)


def test_a_ragged_or_utf16_key_or_answers_file_is_one_clear_error(tmp_path: Path) -> None:
    # a ragged row was read with its first fields as the index: "item product.damaged has no label"
    ragged = tmp_path / "key.csv"
    ragged.write_text("item_id,label,source,source_id\nq1,a,edge_case,E1,extra\nq2,a,edge_case,E2\n")
    with pytest.raises(prelabel.InputError) as info:
        prelabel.score_calibration(ragged, DATA / "answers.csv")
    assert str(info.value) == f"{ragged}:2: expected 4 fields, got 5"
    wide = tmp_path / "key16.csv"
    wide.write_bytes((DATA / "key.csv").read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(prelabel.InputError, match="is UTF-16 text; save it as UTF-8"):
        prelabel.score_calibration(wide, DATA / "answers.csv")


def test_answers_are_canonical_as_in_compare() -> None:
    """An answer spelled with a zero-width space or in NFD is the key's label, as compare reads it: the
    ``correct`` count and the accuracy (compare's figure) agree."""
    key = pd.DataFrame({"item_id": ["q1", "q2"], "label": ["café", "b"]})
    answers = pd.DataFrame({"item_id": ["q1", "q2"], "annotator": "x", "label": ["cafe\u0301", "\u200bb"]})
    row = prelabel.score_calibration(key, answers).annotators.iloc[0]
    assert (row["correct"], row["accuracy"]) == (2, 1.0)


def test_kappa_per_annotator_from_counts_is_sklearns_on_random_panels() -> None:
    """κ is computed from each annotator's counts in one pass (issue #21: 100k ``cohen_kappa_score`` calls
    took 131 s on 50,000 annotators); it is scikit-learn's figure, and the comparator's, to 1e-9."""
    from prelabel.authoring.calibration_score import annotator_figures

    rng = np.random.default_rng(7)
    for n_annotators, n_labels in ((1, 2), (40, 3), (300, 12)):
        rows = int(n_annotators * 15)
        annotator = np.sort(rng.integers(0, n_annotators, rows))
        truth = rng.integers(0, n_labels, rows)
        given = np.where(rng.random(rows) < 0.6, truth, rng.integers(0, n_labels, rows))
        n, correct, accuracy, kappa = annotator_figures(annotator, given, truth, n_annotators)
        for a in range(n_annotators):
            mine = annotator == a
            assert (n[a], correct[a]) == (mine.sum(), (given[mine] == truth[mine]).sum())
            assert accuracy[a] == pytest.approx((given[mine] == truth[mine]).mean(), abs=1e-12)
            if len(np.union1d(given[mine], truth[mine])) < 2:
                assert kappa[a] is None
            else:
                assert kappa[a] == pytest.approx(cohen_kappa_score(truth[mine], given[mine]), abs=1e-9)


def test_figures_are_the_comparators_model_vs_annotators() -> None:
    """The vectorised figures are what ``compare`` (the key as the model) gives, blanks, typos, repeats,
    label sets and one-label annotators included."""
    rng = np.random.default_rng(3)
    labels = np.asarray(["a", "b", "c", "a;b", "typo"], dtype=object)
    key = pd.DataFrame({"item_id": [f"q{i}" for i in range(12)], "label": labels[rng.integers(0, 4, 12)]})
    answers = pd.DataFrame(
        {
            "item_id": rng.choice(key["item_id"], 900),
            "annotator": [f"ann{i:02d}" for i in rng.integers(0, 60, 900)],
            "label": labels[rng.integers(0, 5, 900)],
        }
    )
    answers.loc[answers.index[:5], "label"] = None
    right = key["label"].iloc[0]  # one answer, the key's own label: κ undefined (one label between them)
    lone = pd.DataFrame({"item_id": ["q0", "q0"], "annotator": ["zz-one-label"] * 2, "label": right})
    answers = pd.concat([answers, lone], ignore_index=True)
    score = prelabel.score_calibration(key, answers)
    scored = answers.dropna().assign(label=lambda f: f["label"].astype(str))
    scored = scored.drop_duplicates(["annotator", "item_id"], keep="last")
    results = pd.DataFrame({"item_id": key["item_id"], "label": key["label"], "confidence": 1.0})
    figures = {
        r.annotator: r
        for r in prelabel.compare(results, scored, multi_label=False).metrics.model_vs_annotators
    }
    table = score.annotators.set_index("annotator")
    assert list(table.index) == sorted(figures)
    for name, row in table.iterrows():
        assert row["answered"] == figures[name].n
        assert row["accuracy"] == figures[name].agreement
        if figures[name].kappa is None:
            assert pd.isna(row["kappa"])
        else:
            assert row["kappa"] == pytest.approx(figures[name].kappa, abs=1e-9)
    assert pd.isna(table.loc["zz-one-label", "kappa"]) and table.loc["zz-one-label", "answered"] == 1


def test_a_large_panel_is_summarised_on_screen_and_listed_in_full_in_the_files(tmp_path: Path) -> None:
    """Issue #21: 50,000 annotators printed 50,012 lines; the screen shows the best and weakest and the
    spread, annotators.csv every annotator."""
    from prelabel.authoring.calibration_score import SHOWN_ALL, SHOWN_EACH

    key = pd.read_csv(DATA / "key.csv")
    rng = np.random.default_rng(1)
    n = 500
    answers = pd.DataFrame(
        {
            "item_id": np.tile(key["item_id"], n),
            "annotator": np.repeat([f"a{i:03d}" for i in range(n)], len(key)),
            "label": np.where(
                rng.random(n * len(key)) < 0.7, np.tile(key["label"], n), rng.choice(["a", "b", "c"], n * 6)
            ),
        }
    )
    score = prelabel.score_calibration(key, answers)
    text = score.to_markdown()
    assert len(text.splitlines()) < 40 and f"{n} annotators" in text.splitlines()[0]
    best = score.annotators.sort_values(["accuracy", "kappa", "annotator"], ascending=[False, False, True])
    assert f"| {best['annotator'].iloc[0]} |" in text and f"Best {SHOWN_EACH} by accuracy:" in text
    assert f"Weakest {SHOWN_EACH} by accuracy:" in text and "every annotator: annotators.csv" in text
    assert len(pd.read_csv(score.save(tmp_path / "s")["annotators"])) == n
    small = prelabel.score_calibration(DATA / "key.csv", DATA / "answers.csv").to_markdown()
    assert "| x | 6/6 | 5 | 0.833 | 0.750 |" in small and "Best" not in small and SHOWN_ALL >= 2


def test_the_benchmark_script_runs_on_a_small_panel(capsys: pytest.CaptureFixture[str]) -> None:
    """``benchmarks/calibration_score.py`` still runs (so it cannot rot); its figures come from full runs."""
    import importlib.util

    script = Path(__file__).parents[2] / "benchmarks" / "calibration_score.py"
    spec = importlib.util.spec_from_file_location("benchmark_calibration_score", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.main(["--annotators", "40", "--items", "5"])
    out = capsys.readouterr().out
    assert "40 annotators × 5 items" in out and figures["this"]["seconds"] > 0
    assert figures["this"]["peak_rss_mb"] > 0 and figures["this"]["lines"] > 0
