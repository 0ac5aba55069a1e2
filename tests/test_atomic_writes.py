"""Every output file is written atomically by one helper (``prelabel._jsonio``): a temporary file beside it,
fsynced, renamed over it. A failure on the way (a full disk, Ctrl-C) leaves the earlier file whole and no
temporary file, and an ``OSError`` is one ``OutputError`` line naming the file."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

import prelabel
from helpers import DiskFull
from prelabel._jsonio import atomic_open, atomic_path, together, write_json, write_text

SRC = Path(prelabel.__file__).parent
#: Writing a file in place: ``Path.write_text``/``write_bytes``, ``to_csv(path)`` (not a temporary path),
#: ``open(path, "w")``.
IN_PLACE = r"\.(write_text|write_bytes)\(|\.to_(csv|parquet)\((?!\w*temp)|open\([^)]*\"w"


def test_a_write_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    out.write_text("earlier", encoding="utf-8")
    write_json(out, {"é": 1})
    assert out.read_text(encoding="utf-8") == '{\n  "é": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_full_disk_mid_write_keeps_the_earlier_file_and_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    out.write_text("earlier\n", encoding="utf-8")
    with pytest.raises(prelabel.OutputError) as raised:
        with atomic_open(out) as handle:
            DiskFull(handle, 10).write("x" * 100)
    assert (
        str(raised.value) == f"no space left on device writing {out}; free space and rerun the same command"
    )
    assert raised.value.errno == errno.ENOSPC and isinstance(raised.value, prelabel.InputError)
    assert out.read_text(encoding="utf-8") == "earlier\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, ValueError])
def test_any_failure_in_the_writer_removes_the_temporary_file(tmp_path: Path, stop: type) -> None:
    out = tmp_path / "report.csv"
    with pytest.raises(stop):
        with atomic_path(out) as temp:
            temp.write_text("half", encoding="utf-8")
            raise stop()
    assert list(tmp_path.iterdir()) == []


def test_files_written_together_appear_together_or_not_at_all(tmp_path: Path) -> None:
    tasks, config = tmp_path / "tasks.json", tmp_path / "label_config.xml"
    tasks.write_text("old tasks", encoding="utf-8")
    with pytest.raises(prelabel.OutputError, match=r"no space left on device writing .*label_config\.xml"):
        with together():
            write_text(tasks, "new tasks")
            with atomic_open(config) as handle:
                DiskFull(handle, 3).write("<View/>")
    assert tasks.read_text(encoding="utf-8") == "old tasks"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.json"]
    with together():
        write_text(tasks, "new tasks")
        assert tasks.read_text(encoding="utf-8") == "old tasks"  # renamed when the block ends
        write_text(config, "<View/>")
    assert (
        tasks.read_text(encoding="utf-8") == "new tasks" and config.read_text(encoding="utf-8") == "<View/>"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["label_config.xml", "tasks.json"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOSPC, "no space left on device writing out.csv; free space and rerun the same command"),
        (errno.EDQUOT, "disk quota exceeded writing out.csv; free space and rerun the same command"),
        (errno.EROFS, "cannot write out.csv: Read-only file system"),
        (errno.EACCES, "cannot write out.csv: Permission denied"),
    ],
)
def test_each_write_failure_is_one_line(code: int, expected: str) -> None:
    import os

    error = prelabel.OutputError.of(OSError(code, os.strerror(code)), "out.csv")
    assert str(error) == expected and code in prelabel.OutputError.ERRNOS


def test_the_atomic_writer_is_the_one_home_of_temporary_files_and_renames() -> None:
    """No module but ``prelabel._jsonio`` renames a file into place or names a ``.partial`` file (``RunDir``
    names the one an older prelabel left, from its constant)."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "_jsonio.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"os\.replace\(", r"\.partial[\"']", r"NamedTemporaryFile|mkstemp"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(SRC)}: {pattern}")
    assert offenders == []


def test_output_writers_use_the_atomic_helper() -> None:
    """No library module writes an output file in place (``Path.write_text``/``write_bytes``,
    ``to_csv(path)``, ``open(..., "w")``) outside the helper; probes and examples in docstrings aside."""
    allowed = {"_jsonio.py", "fake.py", "fake_batch.py", "crashing_worker.py", "worker.py"}
    allowed.add("exporter.py")  # its docstring shows a third party's exporter
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.strip()
            if code.startswith((">>>", "...", "#")) or "probe" in code:  # examples; the write probe
                continue
            if re.search(IN_PLACE, code):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {code}")
    assert offenders == [], "\n".join(offenders)
