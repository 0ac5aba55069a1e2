"""Agreement among humans: known-answer tables (irrCAC), statsmodels, krippendorff and scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path

import irrCAC.datasets as irr_data
import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irrCAC.raw import CAC
from irrCAC.table import CAC as TableCAC
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

import prelabel
from helpers import run_cli
from prelabel.comparison import interrater as irr

DATA = Path(__file__).parents[1] / "data" / "compare"


def long_form(table: pd.DataFrame) -> pd.DataFrame:
    """irrCAC's subjects × raters table as prelabel's long form (missing ratings dropped)."""
    stacked = table.stack().reset_index()
    stacked.columns = ["item_id", "annotator", "label"]
    stacked["item_id"] = stacked["item_id"].astype(str)
    stacked["label"] = stacked["label"].map(lambda v: str(int(v)) if isinstance(v, float) else str(v))
    return stacked


def distribution_to_raw(table: pd.DataFrame) -> pd.DataFrame:
    """A subjects × categories count table as a subjects × raters table of category names."""
    rows = [[c for c, n in row.items() for _ in range(int(n))] for _, row in table.iterrows()]
    return pd.DataFrame(rows, index=table.index, columns=[f"r{i}" for i in range(len(rows[0]))])


KNOWN_TABLES = {
    "raw_4raters": irr_data.raw_4raters,
    "raw_5observers": irr_data.raw_5observers,
    "raw_gender": irr_data.raw_gender,
    "raw_ben_gerry": irr_data.raw_ben_gerry,
    "distrib_6raters": lambda: distribution_to_raw(irr_data.distrib_6raters()),
}


@pytest.mark.parametrize("name", sorted(KNOWN_TABLES))
def test_known_answer_tables_match_irrcac(name: str) -> None:
    table = KNOWN_TABLES[name]()
    if isinstance(table.index, pd.MultiIndex):
        table.index = range(len(table))
    expected = CAC(table)
    got = prelabel.agreement(long_form(table))
    assert got.fleiss_kappa == pytest.approx(expected.fleiss()["est"]["coefficient_value"], abs=5e-6)
    assert got.krippendorff_alpha == pytest.approx(
        expected.krippendorff()["est"]["coefficient_value"], abs=5e-6
    )
    assert got.n_items == int(table.notna().any(axis=1).sum())


def test_textbook_values_of_the_four_rater_table() -> None:
    # Gwet, Handbook of Inter-Rater Reliability (4th ed.), the 12 × 4 table shipped as irrCAC's raw_4raters.
    got = prelabel.agreement(long_form(irr_data.raw_4raters()))
    assert round(got.fleiss_kappa, 5) == 0.76117
    assert round(got.krippendorff_alpha, 5) == 0.74342


@pytest.mark.parametrize("name", ["table_cont3x3abstractors", "table_cont4x4diagnosis"])
def test_cohen_kappa_matches_irrcac_contingency_tables(name: str) -> None:
    table = getattr(irr_data, name)()
    expected = TableCAC(table).cohen()["est"]["coefficient_value"]
    assert irr.kappa_from_table(table.to_numpy()) == pytest.approx(expected, abs=5e-6)


def random_ratings(seed: int, items: int = 300, raters: int = 4, labels: int = 5, missing: float = 0.0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, items)
    data = np.where(
        rng.random((items, raters)) < 0.7, truth[:, None], rng.integers(0, labels, (items, raters))
    )
    data = data.astype(float)
    data[rng.random((items, raters)) < missing] = np.nan
    return data


def as_long(data: np.ndarray) -> pd.DataFrame:
    items, raters = np.nonzero(~np.isnan(data))
    return pd.DataFrame(
        {"item_id": items.astype(str), "annotator": [f"r{r}" for r in raters], "label": data[items, raters]}
    ).assign(label=lambda f: "c" + f["label"].astype(int).astype(str))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_balanced_data_matches_statsmodels_and_krippendorff(seed: int) -> None:
    data = random_ratings(seed)
    table, _ = aggregate_raters(data.astype(int))
    got = prelabel.agreement(as_long(data))
    assert got.fleiss_kappa == pytest.approx(sm_fleiss(table), rel=1e-12)
    reference = krippendorff.alpha(reliability_data=data.T, level_of_measurement="nominal")
    assert got.krippendorff_alpha == pytest.approx(reference, rel=1e-12)
    shares = table.max(axis=1) / table.sum(axis=1)
    assert got.percent_agreement == pytest.approx(shares.mean(), rel=1e-12)


@pytest.mark.parametrize("seed", [3, 4])
def test_missing_ratings_match_irrcac_and_krippendorff(seed: int) -> None:
    data = random_ratings(seed, missing=0.3)
    got = prelabel.agreement(as_long(data))
    rated = pd.DataFrame(data).dropna(how="all")  # irrCAC warns when it has to drop unrated items itself
    expected = CAC(rated).fleiss()["est"]["coefficient_value"]
    assert got.fleiss_kappa == pytest.approx(expected, abs=5e-6)
    reference = krippendorff.alpha(reliability_data=data.T, level_of_measurement="nominal")
    assert got.krippendorff_alpha == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_large_input_alpha_path_and_pattern_weights_agree_with_krippendorff(
    monkeypatch: pytest.MonkeyPatch, missing: float
) -> None:
    data = random_ratings(5, items=500, missing=missing)
    ratings = irr.Ratings.from_frame(as_long(data))
    reference = krippendorff.alpha(reliability_data=data.T, level_of_measurement="nominal")
    direct = irr.krippendorff_alpha(ratings.counts)
    codes, rows = irr.row_patterns(ratings.counts)
    weights = np.bincount(codes)
    monkeypatch.setattr(irr, "ALPHA_DIRECT_LIMIT", 0)
    assert irr.krippendorff_alpha(ratings.counts) == pytest.approx(reference, rel=1e-12)
    assert irr.krippendorff_alpha(rows, weights) == pytest.approx(reference, rel=1e-12)
    assert direct == pytest.approx(reference, rel=1e-12)
    assert irr.fleiss_kappa(rows, weights) == pytest.approx(irr.fleiss_kappa(ratings.counts), rel=1e-12)
    assert irr.percent_agreement(rows, weights) == pytest.approx(irr.percent_agreement(ratings.counts))
    assert len(rows) < len(ratings.counts)


def test_row_patterns_are_exact() -> None:
    counts = np.array([[1, 0, 2], [0, 1, 2], [1, 0, 2], [3, 0, 0], [0, 0, 3], [300, 0, 1], [300, 0, 1]])
    codes, rows = irr.row_patterns(counts)
    assert (rows[codes] == counts).all()
    assert len(rows) == 5


def test_percent_agreement_by_hand() -> None:
    # [a a b] → 2/3, [a a] → 1, [b] has one label and is not counted
    counts = np.array([[2, 1], [2, 0], [0, 1]])
    assert irr.percent_agreement(counts) == pytest.approx((2 / 3 + 1) / 2)


def test_kappa_from_table_equals_sklearn_on_the_pairs() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4, 1000)
    b = np.where(rng.random(1000) < 0.6, a, rng.integers(0, 4, 1000))
    assert irr.kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), rel=1e-12)
    assert irr.kappa(np.zeros(5, int), np.zeros(5, int)) is None


def test_per_annotator_agrees_with_a_naive_leave_one_out() -> None:
    data = random_ratings(8, items=200, raters=3, labels=3, missing=0.1)
    frame = as_long(data)
    rows = [row.model_dump() for row in prelabel.agreement(frame).per_annotator]
    got = pd.DataFrame(rows).set_index("annotator")
    for name, rows in frame.groupby("annotator"):
        mine, theirs = [], []
        for row in rows.itertuples():
            others = frame[(frame["item_id"] == row.item_id) & (frame["annotator"] != name)]["label"]
            counts = others.value_counts()
            if len(counts) and (len(counts) == 1 or counts.iloc[0] > counts.iloc[1]):
                mine.append(row.label)
                theirs.append(counts.index[0])
        assert got.loc[name, "n_labels"] == len(rows)
        assert got.loc[name, "n_compared"] == len(mine)
        assert got.loc[name, "agreement"] == pytest.approx(np.mean(np.array(mine) == np.array(theirs)))
        assert got.loc[name, "kappa"] == pytest.approx(cohen_kappa_score(mine, theirs), rel=1e-12)


def test_single_annotator_is_reported_not_a_crash() -> None:
    frame = pd.DataFrame({"item_id": ["1", "2", "3"], "annotator": "solo", "label": ["a", "b", "a"]})
    got = prelabel.agreement(frame)
    assert got.n_annotators == 1
    assert got.fleiss_kappa is None and got.krippendorff_alpha is None
    assert got.percent_agreement is None
    assert any("one annotator" in note for note in got.notes)
    assert got.per_annotator[0].n_compared == 0


def test_all_one_class_is_undefined_kappa_with_full_agreement() -> None:
    frame = pd.DataFrame({"item_id": ["1", "1", "2", "2"], "annotator": ["x", "y"] * 2, "label": "a"})
    got = prelabel.agreement(frame)
    assert got.percent_agreement == 1.0
    assert got.fleiss_kappa is None and got.krippendorff_alpha is None
    assert got.notes


def test_wide_and_long_forms_give_the_same_figures() -> None:
    long = prelabel.agreement(DATA / "humans.csv")
    wide = prelabel.agreement(DATA / "humans_wide.csv", wide=True, slices=["market"])
    for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha", "n_items", "n_annotators"):
        assert getattr(long, key) == pytest.approx(getattr(wide, key))
    assert long.slices == wide.slices
    assert [s.value for s in long.slices["market"]] == ["ID", "TH", "VN"]


def test_slices_match_statsmodels_on_each_subset() -> None:
    frame = pd.read_csv(DATA / "humans.csv", dtype=str)
    got = {row.value: row for row in prelabel.agreement(frame).slices["market"]}
    for market, rows in frame.groupby("market"):
        sub = prelabel.agreement(rows.drop(columns="market"))
        assert got[market].fleiss_kappa == pytest.approx(sub.fleiss_kappa)
        assert got[market].n_items == rows["item_id"].nunique()
        assert got[market].per_annotator == sub.per_annotator  # vendor QA within the slice


def test_labels_outside_the_sop_are_counted_and_named() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    frame = pd.DataFrame(
        {
            "item_id": ["1", "1", "2", "2", "3"],
            "annotator": ["x", "y", "x", "y", "x"],
            "label": ["product.damaged", "product.damagd", "logistics", "logistics.late_delivery", ""],
        }
    )
    got = prelabel.agreement(frame, sop=sop)
    assert got.skipped.annotations_not_in_sop == 2
    assert got.skipped.annotations_empty == 1
    assert set(got.skipped_examples["annotations_not_in_sop"]) == {"product.damagd", "logistics"}
    assert got.n_annotations == 2


def test_multi_label_agreement_uses_label_sets_and_reports_each_label() -> None:
    frame = pd.DataFrame(
        {
            "item_id": ["1", "1", "2", "2", "3", "3"],
            "annotator": ["x", "y"] * 3,
            "label": ["b;a", "a; b", "a", "a;b", "b", "b"],
        }
    )
    got = prelabel.agreement(frame, multi_label=True)
    assert got.task == "multi_label"
    assert got.percent_agreement == pytest.approx((1 + 0.5 + 1) / 3)
    per_label = {row.label: row for row in got.per_label or []}
    assert set(per_label) == {"a", "b"}
    assert per_label["a"].percent_agreement == 1.0


def test_cli_agreement_writes_metrics_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "agreement", str(DATA / "humans.csv"), "-o", str(tmp_path))
    assert code == 0, err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha", "n_items", "n_annotators"):
        assert key in metrics
    assert metrics["n_items"] == 10 and metrics["n_annotators"] == 3
    assert {row["annotator"] for row in metrics["per_annotator"]} == {"ann_a", "ann_b", "ann_c"}
    assert "fleiss_kappa" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("item_id,label\n1,a\n", "missing column(s) annotator (wide form? pass --wide)"),
    ],
)
def test_cli_agreement_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "humans.csv"
    path.write_text(content)
    code, _, err = run_cli(capsys, "agreement", str(path), "-o", str(tmp_path / "out"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_cli_agreement_single_annotator_exits_0_with_a_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "humans.csv"
    path.write_text("item_id,annotator,label\n1,solo,a\n2,solo,b\n")
    code, out, err = run_cli(capsys, "agreement", str(path), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "note: only one annotator" in out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["fleiss_kappa"] is None


@st.composite
def count_tables(draw: st.DrawFn) -> np.ndarray:
    """Small items × labels count tables, every item rated by the same number of raters (statsmodels)."""
    items, labels = draw(st.integers(2, 25)), draw(st.integers(2, 5))
    raters = draw(st.integers(2, 4))
    rows = [
        draw(st.lists(st.integers(0, labels - 1), min_size=raters, max_size=raters)) for _ in range(items)
    ]
    return np.array([np.bincount(row, minlength=labels) for row in rows])


@settings(max_examples=60, deadline=None)
@given(count_tables())
def test_property_statistics_match_the_libraries(table: np.ndarray) -> None:
    used = np.count_nonzero(table.sum(axis=0))
    kappa, alpha = irr.fleiss_kappa(table), irr.krippendorff_alpha(table)
    if used < 2:
        assert kappa is None and alpha is None
        return
    assert kappa == pytest.approx(sm_fleiss(table), rel=1e-9, abs=1e-12)
    reference = krippendorff.alpha(value_counts=table, level_of_measurement="nominal")
    assert alpha == pytest.approx(reference, rel=1e-9, abs=1e-12)
    codes, rows = irr.row_patterns(table)
    weights = np.bincount(codes)
    assert irr.fleiss_kappa(rows, weights) == pytest.approx(kappa, rel=1e-9, abs=1e-12)
    assert irr.krippendorff_alpha(rows, weights) == pytest.approx(alpha, rel=1e-9, abs=1e-12)
    assert irr._alpha_by_matrix_product(table, np.ones(len(table))) == pytest.approx(
        alpha, rel=1e-9, abs=1e-12
    )
