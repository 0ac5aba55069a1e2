"""``prelabel sop apply`` and ``apply_rulings``: rulings and reviewed drafts into a copy of a bundled SOP, the
result validated, tested and diffed; bad input is one line, exit 2, and the SOP's bytes unchanged."""

from __future__ import annotations

import datetime
import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import prelabel
from helpers import ROOT, run_cli
from prelabel import Ruling
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

pytestmark = pytest.mark.usefixtures("prelabel_cache")
BUNDLED = prelabel.bundled_sop_path("customer_feedback_intent")
SOP = prelabel.load_sop(BUNDLED)
DATA = Path(__file__).parents[1] / "data" / "compare"
DRAFT = {
    "text": "The box was crushed and it came a week late, I want my money back",
    "label": ["product.damaged"],
    "ruling": "Damage is the problem to resolve; the delay and refund are secondary (R1, R2).",
    "rules": ["R1", "R2"],
}
RULINGS = [
    Ruling("task-1", "seller ignored me for a week and the parcel is late", ("seller.conduct",),
           ruling="The buyer asks about the seller's silence (R1).", rules=("R1",), source="ls.json#task 1"),
    Ruling("task-2", "ขอเงินคืนค่ะ ยกเลิกแล้ว", ("payment.refund_request",), language="th"),
]  # fmt: skip


@pytest.fixture
def sop(tmp_path: Path) -> Path:
    path = tmp_path / "sop.yaml"
    path.write_bytes(BUNDLED.read_bytes())
    return path


def write_drafts(path: Path, entries: list[dict[str, object]], reviewed: bool = True) -> Path:
    """A drafts file as compare --draft-edits writes it, marked reviewed (or not)."""
    prelabel.write_draft_edge_cases(entries, path, SOP, model="fake")
    if reviewed:
        path.write_text(path.read_text().replace("reviewed: false", "reviewed: true"))
    return path


def following(sop: prelabel.SOP) -> FakeModel:
    """A model that answers every case of ``sop`` as its tests and edge cases say (it follows the rulings)."""
    answers = {t.text: t.expect for t in sop.tests} | {c.text: c.label for c in sop.edge_cases}

    def reply(record: RequestRecord) -> Reply:
        label = answers.get((record.item_text or "").strip(), ["praise_other.other"])
        return Reply.answer(label[0] if len(label) == 1 else label)

    return FakeModel(default=reply)


def test_rulings_become_edge_cases_tests_a_version_and_a_changelog_entry(sop: Path) -> None:
    result = prelabel.apply_rulings(RULINGS, sop, today=datetime.date(2026, 12, 7))
    assert result.written and result.out == sop.resolve()
    assert result.lines() == [
        "added edge case E5: seller.conduct (item task-1)",
        "added test T8: expect seller.conduct (item task-1)",
        "added test T9: expect payment.refund_request (item task-2)",
        "version 1.0.0 -> 1.1.0, changelog entry added",
        f"wrote {sop.resolve()} (1.1.0)",
    ]
    after = prelabel.load_sop(sop)
    assert after.version == "1.1.0" and after.edge_cases[-1].id == "E5"
    assert [t.id for t in after.tests][-2:] == ["T8", "T9"] and after.tests[-1].language == "th"
    assert after.changelog[0].changes == [
        "Edge case E5 and test T8 from item task-1 (label seller.conduct)",
        "Test T9 from item task-2 (label payment.refund_request)",
    ]


def test_the_new_sop_passes_its_new_cases_with_a_model_that_follows_the_rulings(sop: Path) -> None:
    prelabel.apply_rulings(RULINGS, sop)
    after = prelabel.load_sop(sop)
    report = prelabel.run_sop_tests(after, client=following(after).async_client())
    statuses = report.statuses()
    assert {k: statuses[k] for k in ("edge_cases/E5", "tests/T8", "tests/T9")} == dict.fromkeys(
        ("edge_cases/E5", "tests/T8", "tests/T9"), "pass"
    )
    assert report.exit_code == 0
    wrong = FakeModel(default=Reply.answer("praise_other.other"))  # a model that ignores them fails them
    again = prelabel.run_sop_tests(after, client=wrong.async_client(), pattern="T9", use_cache=False)
    assert again.exit_code == 1


