"""Fixtures of the SOP authoring-loop tests (``prelabel test``, ``diff``, ``gaps``, the pytest plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def prelabel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``PRELABEL_CACHE_DIR`` (the answer cache lives there), never the developer's own."""
    path = tmp_path / "cache"
    monkeypatch.setenv("PRELABEL_CACHE_DIR", str(path))
    return path
