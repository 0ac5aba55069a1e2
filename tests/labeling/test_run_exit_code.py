"""The exit policy lives with the results: ``RunSummary.exit_code`` and ``Estimate.exit_code``.

A run in which every item is an error is not a success: 2 when they are all bad input, 3 when the model
answered none (docs/guides/batch-operator.md, "A run in which every item is an error"); ``prelabel run``
exits with that code and ``failure`` as its message. The dry run says 2 when every item is unusable, as the
run would end.
"""

from __future__ import annotations

import json
from pathlib import Path

import prelabel
from helpers import fast_retry
from prelabel.testing.fake import FakeModel, Reply

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
BLANK = [{"id": str(n), "text": " "} for n in range(3)]  # unusable items: never sent


def items(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def label(tmp_path: Path, rows: list[dict[str, str]], fake: FakeModel) -> prelabel.RunSummary:
    out = tmp_path / "run"
    return prelabel.run(
        SOP_PATH, items(tmp_path, rows), out, client=fake.async_client(), retry=fast_retry(1), max_reasks=0
    )


def test_a_run_with_an_answer_is_a_success(tmp_path: Path) -> None:
    summary = label(tmp_path, [{"id": "a", "text": "late"}, *BLANK], FakeModel())
    assert (summary.exit_code, summary.failure) == (0, None)


def test_every_item_bad_input_is_exit_2(tmp_path: Path) -> None:
    fake = FakeModel()
    summary = label(tmp_path, BLANK, fake)
    assert summary.counts["error"] == 3 and fake.requests == []
    assert (summary.exit_code, summary.failure) == (2, "every item is an error (bad input)")


def test_no_answer_from_the_model_is_exit_3(tmp_path: Path) -> None:
    summary = label(tmp_path, [{"id": "a", "text": "late"}, *BLANK], FakeModel(default=Reply.raw("no JSON")))
    assert summary.counts["error"] == summary.counts["total"] == 4
    assert (summary.exit_code, summary.failure) == (3, "every item is an error (no answer from the model)")


def test_a_dry_run_of_unusable_items_is_exit_2(tmp_path: Path) -> None:
    guess = prelabel.estimate(SOP_PATH, items(tmp_path, BLANK), model="gpt-4o-mini")
    assert guess.exit_code == 2
    assert guess.failure == "every item is unusable (bad input); nothing would be labeled"
    fine = prelabel.estimate(SOP_PATH, items(tmp_path, [{"id": "a", "text": "late"}, *BLANK]))
    assert (fine.exit_code, fine.failure) == (0, None)
