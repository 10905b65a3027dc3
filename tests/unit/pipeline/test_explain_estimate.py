"""The estimate `syncd explain` gives for a queued op: calls ahead under the rate rule."""

from __future__ import annotations

import pytest

from syncd.limiter import RateRule
from syncd.pipeline.explain import estimate_seconds

LITMOS = RateRule(requests=100, per_seconds=60)


@pytest.mark.parametrize(
    ("calls_ahead", "seconds"),
    [
        (0, 0.0),  # first in line: goes at once
        (99, 0.0),  # still inside the first burst of 100
        (100, 60.0),  # the 101st call waits one window
        (250, 120.0),
        (1000, 600.0),
    ],
)
def test_calls_ahead_cost_one_window_per_full_burst(calls_ahead, seconds):
    assert estimate_seconds(calls_ahead, LITMOS) == seconds


def test_an_op_not_due_yet_waits_at_least_until_it_is_due():
    assert estimate_seconds(0, LITMOS, not_before=42.5) == 42.5
    assert estimate_seconds(300, LITMOS, not_before=42.5) == 180.0


def test_a_connection_rate_override_is_used_as_given():
    assert estimate_seconds(10, RateRule(requests=5, per_seconds=2)) == 4.0


def test_a_negative_count_is_a_mistake():
    with pytest.raises(ValueError):
        estimate_seconds(-1, LITMOS)
