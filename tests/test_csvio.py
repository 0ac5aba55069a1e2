"""`prelabel._csvio.write_csv` writes the bytes pandas' ``to_csv(index=False)`` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prelabel._csvio import write_csv

pytest.importorskip("pyarrow")

_TEXT = st.one_of(st.none(), st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12))
_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.1, 1 / 3, -0.0, 1e-7]))
_OBJECT = st.one_of(st.none(), st.integers(), st.booleans(), _FLOAT, st.text(max_size=6))


def _same(frame: pd.DataFrame, folder: Path) -> None:
    write_csv(frame, folder / "ours.csv")
    frame.to_csv(folder / "pandas.csv", index=False)
    assert (folder / "ours.csv").read_bytes() == (folder / "pandas.csv").read_bytes()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(_TEXT, _FLOAT, st.booleans(), st.integers(-(2**62), 2**62), _OBJECT), max_size=30)
)
def test_the_bytes_are_pandas_bytes(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple]) -> None:
    frame = pd.DataFrame(rows, columns=["text, quoted", "f", "b", "i", "o"])
    frame["text, quoted"] = frame["text, quoted"].astype("str")
    frame["o"] = frame["o"].astype(object)
    _same(frame, tmp_path_factory.mktemp("csv"))


def test_tricky_text_categoricals_and_many_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("prelabel._csvio._ROWS", 7)
    text = ["a", "", None, 'q"uote', "com,ma", "new\nline", "cr\rx", " lead", "ünï ↔", "x;y", "\t"]
    frame = pd.DataFrame(
        {
            "s": pd.array(text * 3, dtype="str"),
            "c": pd.Categorical(text * 3),
            "f": np.linspace(-1, 1, 33),
            "b": [True, False, True] * 11,
            "o": pd.Series([1, None, "x", 2.0, np.nan, "a b", None, "z", True, "v", 3] * 3, dtype=object),
        }
    )
    _same(frame, tmp_path)
    _same(frame.iloc[:0], tmp_path)
    _same(frame[["s"]], tmp_path)  # one column: pandas writes it
