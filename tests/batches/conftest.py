"""Fixtures for the batch tests."""

from __future__ import annotations

import pytest

from claudeflow.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
