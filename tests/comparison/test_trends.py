"""``prelabel.qa`` over batches: order as given, the drop test (Fisher's exact, Holm-corrected), tables and a
self-contained report; batches without vendor QA figures are one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

import prelabel
from prelabel.comparison.trends import holm
from prelabel.errors import InputError


def _batch(directory: Path, right: dict[str, int], n: int = 40) -> Path:
    """One batch: each annotator labels ``n`` gold items, ``right[name]`` of them correctly."""
    rows = []
    for i in range(n):
        item = f"{directory.name}-{i}"
        rows.append((item, "lead", "a", True, 10.0))
        for name, correct in right.items():
            rows.append((item, name, "a" if i < correct else "b", False, 10.0))
    frame = pd.DataFrame(rows, columns=["item_id", "annotator", "label", "gold", "lead_time"])
    prelabel.agreement(frame).save(directory)
    return directory


def test_holm_matches_statsmodels() -> None:
    p = np.array([0.001, 0.2, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])
    assert np.isnan(holm(np.array([np.nan, 0.01]))[0])


def test_a_drop_is_flagged_in_its_batch_with_the_stated_test(tmp_path: Path) -> None:
    dirs = [
        _batch(tmp_path / "w1", {"x": 38, "y": 37}),
        _batch(tmp_path / "w2", {"x": 37, "y": 38}),
        _batch(tmp_path / "w3", {"x": 20, "y": 37}),
    ]
    report = prelabel.qa(dirs)
    assert report.batches == ["w1", "w2", "w3"]
    flagged = report.flagged
    assert list(zip(flagged["batch"], flagged["level"], flagged["name"], strict=True)) == [
        ("w3", "annotator", "x")
    ]
    row = flagged.iloc[0]
    p_x = fisher_exact([[20, 20], [75, 5]], alternative="less").pvalue
    p_y = fisher_exact([[37, 3], [75, 5]], alternative="less").pvalue
    assert row["p_value"] == pytest.approx(p_x)
    assert row["p_adjusted"] == pytest.approx(multipletests([p_x, p_y], method="holm")[1][0])
    assert row["measure"] == "gold" and row["prev_accuracy"] == pytest.approx(75 / 80)
    reversed_order = prelabel.qa(dirs[::-1])  # the order given is the time axis
    assert reversed_order.batches == ["w3", "w2", "w1"] and reversed_order.flagged.empty


def test_save_writes_tables_summary_and_an_offline_report(tmp_path: Path) -> None:
    dirs = [_batch(tmp_path / f"w{i}", {"x": 30 + i, "y": 35}) for i in range(1, 3)]
    report = prelabel.qa(dirs)
    paths = report.save(tmp_path / "out", parquet=True)
    assert set(paths) == {"trends", "parquet", "summary", "report"}
    csv = pd.read_csv(paths["trends"])
    assert len(csv) == 4 and {"accuracy", "kappa", "items_per_hour", "fast_share", "drop_flag"} <= set(csv)
    assert pd.read_parquet(paths["parquet"]).shape == csv.shape
    summary = json.loads(paths["summary"].read_text())
    assert summary["batches"] == ["w1", "w2"] and "Fisher" in summary["drop_test"]
    html = paths["report"].read_text()
    assert "<svg" not in html and "data:image/svg+xml;base64," in html
    assert 'src="http' not in html and 'href="http' not in html


def test_batches_without_vendor_qa_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no metrics\.json here"):
        prelabel.qa([tmp_path])
    (tmp_path / "metrics.json").write_text(json.dumps({"n_items": 1}))
    with pytest.raises(InputError, match="no vendor_qa figures"):
        prelabel.qa([tmp_path])
    (tmp_path / "metrics.json").write_text(json.dumps({"vendor_qa": {"version": 99}}))
    with pytest.raises(InputError, match="vendor_qa version 99, this prelabel reads 1"):
        prelabel.qa([tmp_path])
    with pytest.raises(InputError, match="alpha must be strictly between 0 and 1"):
        prelabel.qa([tmp_path], alpha=0)