def test_doc_diff_shows_the_added_edge_case_for_vendors(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.yaml"
    old.write_bytes(sop.read_bytes())
    prelabel.apply_rulings(RULINGS, sop)
    changes = [(c.kind, c.section, c.target) for c in prelabel.diff_sops(SOP, prelabel.load_sop(sop)).changes]
    assert ("added", "edge_case", "E5") in changes and ("added", "changelog", "1.1.0") in changes
    code, _, err = run_cli(capsys, "doc-diff", str(old), str(sop), "-o", str(tmp_path / "changes.md"))
    assert code == 0, err
    assert "E5" in (tmp_path / "changes.md").read_text()


def test_cli_applies_a_reviewed_drafts_file_and_prints_what_changed(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drafts = write_drafts(
        tmp_path / "draft_edge_cases.yaml",
        [
            {"id": "DRAFT1", "source": "candidate #1", **DRAFT},
            {"id": "DRAFT2", "source": "candidate #2", "error": "answer invalid"},
            {
                "id": "DRAFT3",
                "source": "candidate #3",
                **DRAFT,
                "text": "meh",
                "label": ["praise_other.other"],
            },
        ],
    )
    text = drafts.read_text().replace("- id: DRAFT3\n", "- id: DRAFT3\n  accept: false\n")
    drafts.write_text(text)
    code, out, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"skipped 1 failed (error:) and 1 marked accept: false of 3 drafts in {drafts.name}"
    assert lines[1:4] == [
        "added edge case E5: product.damaged (item DRAFT1)",
        "added test T8: expect product.damaged (item DRAFT1)",
        "version 1.0.0 -> 1.1.0, changelog entry added",
    ]
    assert lines[4].startswith("wrote ") and len(lines) == 5
    after = prelabel.load_sop(sop)
    assert after.edge_cases[-1].text == DRAFT["text"] and after.edge_cases[-1].rules == ["R1", "R2"]


def test_a_drafts_file_from_compare_applies_once_reviewed(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeModel(default=Reply.raw(json.dumps(DRAFT)))
    with FakeServer(fake) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        args = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), "-o", str(tmp_path / "out")]
        code, _, err = run_cli(capsys, *args, "--sop", str(sop), "--draft-edits", "--top", "2")
    assert code == 0, err
    drafts = tmp_path / "out" / "draft_edge_cases.yaml"
    written = drafts.read_text()
    assert "reviewed: false" in written and "prelabel sop apply THIS_FILE --sop SOP.yaml" in written
    before = sop.read_bytes()
    code, out, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop))
    assert (code, out) == (2, "") and sop.read_bytes() == before
    assert err == (
        f"error: {drafts} is not marked reviewed: review each entry (fix it, delete it or set "
        "accept: false), then set reviewed: true at the top\n"
    )
    code, out, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop), "--dry-run")
    assert code == 0 and sop.read_bytes() == before  # a preview of the unreviewed drafts writes nothing
    assert "+  - id: E5\n" in out and f"dry run: {sop.resolve()} not written" in out
    assert "is not marked reviewed yet" in out
    drafts.write_text(written.replace("reviewed: false", "reviewed: true"))
    code, out, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop))
    assert code == 0, err
    # both drafts carry the same text: one edge case and one test, the second said and skipped
    assert "ruling for item DRAFT2 (draft_edge_cases.yaml#DRAFT2): not added as an edge case" in out
    after = prelabel.load_sop(sop)
    assert after.edge_cases[-1].id == "E5" and after.tests[-1].id == "T8" and after.version == "1.1.0"


