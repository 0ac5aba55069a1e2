"""Human labels from Label Studio (JSON, JSON_MIN, CSV) and Argilla exports, as the tools write them
(``tests/vendor_exports.py`` names the source of each shape): what is a vote, what is counted, and the
figures of ``compare``/``agreement`` equal to those of the same votes written as a long CSV (issue 22)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from helpers import run_cli, write_jsonl
from vendor_exports import (
    Vote,
    argilla_records,
    long_csv,
    ls_csv,
    ls_min,
    ls_tasks,
    write_json,
)

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")  # a label tree: Taxonomy results
RISK = prelabel.bundled_sop("seller_content_risk")  # multi-label
LEAVES = FEEDBACK.leaf_ids


def _votes(n: int = 30, seed: int = 3) -> list[Vote]:
    """Three annotators over ``n`` items, agreeing about two times in three."""
    rng = random.Random(seed)
    votes = []
    for k in range(n):
        truth = rng.choice(LEAVES[:5])
        for hour, user in enumerate(("ann_a", "ann_b", "ann_c")):
            label = truth if rng.random() < 0.7 else rng.choice(LEAVES[:5])
            votes.append(Vote(f"i{k}", user, label, lead_time=round(rng.uniform(3, 40), 2), hour=hour))
    return votes


def _results(path: Path, n: int = 30, seed: int = 4) -> Path:
    rng = random.Random(seed)
    rows = [
        {
            "item_id": f"i{k}",
            "status": "ok",
            "label": rng.choice(LEAVES[:5]),
            "confidence": round(rng.random(), 3),
            "cited_rules": ["R1"],
            "sop_id": FEEDBACK.id,
            "sop_version": FEEDBACK.version,
            "model": "gpt-4o-mini",
        }
        for k in range(n)
    ]
    return write_jsonl(path, rows)


def _figures(path: Path) -> dict:
    metrics = json.loads(path.read_text(encoding="utf-8"))
    # vendor_qa differs by design: an export's gold annotation is vendor QA's key, its lead times durations
    return {k: v for k, v in metrics.items() if k not in ("notes", "warnings", "sources", "vendor_qa")}


@pytest.mark.parametrize(
    "kind", ["json", "json-ids", "min", "csv", "argilla", "argilla-flat", "argilla-disk"]
)
def test_compare_from_an_export_gives_the_figures_of_the_same_votes_as_csv(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    votes = _votes()
    # not votes: a cancelled annotation, a gold one, a task nobody annotated (LS); a draft response (Argilla)
    extra = [Vote("i0", "lead", LEAVES[6], cancelled=True), Vote("i1", "lead", LEAVES[7], gold=True)]
    results = _results(tmp_path / "labels.jsonl")
    tasks = tmp_path / "tasks.json"
    write_json(tasks, ls_tasks(FEEDBACK, votes + extra, email=kind != "json-ids", unannotated=("i99",)))
    annotator = "email"
    if kind == "min":
        write_json(tasks, ls_tasks(FEEDBACK, votes + extra[:1], unannotated=("i99",)))
        export = ls_min(FEEDBACK, tasks, tmp_path / "export_min.json")
    elif kind == "csv":
        write_json(tasks, ls_tasks(FEEDBACK, votes + extra[:1], unannotated=("i99",)))
        export = ls_csv(FEEDBACK, tasks, tmp_path / "export.csv")
    elif kind.startswith("argilla"):
        annotator = "argilla"
        drafts = [
            Vote("i2", "lead", LEAVES[8], status="draft"),
            Vote("i3", "lead", LEAVES[8], status="discarded"),
        ]
        flatten = kind == "argilla-flat"
        records = argilla_records(FEEDBACK, votes + (drafts if flatten else []), flatten=flatten)
        export = write_json(tmp_path / "records.json", records)
        if kind == "argilla-disk":  # Dataset.to_disk: DIR/records.json beside DIR/.argilla/
            (tmp_path / ".argilla").mkdir()
            export = tmp_path
    else:
        annotator = "email" if kind == "json" else "id"
        export = tasks
    table = long_csv(tmp_path / "humans.csv", votes, annotator=annotator)
    for name, humans in (("from_export", export), ("from_csv", table)):
        code, _, err = run_cli(capsys, "compare", str(results), str(humans), "-o", str(tmp_path / name))
        assert code == 0, err
    from_export = _figures(tmp_path / "from_export" / "metrics.json")
    assert from_export == _figures(tmp_path / "from_csv" / "metrics.json")
    assert from_export["counts"]["annotators"] == 3 and from_export["summary"]["n_compared"] == 30
    notes = json.loads((tmp_path / "from_export" / "metrics.json").read_text())["notes"]
    assert notes[0].startswith("human labels read from a")
    if kind in ("json", "json-ids"):
        assert "1 cancelled (skipped) annotations: not votes" in notes
        qa = json.loads((tmp_path / "from_export" / "metrics.json").read_text())["vendor_qa"]
        assert qa["gold_items"]["rows"] == 1  # the gold annotation: the key of vendor QA, not a vote
        assert "1 gold (ground_truth) annotations: kept apart, not votes" in notes
        assert "1 tasks without annotations (tasks 131)" in notes
    if kind == "argilla-flat":
        assert "1 draft responses: not votes" in notes and "1 discarded responses: not votes" in notes
    if kind in ("argilla", "argilla-disk"):
        assert any("carry no status" in note for note in notes)


def test_agreement_from_an_export_equals_the_csv(tmp_path: Path) -> None:
    votes = _votes(12)
    tasks = write_json(tmp_path / "tasks.json", ls_tasks(FEEDBACK, votes))
    table = long_csv(tmp_path / "humans.csv", votes)
    got, want = prelabel.agreement(tasks), prelabel.agreement(table)
    # vendor_qa aside: the export's lead times and timestamps are vendor QA's durations, the CSV has none
    assert got.model_dump(exclude={"notes", "vendor_qa"}) == want.model_dump(exclude={"notes", "vendor_qa"})


def test_the_frame_carries_gold_lead_time_created_at_and_the_task(tmp_path: Path) -> None:
    votes = [
        Vote("a", "ann_a", LEAVES[0], lead_time=4.5, hour=3),
        Vote("a", "lead", LEAVES[1], gold=True, hour=5),
        Vote("b", "ann_b", LEAVES[2]),
    ]
    tasks = write_json(tmp_path / "tasks.json", ls_tasks(FEEDBACK, votes, email=False))
    frame = prelabel.read_human_labels(tasks)
    assert list(frame.columns) == [
        "item_id",
        "annotator",
        "label",
        "gold",
        "lead_time",
        "created_at",
        "vendor_task",
    ]
    assert frame["annotator"].tolist() == ["11", "14", "12"]  # no email in the export: the user id
    assert frame["label"].tolist() == [LEAVES[0], LEAVES[1], LEAVES[2]]  # taxonomy paths: their leaf
    assert frame["gold"].tolist() == [False, True, False]
    assert frame.loc[0, "lead_time"] == 4.5 and frame.loc[0, "created_at"] == pd.Timestamp(
        "2026-12-02T13:00Z"
    )
    assert frame["vendor_task"].tolist() == ["101", "101", "102"]
    votes_only = prelabel.read_human_labels(tasks, votes=True)
    assert votes_only.columns.tolist() == ["item_id", "annotator", "label"] and len(votes_only) == 2


def test_multi_label_choices_and_argilla_lists_become_joined_labels(tmp_path: Path) -> None:
    leaves = [leaf for leaf in RISK.leaf_ids if not RISK.label_index[leaf].exclusive]
    votes = [Vote("a", "ann_a", leaves[:2]), Vote("a", "ann_b", [leaves[1]])]
    tasks = write_json(tmp_path / "tasks.json", ls_tasks(RISK, votes))
    for path in (
        tasks,
        ls_min(RISK, tasks, tmp_path / "min.json"),
        ls_csv(RISK, tasks, tmp_path / "t.csv"),
        write_json(tmp_path / "argilla.json", argilla_records(RISK, votes, flatten=False)),
    ):
        frame = prelabel.read_human_labels(path, sop=RISK)
        assert frame["label"].tolist() == [";".join(leaves[:2]), leaves[1]], path


def test_what_is_not_a_vote_is_counted_and_warned(tmp_path: Path) -> None:
    votes = [
        Vote("a", "ann_a", LEAVES[0], hour=1),
        Vote("a", "ann_a", LEAVES[1], hour=5),  # the same user again, later: this one counts
        Vote("b", "ann_b", "not.a.label"),
        Vote("c", "ann_c", LEAVES[3]),
    ]
    tasks = ls_tasks(FEEDBACK, votes)
    other = ls_tasks(
        FEEDBACK, [Vote("d", "ann_a", LEAVES[0])], version="prelabel:customer_feedback_intent@0.9:m:h"
    )
    other[0]["id"] = 999
    path = write_json(tmp_path / "tasks.json", tasks + other)
    frame = prelabel.read_human_labels(path, sop=FEEDBACK)
    assert frame[["item_id", "label"]].values.tolist() == [["a", LEAVES[1]], ["c", LEAVES[3]]]
    warnings = frame.attrs["warnings"]
    assert any(
        w.startswith("1 tasks were made for another SOP version (customer_feedback_intent@0.9)")
        for w in warnings
    )
    assert any(
        w.startswith("1 annotations by a user who annotated the same task again: the latest")
        for w in warnings
    )
    assert any("labels outside SOP customer_feedback_intent@" in w and "(not.a.label)" in w for w in warnings)
    assert frame.attrs["vendor"]["not_votes"] == {
        "other_project_or_version": 1,
        "not_in_sop": 1,
        "duplicate": 1,
    }


def test_tasks_of_another_project_are_not_votes(tmp_path: Path) -> None:
    ours = ls_tasks(FEEDBACK, [Vote("a", "ann_a", LEAVES[0]), Vote("b", "ann_a", LEAVES[0])], project=7)
    theirs = ls_tasks(FEEDBACK, [Vote("z", "ann_a", LEAVES[0])], project=8)
    theirs[0]["id"] = 900
    frame = prelabel.read_human_labels(write_json(tmp_path / "t.json", ours + theirs))
    assert frame["item_id"].tolist() == ["a", "b"]
    assert frame.attrs["warnings"][0].startswith("1 tasks of other Label Studio projects (8) than project 7")


def test_agreement_takes_humans_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    votes = _votes(12)
    tasks = write_json(tmp_path / "tasks.json", ls_tasks(FEEDBACK, votes))
    code, out, err = run_cli(
        capsys, "agreement", str(tasks), "-o", str(tmp_path / "a"), "--humans-format", "label-studio-min"
    )
    assert code == 2 and err.strip().endswith("expected a label-studio-min export")
    assert err.count("\n") == 1
    code, out, err = run_cli(
        capsys, "agreement", str(tasks), "-o", str(tmp_path / "a"), "--humans-format", "label-studio"
    )
    assert code == 0, err
    assert (
        "note: human labels read from a Label Studio JSON export: 12 tasks, 36 annotations, 36 votes" in out
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"id": 1, "data": {"item_id": "a"}, "annotations": [', "not valid JSON (cut off?)"),
        ("[]", "the export holds no task or record"),
        ('{"settings": {}, "records": []}', "the export holds no task or record"),
        ("", "the file is empty"),
        (
            '{"images": [], "annotations": [], "categories": []}',
            "not a Label Studio or Argilla export (a JSON object)",
        ),
        (
            '[{"image": "x.jpg", "label": "cat"}]',
            "not a Label Studio or Argilla export (records with keys image, label)",
        ),
    ],
)
def test_a_file_that_is_no_export_is_one_line_exit_2(
    content: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.json"
    path.write_text(content, encoding="utf-8")
    results = _results(tmp_path / "labels.jsonl")
    code, _, err = run_cli(capsys, "compare", str(results), str(path), "-o", str(tmp_path / "out"))
    assert code == 2
    assert expected in err and str(path) in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_export_without_a_single_vote_is_bad_input(tmp_path: Path) -> None:
    tasks = write_json(
        tmp_path / "t.json", ls_tasks(FEEDBACK, [Vote("a", "ann_a", LEAVES[0], cancelled=True)])
    )
    with pytest.raises(prelabel.InputError, match=r"no usable human label in the export .*1 cancelled"):
        prelabel.agreement(tasks)


def test_the_humans_format_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="humans format must be one of auto, table, label-studio"):
        prelabel.read_human_labels(tmp_path / "x.csv", humans_format="labelbox")


def test_a_long_csv_is_still_a_table_and_wide_is_refused_for_exports(tmp_path: Path) -> None:
    votes = _votes(3)
    table = long_csv(tmp_path / "humans.csv", votes)
    assert prelabel.read_human_labels(table).attrs["notes"] == []
    tasks = write_json(tmp_path / "t.json", ls_tasks(FEEDBACK, votes))
    with pytest.raises(
        prelabel.InputError, match="--wide and --annotator are for tables; this is a vendor export"
    ):
        prelabel.read_human_labels(tasks, wide=True)


def test_calibration_score_from_a_json_min_export_equals_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path(__file__).parents[1] / "authoring" / "data"
    answers = pd.read_csv(data / "answers.csv", dtype=str)
    records = [
        {"id": 10 + k, "item_id": row.item_id, "text": "", "label": row.label, "annotator": row.annotator,
         "annotation_id": 100 + k, "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z",
         "lead_time": 3.0}
        for k, row in enumerate(answers.itertuples())
    ]  # fmt: skip
    records.append({"id": 99, "item_id": "q9", "text": "", "annotator": None, "annotation_id": None})
    export = write_json(tmp_path / "quiz_min.json", records)
    key = str(data / "key.csv")
    code, from_csv, err = run_cli(
        capsys, "calibration", "score", key, str(data / "answers.csv"), "-o", str(tmp_path / "s1")
    )
    assert code == 0, err
    code, from_export, err = run_cli(
        capsys, "calibration", "score", key, str(export), "-o", str(tmp_path / "s2")
    )
    assert code == 0, err
    assert from_export.startswith("note: human labels read from a Label Studio JSON_MIN export: 13 tasks")
    assert "note: 1 tasks without annotations (tasks 99)" in from_export
    table = from_csv.split("\n| annotator")[1].split("wrote ")[0]
    assert table == from_export.split("\n| annotator")[1].split("wrote ")[0]


def test_route_reads_an_export_and_warns_what_is_not_a_vote(tmp_path: Path) -> None:
    votes = [*_votes(40), Vote("i0", "ann_a", LEAVES[4], hour=7)]  # ann_a again on i0: the latest counts
    tasks = write_json(tmp_path / "tasks.json", ls_tasks(FEEDBACK, votes))
    calibration = _results(tmp_path / "cal.jsonl", n=40)
    table = long_csv(
        tmp_path / "humans.csv", [v for v in votes[:-1] if (v.item_id, v.user) != ("i0", "ann_a")]
    )
    table.write_text(table.read_text() + f"i0,ann_a@vendor.test,{LEAVES[4]}\n")
    run = pd.DataFrame({"item_id": ["r1", "r2"], "label": [LEAVES[0], LEAVES[1]], "confidence": [0.99, 0.5]})
    from_export = prelabel.route(run, calibration, tasks, target_precision=0.5, min_count=5)
    from_csv = prelabel.route(run, calibration, table, target_precision=0.5, min_count=5)
    assert from_export.report.labels == from_csv.report.labels
    assert any("annotated the same task again" in w for w in from_export.report.warnings)
