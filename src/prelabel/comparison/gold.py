"""Gold answers for vendor QA: where they come from, and gold annotations kept apart from the votes.

Gold comes, in this order of precedence (an item's first source wins, and ``gold_items`` counts the items each
source gave):

- ``rows``: human-label rows whose ``gold`` column is true (a Label Studio ``ground_truth`` annotation, or a
  gold flag in a CSV). They are the key, not votes: `split_gold` takes them out before any figure.
- ``file``: a gold file or frame with ``item_id`` and ``label`` (``--gold FILE``; a calibration quiz's answer
  key from ``prelabel calibration`` is one).
- ``sop_tests``: the SOP's ``tests:`` and ``edge_cases:``, matched to items by their text (the human labels'
  ``text`` column, compared after `prelabel.comparison.semantics.clean`).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"item_id": ["1", "1"], "annotator": ["x", "lead"], "label": ["a", "b"],
    ...                       "gold": ["", "true"]})
    >>> votes, gold = split_gold(frame)
    >>> list(votes["annotator"]), list(gold["label"])
    (['x'], ['b'])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from prelabel.comparison.readers import factorize_ids
from prelabel.comparison.semantics import clean
from prelabel.errors import InputError
from prelabel.inputs.tables import read_table

if TYPE_CHECKING:
    from prelabel.comparison.semantics import LabelSpace
    from prelabel.sop.spec import SOP

__all__ = ["GOLD_SOURCES", "GoldKey", "gold_key", "split_gold"]

GOLD_SOURCES = ("rows", "file", "sop_tests")
_TRUE = {"true", "1", "1.0", "yes", "y", "t", "gold", "ground_truth"}
_FALSE = {"false", "0", "0.0", "no", "n", "f", "", "nan", "none"}

#: Canonical gold answer per item id (normalised as the comparator does), and items per source.
GoldKey = tuple[dict[str, str], dict[str, int]]


def _flags(values: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = [str(u).strip().lower() for u in uniques]
    bad = [t for t in text if t not in _TRUE | _FALSE]
    if bad:
        raise InputError(f"column 'gold': '{bad[0]}' is not a yes/no value (use true/false or 1/0)")
    truth = np.array([t in _TRUE for t in text] + [False], dtype=bool)
    return truth[codes]


def split_gold(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The votes and the gold annotations of a human-labels frame (rows whose ``gold`` is true); without a
    ``gold`` column, every row is a vote."""
    if "gold" not in frame.columns:
        return frame, frame.iloc[:0]
    flag = _flags(frame["gold"])
    votes, gold = frame[~flag].reset_index(drop=True), frame[flag].reset_index(drop=True)
    votes.attrs = dict(frame.attrs)
    return votes, gold


def _read_gold(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame, name = source, "gold"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: no such gold file")
        frame, name = read_table(path, "gold"), str(path)
    if "item_id" not in frame.columns and "id" in frame.columns:
        frame = frame.rename(columns={"id": "item_id"})
    absent = [c for c in ("item_id", "label") if c not in frame.columns]
    if absent:
        raise InputError(f"{name}: missing column(s) {', '.join(absent)} (gold needs item_id and label)")
    return frame


def gold_key(
    space: LabelSpace,
    *,
    rows: pd.DataFrame | None = None,
    file: str | Path | pd.DataFrame | None = None,
    sop: SOP | None = None,
    texts: pd.DataFrame | None = None,
) -> GoldKey:
    """Gold answers per item id from gold ``rows``, a gold ``file`` and the ``sop``'s tests matched by the
    text of ``texts`` (``item_id``, ``text``); see the module docstring for the precedence."""
    key: dict[str, str] = {}
    found = dict.fromkeys(GOLD_SOURCES, 0)

    def add(source: str, ids: pd.Series, labels: list[str]) -> None:
        (codes,), index = factorize_ids(ids)
        for code, label in zip(codes, labels, strict=True):
            item = str(index[code]) if code >= 0 else ""
            if item and label and item not in key:
                key[item] = label
                found[source] += 1

    if rows is not None and len(rows):
        last = rows.iloc[::-1]  # a later gold row for an item wins over an earlier one
        add("rows", last["item_id"], list(space.answers(last["label"])))
    if file is not None:
        table = _read_gold(file)
        add("file", table["item_id"], list(space.answers(table["label"])))
    if sop is not None and texts is not None and "text" in texts.columns:
        cases = {clean(t.text): ";".join(t.expect) for t in sop.tests}
        cases |= {clean(e.text): ";".join(e.label) for e in sop.edge_cases}
        matched = texts["text"].map(lambda v: cases.get(clean(str(v))) if isinstance(v, str) else None)
        hit = matched.notna().to_numpy()
        add("sop_tests", texts["item_id"][hit], [space.canonical(v) for v in matched[hit]])
    return key, found