def test_dry_run_prints_a_diff_and_writes_nothing(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drafts = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    before = sop.read_bytes()
    code, out, err = run_cli(
        capsys, "sop", "apply", str(drafts), "--sop", str(sop), "--dry-run", "--bump", "major"
    )
    assert code == 0, err
    assert out.startswith(f"--- a/{sop}\n+++ b/{sop}\n") and "-version: 1.0.0\n+version: 2.0.0\n" in out
    assert sop.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["d.yaml", "sop.yaml"]


def test_out_writes_a_new_file_and_leaves_the_sop(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drafts = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    before = sop.read_bytes()
    new = tmp_path / "v2.yaml"
    args = ["sop", "apply", str(drafts), "--sop", str(sop), "-o", str(new), "--version", "2026.1"]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    assert sop.read_bytes() == before and prelabel.load_sop(new).version == "2026.1"
    code, _, err = run_cli(capsys, *args)  # an existing -o needs --force
    assert code == 2 and err == f"error: {new} already exists; pass --force to overwrite it\n"
    assert run_cli(capsys, *args, "--force")[0] == 0


def test_the_files_mode_bom_and_symlink_are_kept(sop: Path, tmp_path: Path) -> None:
    sop.write_bytes(b"\xef\xbb\xbf" + BUNDLED.read_bytes())
    sop.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(sop)
    result = prelabel.apply_rulings(RULINGS, link)
    assert result.out == sop.resolve() and link.is_symlink()
    assert (sop.stat().st_mode & 0o777) == 0o640 and sop.read_bytes().startswith(b"\xef\xbb\xbfid:") is False
    assert sop.read_bytes().startswith(b"\xef\xbb\xbf# Buyer feedback intent")
    assert prelabel.load_sop(sop).version == "1.1.0"


@pytest.mark.parametrize("name", ["export.json", "snapshot.json"])
def test_an_adjudication_recorded_from_label_studio_applies_to_the_bundled_sop(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The adjudication export recorded from a real Label Studio 1.23 (tests/data/vendor_exports) → sop
    apply → the SOP validates with the decided items as edge cases and tests; the undecided task is said."""
    recorded = ROOT / "tests/data/vendor_exports/label_studio/adjudication" / name
    target = tmp_path / "sop.yaml"
    shutil.copyfile(prelabel.bundled_sop_path("customer_feedback_intent"), target)
    before = prelabel.load_sop(target)
    found = prelabel.read_adjudication(recorded, before)
    assert len(found.rulings) == 2 and len(found.undecided) == 1
    code, out, err = run_cli(capsys, "sop", "apply", str(recorded), "--sop", str(target))
    assert code == 0, err
    assert "2 rulings from 3 adjudication tasks; 1 tasks without a decision" in out
    after = prelabel.load_sop(target)
    tests = {t.text: t.expect for t in after.tests}
    for ruling in found.rulings:
        assert tests[ruling.text] == list(ruling.label)
    new_cases = [e for e in after.edge_cases if e.text in {r.text for r in found.rulings}]
    assert len(new_cases) == sum(bool(r.ruling) for r in found.rulings) > 0
    assert after.version != before.version and after.changelog[0].version == after.version


# ------------------------------------------------------------------------------------------- bad input


def failed_only(tmp_path: Path) -> Path:
    return write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", "error": "timeout"}] * 2)


def no_entries(tmp_path: Path) -> Path:
    return write_drafts(tmp_path / "d.yaml", [])


def outside_label(tmp_path: Path) -> Path:
    path = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    path.write_text(path.read_text().replace("label: product.damaged", "label: product.broken"))
    return path


def typo_key(tmp_path: Path) -> Path:
    path = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    path.write_text(path.read_text().replace("- id: DRAFT1\n", "- id: DRAFT1\n  acept: false\n"))
    return path


def other_sop(tmp_path: Path) -> Path:
    path = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    path.write_text(path.read_text().replace("id: customer_feedback_intent", "id: review_authenticity"))
    return path


def not_drafts(tmp_path: Path) -> Path:
    path = tmp_path / "other.yaml"
    path.write_bytes(BUNDLED.read_bytes())
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (failed_only, "error: no draft to apply in {d}: no entry is left (2 failed (error:))"),
        (no_entries, "error: no draft to apply in {d}: no entry is left"),
        (outside_label, "error: ruling for item DRAFT1 (d.yaml#DRAFT1): label 'product.broken' is not a "
                        "label of SOP customer_feedback_intent 1.0.0 (did you mean 'product.damaged'?)"),
        (typo_key, "error: {d}:{line}: edge_cases[0]: unknown key 'acept' (did you mean 'accept'?)"),
        (other_sop, "error: {d} holds drafts for SOP review_authenticity, not customer_feedback_intent"),
        (not_drafts, "error: {d} is not a draft_edge_cases.yaml (no 'draft: true' at the top)"),
        (lambda tmp: tmp / "missing.json", "error: cannot read {d}: No such file or directory"),
    ],
)  # fmt: skip
def test_bad_rulings_input_is_one_line_exit_2_and_the_sop_unchanged(
    make: object, message: str, sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drafts = make(tmp_path)  # type: ignore[operator]
    before = sop.read_bytes()
    code, out, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop))
    assert code == 2 and out == "" and sop.read_bytes() == before
    lines = drafts.read_text().splitlines() if drafts.exists() else []
    line = lines.index("- id: DRAFT1") + 1 if "- id: DRAFT1" in lines else 0
    assert err.startswith(message.format(d=drafts, line=line)) and len(err.splitlines()) == 1, err


def test_no_rulings_at_all_is_refused(sop: Path) -> None:
    with pytest.raises(prelabel.InputError, match=r"^no rulings to apply in the rulings given$"):
        prelabel.apply_rulings([], sop)


def test_a_missing_or_invalid_sop_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drafts = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    missing = tmp_path / "nope.yaml"
    code, _, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(missing))
    assert code == 2 and err == f"{missing}:1:1: <root>: cannot read file: No such file or directory\n"
    assert not missing.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        BUNDLED.read_text().replace("title: Buyer feedback intent", "titel: Buyer feedback intent")
    )
    before = bad.read_bytes()
    code, _, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(bad))
    assert code == 2 and err.startswith(f"{bad}:5:1: titel: unknown key 'titel' (did you mean 'title'?)")
    assert bad.read_bytes() == before


def test_a_read_only_sop_is_refused_before_any_work(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drafts = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    sop.chmod(0o444)
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if mode == os.W_OK and Path(p) == sop.resolve() else real(p, mode)
    )
    before = sop.read_bytes()  # root ignores chmod: os.access answers as for any other user
    code, _, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop))
    assert (code, err) == (2, f"error: cannot write {sop.resolve()}: Permission denied\n")
    assert sop.read_bytes() == before


def test_a_failed_write_leaves_the_sop_as_it_was(
    sop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drafts = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    before = sop.read_bytes()

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("prelabel._jsonio.os.replace", full)
    code, _, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop))
    assert code == 2 and err.startswith(f"error: no space left on device writing {sop.resolve()}")
    assert err.rstrip().endswith(f"{sop} is unchanged") and len(err.splitlines()) == 1
    assert sop.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["d.yaml", "sop.yaml"]


def test_a_result_that_would_not_validate_is_refused(sop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = sop.read_bytes()
    monkeypatch.setattr(
        "prelabel.sop.edit._set_version", lambda root, version: root.__setitem__("version", "")
    )
    with pytest.raises(prelabel.SOPError, match=r"\(after sop apply\):4:\d+: version: must not be empty"):
        prelabel.apply_rulings(RULINGS, sop)
    assert sop.read_bytes() == before


def test_a_bad_bump_is_refused(sop: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    drafts = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}])
    code, _, err = run_cli(capsys, "sop", "apply", str(drafts), "--sop", str(sop), "--bump", "huge")
    assert (code, err) == (2, "error: --bump must be one of major, minor, patch, got 'huge'\n")


def test_written_drafts_say_how_to_apply_them(tmp_path: Path) -> None:
    path = write_drafts(tmp_path / "d.yaml", [{"id": "DRAFT1", "source": "c", **DRAFT}], reviewed=False)
    data = YAML(typ="safe").load(path.read_text())
    assert data["draft"] is True and data["reviewed"] is False
    assert "set `reviewed: true`" in path.read_text() and "accept: false" in path.read_text()
