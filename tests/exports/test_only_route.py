"""``export --only accept|review`` exports the very lines ``route`` split (issue 21, item 2).

Before, the selection was by id: a route made before the run changed (edited items and a rerun, a
``--restart``), a route of another run, or a run with duplicate ids put abstained and error rows on the accept
side. Now ``route.json`` records the results it read and each routed line its position; a routing that is
not of the run's current results is refused with one line (exit 2), and abstained or error rows never land
on the accept side.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import prelabel
from helpers import run_cli
from prelabel.testing import FakeModel, Reply, RequestRecord

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
LATE, ABSTAIN = "logistics.late_delivery", "needs_review"


def reply(request: RequestRecord) -> Reply:
    """``good ...`` items: a confident answer; ``unsure ...``: an abstention; ``broken ...``: no answer."""
    text = request.item_text or ""
    if text.startswith("unsure"):
        return Reply.answer(ABSTAIN, confidence=0.99)
    if text.startswith("broken"):
        return Reply.raw("not an answer")
    return Reply.answer(LATE, confidence=0.99)


def write_items(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def label(items: Path, out: Path, *, restart: bool = False) -> None:
    """``prelabel run SOP ITEMS -o OUT`` against the scripted model (no re-asks: broken is an error)."""
    client = FakeModel(default=reply).async_client()
    prelabel.run(SOP_PATH, items, out, client=client, restart=restart, max_reasks=0)


@pytest.fixture
def calibration(tmp_path: Path) -> Path:
    """A calibration directory: 60 confident answers the humans agree with (a threshold for LATE)."""
    items = write_items(tmp_path / "cal.jsonl", [{"id": f"c{k}", "text": f"good {k}"} for k in range(60)])
    out = tmp_path / "cal"
    label(items, out)
    humans = pd.DataFrame({"item_id": [f"c{k}" for k in range(60)], "annotator": "h", "label": LATE})
    humans.to_csv(out / "human_labels.csv", index=False)
    return out


RUN_ITEMS = [
    *({"id": f"i{k}", "text": f"good {k}"} for k in range(5)),
    {"id": "i5", "text": "unsure 5"},
    {"id": "i6", "text": "broken 6"},
]


def route(capsys: pytest.CaptureFixture[str], run_dir: Path, calibration: Path, out: Path) -> None:
    args = ["route", str(run_dir), "--calibration", str(calibration), "--target-precision", "0.8"]
    code, _, err = run_cli(capsys, *args, "-o", str(out), "--force")
    assert code == 0, err


def export_accept(
    capsys: pytest.CaptureFixture[str], run_dir: Path, routed: Path, out: Path
) -> tuple[int, str, list[dict[str, Any]]]:
    args = ["export", str(run_dir), "-f", "jsonl", "-o", str(out), "--only", "accept", "--route", str(routed)]
    code, _, err = run_cli(capsys, *args, "--force")
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] if code == 0 else []
    return code, err, rows


def routed_run(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path, Path]:
    items = write_items(tmp_path / "items.jsonl", RUN_ITEMS)
    run_dir = tmp_path / "run"
    label(items, run_dir)
    routed = tmp_path / "route"
    route(capsys, run_dir, calibration, routed)
    return items, run_dir, routed


def test_the_accept_side_is_the_lines_route_accepted(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    code, err, rows = export_accept(capsys, run_dir, routed, tmp_path / "accept.jsonl")
    assert code == 0, err
    assert [r["item_id"] for r in rows] == [f"i{k}" for k in range(5)]
    assert {r["status"] for r in rows} == {"ok"}
    report = json.loads((routed / "route.json").read_text(encoding="utf-8"))
    assert report["results"]["path"] == str((run_dir / "labels.jsonl").resolve())
    accepted = [json.loads(x) for x in (routed / "accept.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["route"]["position"] for r in accepted] == [0, 1, 2, 3, 4]


def test_edited_items_and_a_rerun_make_the_route_stale(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    edited = [{"id": f"i{k}", "text": ("unsure" if k % 2 else "broken") + f" {k}"} for k in range(7)]
    write_items(items, edited)
    label(items, run_dir)  # the same command again: the edited items are labeled again
    code, err, rows = export_accept(capsys, run_dir, routed, tmp_path / "accept.jsonl")
    assert code == 2 and rows == []
    assert err.strip().splitlines() == [
        f"error: {routed}: {run_dir} changed since it was routed (its results or items are not the ones "
        "route split); rerun `prelabel route` on the run to route its results as they are now"
    ]


def test_a_restart_makes_the_route_stale(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    write_items(items, [{"id": f"i{k}", "text": f"broken {k}"} for k in range(7)])
    label(items, run_dir, restart=True)  # the new run: errors only
    assert {json.loads(x)["status"] for x in (run_dir / "labels.jsonl").read_text().splitlines()} == {"error"}
    code, err, rows = export_accept(capsys, run_dir, routed, tmp_path / "accept.jsonl")
    assert code == 2 and rows == [] and "changed since it was routed" in err


def test_a_route_of_another_run_is_refused(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, routed = routed_run(tmp_path, calibration, capsys)
    other = write_items(tmp_path / "other.jsonl", [{"id": f"i{k}", "text": f"broken {k}"} for k in range(7)])
    other_run = tmp_path / "other_run"
    label(other, other_run)
    code, err, rows = export_accept(capsys, other_run, routed, tmp_path / "accept.jsonl")
    assert code == 2 and rows == []
    assert len(err.strip().splitlines()) == 1
    assert f"a routing of other results ({(tmp_path / 'run' / 'labels.jsonl').resolve()})" in err


def test_a_copied_run_keeps_its_route(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The binding is by content: the same results moved or copied elsewhere still match their route."""
    _, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    code, err, rows = export_accept(capsys, copy, routed, tmp_path / "accept.jsonl")
    assert code == 0, err
    assert len(rows) == 5


