"""Human label files that are almost right (issue 13 items 2, 4, 7): which wide columns are annotators,
wide flags on long files, ragged rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import prelabel

DATA = Path(__file__).parents[1] / "data" / "compare"
FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")


def test_a_slice_column_of_the_bundled_wide_file_is_not_an_annotator() -> None:
    long = prelabel.agreement(DATA / "humans.csv")
    for sop in (None, FEEDBACK):
        wide = prelabel.agreement(DATA / "humans_wide.csv", wide=True, sop=sop)  # no --slice market
        assert wide.n_annotators == 3
        assert wide.percent_agreement == pytest.approx(long.percent_agreement)  # 0.833, not 0.617
        assert wide.fleiss_kappa == pytest.approx(long.fleiss_kappa)  # 0.631, not 0.261
        assert [s.value for s in wide.slices["market"]] == ["ID", "TH", "VN"]  # recognised as a slice
        assert wide.notes[0].startswith("wide form: annotators ann_a, ann_b, ann_c (inferred")
        assert "slice columns" in wide.notes[0] and wide.notes[0].endswith(": market")


def test_compare_wide_without_slice_ranks_no_market_candidate() -> None:
    long = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=FEEDBACK)
    wide = prelabel.compare(DATA / "labels.jsonl", DATA / "humans_wide.csv", sop=FEEDBACK, wide=True)
    assert wide.metrics.summary == long.metrics.summary
    assert not wide.candidates.astype(str).apply(lambda c: c.str.contains(r"\bID\b|\bTH\b")).any().any()
    assert wide.metrics.notes[0].startswith("wide form: annotators ann_a, ann_b, ann_c")


def test_declared_annotators_make_every_other_column_a_slice() -> None:
    got = prelabel.agreement(DATA / "humans_wide.csv", wide=True, annotators=["ann_a", "ann_b"])
    assert got.n_annotators == 2
    assert set(got.slices) == {"ann_c", "market"}
    assert got.notes[0] == "wide form: annotators ann_a, ann_b (declared); slice columns: ann_c, market"
    with pytest.raises(prelabel.InputError, match=r"annotator column\(s\) not found: ann_z"):
        prelabel.agreement(DATA / "humans_wide.csv", wide=True, annotators=["ann_z"])
    with pytest.raises(prelabel.InputError, match="annotator columns are for wide form"):
        prelabel.agreement(DATA / "humans.csv", annotators=["ann_a"])


def test_with_an_sop_a_column_of_non_labels_is_a_slice_even_alone() -> None:
    frame = pd.DataFrame(
        {"item_id": ["1", "2"], "solo": ["product.damaged", "spam"], "vendor": ["product.damaged", "v2"]}
    )
    # without an SOP, vendor shares a value with solo: both annotators (printed, so the user can declare)
    assert prelabel.agreement(frame, wide=True).n_annotators == 2
    frame["vendor"] = ["v1", "v2"]
    got = prelabel.agreement(frame, wide=True, sop=FEEDBACK)
    assert got.n_annotators == 1 and "vendor" in got.slices
    assert "never labels of the SOP" in got.notes[0]


def test_no_column_that_holds_labels_is_a_clear_error() -> None:
    frame = pd.DataFrame({"item_id": ["1", "2"], "x": ["a", "b"], "y": ["c", "d"]})
    with pytest.raises(prelabel.InputError, match=r"cannot tell which columns are annotators.*--annotator"):
        prelabel.agreement(frame, wide=True)
    assert prelabel.agreement(frame, wide=True, annotators=["x", "y"]).n_annotators == 2


def test_an_annotator_called_label_is_fine() -> None:
    frame = pd.DataFrame({"item_id": ["1", "2"], "label": ["a", "b"], "other": ["a", "a"]})
    assert prelabel.agreement(frame, wide=True).n_annotations == 4


def test_wide_on_long_form_says_drop_wide() -> None:
    with pytest.raises(prelabel.InputError, match=r"humans.csv: this looks like long form .*; drop --wide"):
        prelabel.agreement(DATA / "humans.csv", wide=True)


@pytest.mark.parametrize(
    ("content", "line", "got"),
    [
        ("item_id,annotator,label\n1,a,x,y,z\n1,b,x\n", 2, 5),  # pandas took item_id from an index
        ("item_id,annotator,label\n1,a,x\n\n1,b,x,extra\n", 4, 4),
        ("item_id,annotator,label\n1,a,x\n1,b\n", 3, 2),
        ('item_id,annotator,label\n1,a,"x\ny"\n2,b,x,y\n', 4, 4),  # a quoted newline counts its lines
    ],
)
def test_a_ragged_row_names_the_file_and_line(tmp_path: Path, content: str, line: int, got: int) -> None:
    path = tmp_path / "humans.csv"
    path.write_text(content)
    with pytest.raises(prelabel.InputError) as info:
        prelabel.read_human_labels(path)
    assert str(info.value) == f"{path}:{line}: expected 3 fields, got {got}"


def test_a_ragged_items_csv_fails_before_any_item(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("id,text,market\na,hello,ID\nb,hi, there,TH,x\n")
    with pytest.raises(prelabel.InputError) as info:
        prelabel.read_items(path)
    assert str(info.value) == f"{path}:3: expected 3 fields, got 5"


def test_utf16_human_labels_and_results_say_so(tmp_path: Path) -> None:
    # read as UTF-8, a UTF-16 humans.csv was "humans.csv:31: expected 4 fields, got 1"
    humans = tmp_path / "humans.csv"
    humans.write_bytes((DATA / "humans.csv").read_text(encoding="utf-8").encode("utf-16"))
    results = tmp_path / "labels.jsonl"
    results.write_bytes((DATA / "labels.jsonl").read_text(encoding="utf-8").encode("utf-16"))
    for read, path in ((prelabel.read_human_labels, humans), (prelabel.read_results, results)):
        with pytest.raises(prelabel.InputError) as info:
            read(path)
        assert (
            str(info.value)
            == f"{path}: is UTF-16 text; save it as UTF-8 (PowerShell: Out-File -Encoding utf8)"
        )
