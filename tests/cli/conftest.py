"""CLI test fixtures: a scripted model (``fake``; a module may override it) behind a loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prelabel.testing import FakeModel, FakeServer


@pytest.fixture
def fake() -> FakeModel:
    return FakeModel()


@pytest.fixture
def server(fake: FakeModel) -> Iterator[FakeServer]:
    with FakeServer(fake) as running:
        yield running
