"""Fixtures of the integration tests."""

from __future__ import annotations

import pytest

from tests.integration.kit import T0, Clock


@pytest.fixture
def clock() -> Clock:
    """The simulator's clock, at T0 until the test moves it."""
    return Clock(T0)
