"""The pure parts of the sandbox core: limiter, fault decisions, recorder, masking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from syncd.sandbox.faults import FaultInjector, FaultSettings
from syncd.sandbox.ratelimit import RateRule, RollingWindowLimiter
from syncd.sandbox.recorder import LogEntry, RequestRecorder, fingerprint


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_accepts_exactly_the_rule_then_refuses_until_the_oldest_expires() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(RateRule(5, 1.0), clock=clock)
    assert limiter.acquire("k") is None
    clock.now += 0.5
    assert [limiter.acquire("k") for _ in range(4)] == [None] * 4
    clock.now += 0.499
    assert limiter.acquire("k") == pytest.approx(0.001)
    clock.now = 1001.0
    assert limiter.acquire("k") is None, "the first request left the window at exactly 1 s"
    assert limiter.acquire("k") == pytest.approx(0.5)


def test_limiter_is_rolling_not_fixed_buckets() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(RateRule(4, 60), clock=clock)
    for step in (0, 20, 40, 59):
        clock.now = 1000 + step
        assert limiter.acquire("k") is None
    clock.now = 1061
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") == pytest.approx(19.0)


def test_limiter_keys_are_independent_and_rule_changes_start_clean() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(RateRule(1, 60), clock=clock)
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None
    assert limiter.acquire("b") is None
    limiter.set_rule(RateRule(2, 1))
    assert limiter.rule == RateRule(2, 1)
    assert limiter.acquire("a") is None
    assert limiter.in_window("a") == 1


def test_limiter_counting_rejected_requests_extends_the_wait() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(RateRule(2, 10), clock=clock, count_rejected=True)
    assert limiter.acquire("k") is None
    clock.now += 5
    assert limiter.acquire("k") is None
    clock.now += 4
    assert limiter.acquire("k") == pytest.approx(1.0)
    clock.now += 1
    assert limiter.acquire("k") is not None, "the refused request at t=9 still holds a slot"
    clock.now += 8
    assert limiter.acquire("k") is not None, "the refused requests at t=9, 10 hold slots"
    clock.now += 2
    assert limiter.acquire("k") is None


def test_rate_rule_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="requests"):
        RateRule(0, 1)
    with pytest.raises(ValueError, match="per_seconds"):
        RateRule(1, 0)


def test_fault_decisions_are_reproducible_from_the_seed() -> None:
    settings = FaultSettings(error_rate=0.2, slow_rate=0.2, drop_rate=0.2, seed=42)
    first, second = FaultInjector(settings), FaultInjector(settings)
    runs = [
        [injector.choose("GET", "/x", "/x") for _ in range(200)] for injector in (first, second)
    ]
    assert runs[0] == runs[1]
    kinds = {fault.kind for fault in runs[0] if fault}
    assert kinds == {"error", "slow", "drop"}
    assert 40 <= sum(1 for fault in runs[0] if fault is None) <= 120
    assert {fault.status for fault in runs[0] if fault and fault.kind == "error"} <= {
        500,
        502,
        503,
        504,
    }


def test_faults_respect_methods_pattern_and_max() -> None:
    injector = FaultInjector(
        FaultSettings(malformed_rate=1.0, methods=("post",), path_pattern=r"/users$", max_faults=2)
    )
    assert injector.choose("GET", "/v1/users", "/v1/users") is None
    assert injector.choose("POST", "/v1/teams", "/v1/teams") is None
    assert injector.choose("POST", "/v1/users", "/v1/users") is not None
    assert injector.choose("POST", "/v1/users", "/v1/users") is not None
    assert injector.choose("POST", "/v1/users", "/v1/users") is None
    assert injector.injected == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"error_rate": 1.5},
        {"error_statuses": [429]},
        {"path_pattern": "("},
        {"unknown": 1},
    ],
)
def test_fault_settings_refuse_invalid_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FaultSettings.model_validate(bad)


def _entry(seq: int, status: int, *, fault: str | None = None, limited: bool = False) -> LogEntry:
    return LogEntry(
        seq=seq,
        at="",
        method="GET",
        path="/u/1",
        template="/u/{id}",
        query="",
        credential=None,
        status=status,
        fault=fault,
        rate_limited=limited,
        duration_ms=0.0,
    )


def test_recorder_counts_by_template_status_fault_and_create() -> None:
    recorder = RequestRecorder(max_entries=2)
    for seq, status in enumerate((200, 200, 503), start=1):
        recorder.add(_entry(seq, status, limited=status == 503))
    recorder.add(_entry(4, 0, fault="drop"))
    recorder.record_create("ann")
    recorder.record_create("ann")
    counters = recorder.counters()
    assert counters["requests"] == {"GET /u/{id}": {"0": 1, "200": 2, "503": 1}}
    assert counters["total"] == 4
    assert counters["creates"] == {"ann": 2}
    assert counters["rate_limited"] == 1
    assert counters["faults"] == {"drop": 1}
    assert [entry.seq for entry in recorder.entries()] == [3, 4], "log is bounded"
    assert [entry.seq for entry in recorder.entries(since=3)] == [4]
    recorder.reset()
    assert recorder.counters()["total"] == 0


def test_fingerprint_does_not_reveal_the_credential() -> None:
    assert fingerprint("secret-key") == fingerprint("secret-key")
    assert "secret" not in fingerprint("secret-key")
    assert fingerprint("a") != fingerprint("b")
