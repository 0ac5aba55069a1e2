"""One id normalisation for every command (issue 13 item 6): ``run`` reads item ids with the same rule that
``compare`` and ``agreement`` match them with (`prelabel.inputs.ids.normalize_id`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prelabel
from prelabel.inputs.ids import normalize_id
from prelabel.inputs.reading import BadItem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, "7"),
        (7.0, "7"),
        ("7", "7"),
        ("7.0", "7"),
        ("7.00", "7"),
        (" 7 ", "7"),
        ("a1 ", "a1"),
        (np.int64(7), "7"),
        (np.float64(7.0), "7"),
        ("01", "01"),  # leading zeros are kept: a zero-padded code stays a code
        ("007.0", "007"),
        (8.5, "8.5"),
        ("8.5", "8.5"),
        ("8.50", "8.50"),
        (True, "true"),
        (np.bool_(False), "false"),
        ("true", "true"),
        ("1e3", "1e3"),
        (None, None),
        (float("nan"), None),
        (pd.NA, None),
        ("", None),
        ("   ", None),
    ],
)
def test_normalize_id(value: object, expected: str | None) -> None:
    assert normalize_id(value) == expected


def test_run_reads_ids_with_the_same_rule(tmp_path: Path) -> None:
    rows = [
        {"id": 7.0, "text": "a"},
        {"id": 8.5, "text": "b"},
        {"id": True, "text": "c"},
        {"id": " x ", "text": "d"},
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    entries = list(prelabel.read_items(path))
    assert [e.id for e in entries] == ["7", "8.5", "true", "x"]  # type: ignore[union-attr]
    csv = tmp_path / "items.csv"
    csv.write_text("id,text\n7.0,a\n 8.5 ,b\ntrue,c\n01,d\n7,dup\n   ,blank\n")
    entries = list(prelabel.read_items(csv))
    assert [e.id if not isinstance(e, BadItem) else e.reason for e in entries] == [
        "7",
        "8.5",
        "true",
        "01",
        "line 6: duplicate id '7' (first at line 2)",
        "line 7: id: Field required",
    ]


def test_ids_match_across_compare_agreement_and_files(tmp_path: Path) -> None:
    humans = tmp_path / "humans.csv"
    humans.write_text(
        "item_id,annotator,label\n1.0,ann_a,x\n1,ann_b ,x\n 1 ,ann_c,x\n01,ann_a,y\n2,ann_a,y\n2.0,ann_b,y\n"
    )
    got = prelabel.agreement(humans)
    assert got.n_items == 3  # 1 (three spellings), 01, 2
    assert got.n_annotators == 3  # "ann_b " is ann_b
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        '{"item_id": "1", "label": "x"}\n{"item_id": 2.0, "label": "y"}\n{"item_id": "01", "label": "y"}\n'
    )
    cmp = prelabel.compare(labels, humans)
    assert cmp.metrics.summary.n_compared == 3
    assert cmp.metrics.skipped.items_without_human_label == 0


def test_signs_negative_zero_numpy_floats_and_decimals() -> None:
    """``"+7.0"`` was ``+7``, ``"-0.0"`` was ``-0`` (the number -0.0 is ``0``), a float32 0.1 was
    ``0.10000000149011612`` and ``Decimal("7.0")`` stayed ``7.0``."""
    import decimal

    values = ("+7.0", "-0.0", -0.0, np.float32(0.1), decimal.Decimal("7.0"), "007.0")
    assert [normalize_id(v) for v in values] == ["7", "0", "0", "0.1", "7", "007"]


def test_the_first_row_of_an_id_is_its_item_even_when_bad(tmp_path: Path) -> None:
    """One rule for every command: the first row of an id is the item, good or bad; every later row with
    that id (after normalisation) is a duplicate, so no later row can stand in for a bad first one."""
    path = tmp_path / "items.jsonl"
    rows = [{"id": 7}, {"id": "7.0", "text": "a"}, {"id": " 7 ", "text": "b"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    entries = list(prelabel.read_items(path))
    assert all(isinstance(e, BadItem) for e in entries)
    assert [e.reason for e in entries[1:]] == [  # type: ignore[union-attr]
        "line 2: duplicate id '7' (first at line 1)",
        "line 3: duplicate id '7' (first at line 1)",
    ]
