"""The mirror's version on a real database (SQLite and PostgreSQL): every writer of the
mirror moves it on in its own transaction (a confirmed op, a ``--full`` correction, a
reset), per connection, and a rolled-back change leaves it where it was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from syncd.plan.drift import Drift
from syncd.plan.ops import CreateUser, DeactivateUser
from syncd.state import drift, mirror, outbox, versions
from syncd.state.db import session_factory

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Done:
    remote_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def test_a_connection_starts_at_zero_and_each_bump_counts(state_engine):
    sessions = session_factory(state_engine)
    with sessions() as db:
        assert versions.current(db, "lm") == 0
    for _ in range(3):
        with sessions.begin() as db:
            versions.bump(db, "lm")
    with sessions() as db:
        assert (versions.current(db, "lm"), versions.current(db, "other")) == (3, 0)


def test_confirm_drift_and_clear_move_the_version_on(state_engine):
    sessions = session_factory(state_engine)
    create = CreateUser(external_id="E1", match_value="ada@corp.example", attrs=(("A", "1"),))
    with sessions.begin() as db:
        outbox.confirm(db, "lm", create, Done(remote_id="R1"), now=NOW)
    with sessions() as db:
        assert versions.current(db, "lm") == 1
    with sessions.begin() as db:
        outbox.confirm(db, "lm", DeactivateUser(external_id="E1"), Done(), now=NOW)
    with sessions() as db:
        assert versions.current(db, "lm") == 2
        loaded = mirror.load_mirror(db, "lm")
    with sessions.begin() as db:
        drift.record(db, "lm", loaded, Drift(accounts_gone=frozenset({"E1"})), now=NOW)
    with sessions() as db:
        assert versions.current(db, "lm") == 3
    with sessions.begin() as db:
        mirror.clear(db, "lm")
    with sessions() as db:
        assert versions.current(db, "lm") == 4
        assert versions.current(db, "other") == 0
        assert len(mirror.load_mirror(db, "lm").users) == 0


def test_a_rolled_back_change_leaves_the_version(state_engine):
    sessions = session_factory(state_engine)
    with pytest.raises(RuntimeError), sessions.begin() as db:
        mirror.clear(db, "lm")
        raise RuntimeError("the transaction fails after the change")
    with sessions() as db:
        assert versions.current(db, "lm") == 0
