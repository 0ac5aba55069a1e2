"""Shared fixtures. Keep this small; put fixtures used by one test module in that module."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

import prelabel
from helpers import ENDPOINT_ENV

# Cassettes match request bodies, and instructor's re-ask messages quote pydantic errors, whose URLs name the
# pydantic version: without them recorded re-asks replay across upgrades. Read once, at the first error shown.
os.environ.setdefault("PYDANTIC_ERRORS_INCLUDE_URL", "0")

# Property tests draw the same examples on every run (a red CI run is reproducible, a green one is not luck);
# `HYPOTHESIS_PROFILE=explore pytest ...` draws new ones when hunting for bugs.
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# A small valid SOP; tests that need a broken one usually write their own so line numbers stay visible.
MINIMAL_SOP = """\
id: demo
version: 1.0.0
title: Demo SOP
labels:
  - id: fruit
    definition: Fruit.
    children:
      - id: fruit.apple
        definition: An apple.
      - id: fruit.pear
        definition: A pear.
  - id: other
    definition: Anything else.
rules:
  - id: R1
    text: Label the main item.
"""


@pytest.fixture(autouse=True)
def _no_endpoint_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on (or leaks to) the developer's endpoint settings: tests never call a real API."""
    for name in ENDPOINT_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def minimal_sop() -> str:
    """The text of a small valid SOP (two fruit leaves under ``fruit`` and ``other``; rule R1)."""
    return MINIMAL_SOP


@pytest.fixture
def write_sop(tmp_path: Path) -> Callable[..., Path]:
    """Write SOP text (dedented) or raw bytes to ``tmp_path/name`` and return the path."""

    def write(content: str | bytes, name: str = "sop.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        return path

    return write


@pytest.fixture(params=prelabel.bundled_sops())
def bundled_name(request: pytest.FixtureRequest) -> str:
    """Each bundled example SOP's name, one test per SOP."""
    return str(request.param)
