"""Helpers shared by test modules (importable because pytest puts ``tests/`` on ``sys.path``)."""

from __future__ import annotations

import pytest

from prelabel.cli.app import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``prelabel ARGS`` in-process; return exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err
