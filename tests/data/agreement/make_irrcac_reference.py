"""Regenerate ``irrcac_reference.json``: irrCAC's known-answer tables and its coefficients on them.

irrCAC pins scipy 1.12 (and so numpy < 2), so it is not a test dependency: the values it computes are stored
here once, with the tables, and the tests compare prelabel against them. Run in a throwaway venv:

    python3 -m venv /tmp/irr && /tmp/irr/bin/pip install irrCAC==0.4.4 && \
        /tmp/irr/bin/python tests/data/agreement/make_irrcac_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import irrCAC
import irrCAC.datasets as irr_data
import numpy as np
import pandas as pd
from irrCAC.raw import CAC
from irrCAC.table import CAC as TableCAC


def distribution_to_raw(table: pd.DataFrame) -> pd.DataFrame:
    rows = [[c for c, n in row.items() for _ in range(int(n))] for _, row in table.iterrows()]
    return pd.DataFrame(rows, index=table.index, columns=[f"r{i}" for i in range(len(rows[0]))])


def random_ratings(seed: int, items: int = 300, raters: int = 4, labels: int = 5, missing: float = 0.0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, items)
    data = np.where(
        rng.random((items, raters)) < 0.7, truth[:, None], rng.integers(0, labels, (items, raters))
    ).astype(float)
    data[rng.random((items, raters)) < missing] = np.nan
    return data


def cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def raw_entry(table: pd.DataFrame) -> dict:
    table = table.copy()
    if isinstance(table.index, pd.MultiIndex):
        table.index = range(len(table))
    rated = table.dropna(how="all")
    est = CAC(rated)
    return {
        "index": [str(i) for i in table.index],
        "columns": [str(c) for c in table.columns],
        "rows": [[cell(v) for v in row] for row in table.itertuples(index=False)],
        "fleiss_kappa": est.fleiss()["est"]["coefficient_value"],
        "krippendorff_alpha": est.krippendorff()["est"]["coefficient_value"],
    }


def main() -> None:
    raw = {
        "raw_4raters": irr_data.raw_4raters(),
        "raw_5observers": irr_data.raw_5observers(),
        "raw_gender": irr_data.raw_gender(),
        "raw_ben_gerry": irr_data.raw_ben_gerry(),
        "distrib_6raters": distribution_to_raw(irr_data.distrib_6raters()),
    }
    contingency = {}
    for name in ("table_cont3x3abstractors", "table_cont4x4diagnosis"):
        table = getattr(irr_data, name)()
        contingency[name] = {
            "table": table.to_numpy().tolist(),
            "cohen_kappa": TableCAC(table).cohen()["est"]["coefficient_value"],
        }
    missing = {}
    for seed in (3, 4):
        data = random_ratings(seed, missing=0.3)
        frame = pd.DataFrame(data)
        missing[str(seed)] = {**raw_entry(frame)}
    out = {
        "source": f"irrCAC {irrCAC.__version__ if hasattr(irrCAC, '__version__') else '0.4.4'}",
        "raw": {name: raw_entry(table) for name, table in raw.items()},
        "contingency": contingency,
        "missing_ratings": missing,
    }
    path = Path(__file__).with_name("irrcac_reference.json")
    path.write_text(json.dumps(out) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