def test_duplicate_ids_never_put_error_rows_on_the_accept_side(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids 7, "7.0", " 7 " and 7.0 are one id: the run labels the first row and records the others as
    duplicate-id errors; the accept side holds the first row only, and the export says what it left out."""
    items = write_items(
        tmp_path / "items.jsonl",
        [
            {"id": 7, "text": "good seven"},
            {"id": "7.0", "text": "unsure seven"},
            {"id": " 7 ", "text": "broken seven"},
            {"id": 7.0, "text": "good again"},
            {"id": "8", "text": "good eight"},
        ],
    )
    run_dir = tmp_path / "run"
    label(items, run_dir)
    routed = tmp_path / "route"
    route(capsys, run_dir, calibration, routed)
    code, err, rows = export_accept(capsys, run_dir, routed, tmp_path / "accept.jsonl")
    assert code == 0, err
    assert [(r["item_id"], r["status"]) for r in rows] == [("7", "ok"), ("8", "ok")]
    tasks_out = tmp_path / "tasks.json"
    summary = prelabel.export(run_dir, "label-studio", tasks_out)
    tasks = json.loads(tasks_out.read_text(encoding="utf-8"))
    assert [(t["data"]["item_id"], t["data"]["text"]) for t in tasks] == [
        ("7", "good seven"),
        ("8", "good eight"),
    ]
    assert summary.skipped == {"duplicate id: the run labeled only the first row of this id": 3}
    assert summary.n_exported == 2


def test_a_route_json_without_its_results_is_refused(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A route.json written before routes recorded their results (or routed from a DataFrame)."""
    _, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    report = json.loads((routed / "route.json").read_text(encoding="utf-8"))
    del report["results"]
    (routed / "route.json").write_text(json.dumps(report), encoding="utf-8")
    code, err, _ = export_accept(capsys, run_dir, routed, tmp_path / "accept.jsonl")
    assert code == 2 and "does not record which results it routed" in err


@pytest.mark.parametrize("edit", ["twice", "other_side", "swapped_id"])
def test_a_side_file_edited_by_hand_is_refused(
    edit: str, tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    side = routed / "accept.jsonl"
    lines = side.read_text(encoding="utf-8").splitlines()
    review = (routed / "review.jsonl").read_text(encoding="utf-8").splitlines()
    if edit == "twice":
        lines = [lines[0], *lines[:-1]]
    elif edit == "other_side":
        lines = [*lines[:-1], review[-1]]
    else:
        first = json.loads(lines[0])
        lines[0] = json.dumps({**first, "item_id": "i6"})
    side.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    code, err, rows = export_accept(capsys, run_dir, routed, tmp_path / "accept.jsonl")
    assert code == 2 and rows == [] and len(err.strip().splitlines()) == 1
    assert "is not a line route put on the accept side of this run" in err


def test_route_without_only_is_refused(
    tmp_path: Path, calibration: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run_dir, routed = routed_run(tmp_path, calibration, capsys)
    code, _, err = run_cli(
        capsys, "export", str(run_dir), "-f", "csv", "-o", str(tmp_path / "x.csv"), "--route", str(routed)
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --route names the routing --only reads; pass --only accept or --only review too"
    ]
    assert not (tmp_path / "x.csv").exists()
