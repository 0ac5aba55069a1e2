"""``prelabel run`` on an items CSV with a ragged row (issue 13 item 7): one ``FILE:LINE`` line, exit 2, and
nothing sent or written — the row's cells would land in the wrong columns."""

from __future__ import annotations

from pathlib import Path

import pytest

import prelabel
from helpers import run_cli

SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_a_ragged_items_row_stops_run_before_any_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str]
) -> None:
    items = tmp_path / "items.csv"
    items.write_text("id,text\na,hello\nb,hi, there\n")
    out = tmp_path / "run"
    args = ["run", SOP, str(items), "-o", str(out), "--base-url", "http://127.0.0.1:9/v1", *extra]
    code, _, err = run_cli(capsys, *args)
    assert (code, err) == (2, f"error: {items}:3: expected 2 fields, got 3\n")
    assert not out.exists()
