"""`syncd plan`'s mirror without the users' attrs, then the few the diff reads, on both databases.

The command loads the mirror without ``attrs`` (most of its bytes) and fetches only the rows
whose hash no desired person has (:func:`~syncd.plan.users.attrs_needed`). The plan must be
exactly the one a fully loaded mirror gives, and a cell left out must never be read.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from syncd.errors import StateError
from syncd.plan import Listing, Mirror, apply, build_plan, desire
from syncd.plan.users import NOT_LOADED, as_attrs, attrs_needed, pair
from syncd.state import mirror
from syncd.state.db import session_factory
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
TODAY = date(2026, 5, 4)
CONN = connection(rules=[{"name": "all", "assign": {"courses": ["C1"]}}])


def _plan(people: list[dict], held: Mirror):
    return build_plan(roster(people), CONN, LITMOS_LIKE, held, today=TODAY, name="lm")


def _store(db, held: Mirror) -> None:
    """Record ``held`` as the worker would have, row by row."""
    for row in held.users.to_dict("records"):
        mirror.upsert_user(
            db,
            "lm",
            row["external_id"],
            match_value=row["match_value"],
            attrs=as_attrs(row["attrs"]),
            active=bool(row["active"]),
            remote_id=row["remote_id"] or None,
            now=NOW,
        )
    for row in held.groups.to_dict("records"):
        mirror.upsert_group(
            db,
            "lm",
            row["key"],
            name=row["name"],
            parent_key=row["parent_key"] or None,
            remote_id=None,
            now=NOW,
        )
    for row in held.memberships.to_dict("records"):
        mirror.add_memberships(db, "lm", row["group_key"], [row["external_id"]])
    for row in held.assignments.to_dict("records"):
        mirror.add_assignments(db, "lm", row["external_id"], row["kind"], [row["item_id"]])


FIRST = [person("E1"), person("E2"), person("E3"), person("E4", department="Sales")]
NEXT = [
    person("E1"),  # unchanged
    person("E2", last_name="Renamed"),  # attribute edit
    person("E3", active=False, termination_date="2026-01-01"),  # leaver
    person("E4", department="Support"),  # moved
    person("E5"),  # hire
]


@pytest.fixture
def stored(state_engine):
    with session_factory(state_engine).begin() as session:
        _store(session, apply(_plan(FIRST, Mirror.empty()), Mirror.empty()))
    return state_engine


def test_lazy_attrs_give_the_plan_a_full_mirror_gives(stored):
    with session_factory(stored)() as session:
        full = mirror.load_mirror(session, "lm")
        lazy = mirror.load_mirror(session, "lm", attrs=False)
        assert all(cell is NOT_LOADED for cell in lazy.users["attrs"].tolist())
        desired_plan = _plan(NEXT, full)
        desired = desire(roster(NEXT), CONN, LITMOS_LIKE, today=TODAY, name="lm")
        rows = attrs_needed(desired, lazy.users, None)
        # Only E2's fields changed: the others keep their row hash (the leaver and the mover
        # change state and groups, not fields), so theirs are never read.
        assert lazy.users["external_id"].iloc[rows].tolist() == ["E2"]
        completed = mirror.with_user_attrs(session, "lm", lazy, rows)
    assert completed.users["attrs"].iloc[0] is NOT_LOADED
    lazy_plan = _plan(NEXT, completed)
    assert lazy_plan.ops == desired_plan.ops
    kinds = {op.kind for op in lazy_plan.ops}
    assert kinds >= {"update_user", "deactivate_user", "create_user", "remove_member"}


def test_an_unloaded_attrs_cell_is_never_taken_for_no_fields(stored):
    with session_factory(stored)() as session:
        lazy = mirror.load_mirror(session, "lm", attrs=False)
    with pytest.raises(ValueError, match="not loaded"):
        as_attrs(NOT_LOADED)
    # Every row left out: the diff would have to read E2's fields, and refuses to guess.
    with pytest.raises(ValueError, match="not loaded"):
        _plan(NEXT, lazy)


def test_a_user_gone_between_the_two_reads_is_an_error(stored):
    with session_factory(stored)() as session:
        lazy = mirror.load_mirror(session, "lm", attrs=False)
    with session_factory(stored).begin() as session:
        mirror.delete_user(session, "lm", "E2")
    with session_factory(stored)() as session, pytest.raises(StateError, match="changed while"):
        mirror.with_user_attrs(session, "lm", lazy, np.array([1]))


def test_decode_attrs_needs_the_attrs(stored):
    with session_factory(stored)() as session, pytest.raises(ValueError):
        mirror.load_mirror(session, "lm", attrs=False, decode_attrs=True)


def test_with_a_listing_every_users_attrs_are_needed(stored):
    """A full reconcile's listing merges into every synced user's fields (drift)."""
    listed = Listing(
        users=pd.DataFrame([], columns=["remote_id", "match_value", "active", "attrs"]),
        groups=pd.DataFrame([], columns=["remote_id", "name", "parent_remote_id"], dtype="str"),
    )
    with session_factory(stored)() as session:
        lazy = mirror.load_mirror(session, "lm", attrs=False)
    desired = desire(roster(NEXT), CONN, LITMOS_LIKE, today=TODAY, name="lm")
    assert attrs_needed(desired, lazy.users, listed).tolist() == list(range(len(lazy.users)))


def test_the_diff_takes_the_pairing_only_for_the_same_users(stored):
    """``syncd plan`` pairs people with the lazy mirror, then diffs the completed one."""
    with session_factory(stored)() as session:
        full = mirror.load_mirror(session, "lm")
        lazy = mirror.load_mirror(session, "lm", attrs=False)
        desired = desire(roster(NEXT), CONN, LITMOS_LIKE, today=TODAY, name="lm")
        first = pair(desired, lazy.users)
        rows = attrs_needed(desired, lazy.users, None, first)
        completed = mirror.with_user_attrs(session, "lm", lazy, rows)
    assert first.fits(desired, completed.users)
    plan = build_plan(
        None, CONN, LITMOS_LIKE, completed, today=TODAY, name="lm", desired=desired, pairing=first
    )
    assert plan.ops == _plan(NEXT, full).ops
    hashes = completed.users["attrs_hash"].tolist()
    hashes[0] = "0"
    edited = completed.users.assign(attrs_hash=pd.Series(hashes, dtype="str"))
    assert not first.fits(desired, edited)
    with pytest.raises(ValueError, match="pairing was made for another"):
        build_plan(
            None,
            CONN,
            LITMOS_LIKE,
            dataclasses.replace(completed, users=edited),
            today=TODAY,
            name="lm",
            desired=desired,
            pairing=first,
        )
    assert pair(desired, edited).same.sum() == first.same.sum() - 1
