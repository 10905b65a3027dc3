"""Leases on a real database: acquire, renew, expire, steal, release, and racing callers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from syncd.state import leases
from syncd.state.db import create_engine_for

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)
NAME = "connection:litmos-main"


def test_first_caller_acquires_and_others_are_refused_until_expiry(state_engine):
    with state_engine.begin() as db:
        assert leases.acquire(db, NAME, "replica-a", ttl=TTL, now=T0)
    with state_engine.begin() as db:
        assert not leases.acquire(db, NAME, "replica-b", ttl=TTL, now=T0 + timedelta(seconds=59))
        info = leases.current(db, NAME)
    assert info == leases.LeaseInfo(NAME, "replica-a", T0 + TTL, T0)


def test_holder_renews_and_reacquires_its_own_lease(state_engine):
    with state_engine.begin() as db:
        leases.acquire(db, NAME, "a", ttl=TTL, now=T0)
        assert leases.renew(db, NAME, "a", ttl=TTL, now=T0 + timedelta(seconds=30))
        assert leases.acquire(db, NAME, "a", ttl=TTL, now=T0 + timedelta(seconds=40))
        info = leases.current(db, NAME)
    assert info.expires_at == T0 + timedelta(seconds=100)
    assert info.acquired_at == T0


def test_an_expired_lease_is_stolen_and_the_old_holder_can_no_longer_renew(state_engine):
    later = T0 + TTL + timedelta(seconds=1)
    with state_engine.begin() as db:
        leases.acquire(db, NAME, "a", ttl=TTL, now=T0)
        assert not leases.renew(db, NAME, "a", ttl=TTL, now=later)
        assert leases.acquire(db, NAME, "b", ttl=TTL, now=later)
        assert not leases.renew(db, NAME, "a", ttl=TTL, now=later)
        assert not leases.acquire(db, NAME, "a", ttl=TTL, now=later)
        assert not leases.release(db, NAME, "a")
        info = leases.current(db, NAME)
    assert (info.holder, info.acquired_at, info.expires_at) == ("b", later, later + TTL)


def test_only_the_holder_releases_and_then_anyone_may_acquire(state_engine):
    with state_engine.begin() as db:
        leases.acquire(db, NAME, "a", ttl=TTL, now=T0)
        assert not leases.release(db, NAME, "b")
        assert leases.release(db, NAME, "a")
        assert leases.current(db, NAME) is None
        assert leases.acquire(db, NAME, "b", ttl=TTL, now=T0)


def test_leases_are_independent_by_name(state_engine):
    with state_engine.begin() as db:
        assert leases.acquire(db, NAME, "a", ttl=TTL, now=T0)
        assert leases.acquire(db, "credential:4f2a", "b", ttl=TTL, now=T0)
        assert not leases.renew(db, "credential:4f2a", "a", ttl=TTL, now=T0)


def race(engine, holders: list[str], now: datetime) -> tuple[list[str], list[BaseException]]:
    """Every holder tries to acquire at once, each on its own connection."""
    winners: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(holders))

    def contend(holder: str) -> None:
        barrier.wait()
        try:
            with engine.begin() as db:
                if leases.acquire(db, NAME, holder, ttl=TTL, now=now):
                    winners.append(holder)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(holder,)) for holder in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners, errors


def test_racing_callers_never_both_win(state_url):
    """Eight threads fight over a new lease, then over it each time it has expired."""
    engine = create_engine_for(state_url)
    try:
        for round_number in range(5):
            now = T0 + round_number * (TTL + timedelta(seconds=1))
            winners, errors = race(engine, [f"r{round_number}-{i}" for i in range(8)], now)
            assert errors == []
            assert len(winners) == 1, winners
            with engine.begin() as db:
                assert leases.current(db, NAME).holder == winners[0]
    finally:
        engine.dispose()
