"""The mirror on a real database: confirmed changes applied, then loaded as the plan's value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from syncd.errors import StateError
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, Mirror
from syncd.state import mirror
from syncd.state.db import session_factory
from syncd.state.models import MirrorUser
from tests.integration.kit import contract_dtypes

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ADA = {"UserName": "ada@corp.example", "FirstName": "Ada", "LastName": "Lovelace"}


def seed(db) -> None:
    """A small company as the worker would record it after a first sync."""
    mirror.upsert_user(
        db,
        "lm",
        "E1",
        match_value="ada@corp.example",
        attrs=ADA,
        active=True,
        remote_id="R1",
        now=NOW,
    )
    mirror.upsert_user(
        db,
        "lm",
        "E2",
        match_value="bob@corp.example",
        attrs={"UserName": "bob@corp.example", "FirstName": "Bob"},
        active=True,
        remote_id=None,
        now=NOW,
    )
    mirror.upsert_group(
        db, "lm", "eng", name="Engineering", parent_key=None, remote_id="T1", now=NOW
    )
    mirror.upsert_group(db, "lm", "eng/web", name="Web", parent_key="eng", remote_id=None, now=NOW)
    mirror.add_memberships(db, "lm", "eng/web", ["E2", "E1", "E2"])
    mirror.add_assignments(db, "lm", "E1", "course", ["C2", "C1"])
    mirror.add_assignments(db, "lm", "E1", "learning_path", ["LP1"])
    mirror.upsert_user(
        db,
        "other",
        "E1",
        match_value="x",
        attrs={"A": "1"},
        active=False,
        remote_id="Z",
        now=NOW,
    )


def load(engine, connection="lm", **options) -> Mirror:
    with session_factory(engine)() as session:
        return mirror.load_mirror(session, connection, **options)


def test_applied_changes_load_as_the_plans_mirror(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
    loaded = load(state_engine, decode_attrs=True)
    for name, columns in MIRROR_COLUMNS.items():
        assert tuple(getattr(loaded, name).columns) == columns
    assert loaded.users.to_dict("records") == [
        {
            "external_id": "E1",
            "remote_id": "R1",
            "match_value": "ada@corp.example",
            "active": True,
            "attrs": ADA,
            "attrs_hash": hash_attrs("E1", "ada@corp.example", ADA),
        },
        {
            "external_id": "E2",
            "remote_id": "",
            "match_value": "bob@corp.example",
            "active": True,
            "attrs": {"UserName": "bob@corp.example", "FirstName": "Bob"},
            "attrs_hash": hash_attrs(
                "E2", "bob@corp.example", {"UserName": "bob@corp.example", "FirstName": "Bob"}
            ),
        },
    ]
    assert loaded.groups.to_dict("records") == [
        {"key": "eng", "remote_id": "T1", "name": "Engineering", "parent_key": ""},
        {"key": "eng/web", "remote_id": "", "name": "Web", "parent_key": "eng"},
    ]
    assert loaded.memberships.to_dict("records") == [
        {"group_key": "eng/web", "external_id": "E1"},
        {"group_key": "eng/web", "external_id": "E2"},
    ]
    assert loaded.assignments.values.tolist() == [
        ["E1", "course", "C1"],
        ["E1", "course", "C2"],
        ["E1", "learning_path", "LP1"],
    ]


def test_frames_have_the_contract_dtypes_and_no_missing_values(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
    loaded = load(state_engine)
    empty = Mirror.empty()
    for name in MIRROR_COLUMNS:
        frame = getattr(loaded, name)
        assert contract_dtypes(frame) == contract_dtypes(getattr(empty, name)), name
        assert not frame.isna().any().any(), name


def test_attrs_come_as_json_text_by_default_in_write_order(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
    text = load(state_engine).users.set_index("external_id").at["E1", "attrs"]
    assert isinstance(text, str)
    assert json.loads(text) == ADA
    assert text.index("UserName") < text.index("FirstName") < text.index("LastName")


def test_an_unknown_connection_has_an_empty_mirror(state_engine):
    loaded = load(state_engine, "never-synced", decode_attrs=True)
    empty = Mirror.empty()
    for name in MIRROR_COLUMNS:
        assert getattr(loaded, name).empty
        assert contract_dtypes(getattr(loaded, name)) == contract_dtypes(getattr(empty, name))


def test_replaying_confirmed_changes_changes_nothing(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
    first = load(state_engine)
    with session_factory(state_engine).begin() as session:
        seed(session)
    second = load(state_engine)
    for name in MIRROR_COLUMNS:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))


def test_update_merges_fields_in_place_and_rehashes(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
    later = NOW + timedelta(hours=1)
    with session_factory(state_engine).begin() as session:
        mirror.update_user(
            session,
            "lm",
            "E1",
            attrs={"LastName": "King", "Title": "Countess"},
            match_value="ada.king@corp.example",
            now=later,
        )
    merged = {**ADA, "LastName": "King", "Title": "Countess"}
    users = load(state_engine, decode_attrs=True).users.set_index("external_id")
    assert list(users.at["E1", "attrs"].items()) == list(merged.items())
    assert users.at["E1", "match_value"] == "ada.king@corp.example"
    assert users.at["E1", "attrs_hash"] == hash_attrs("E1", "ada.king@corp.example", merged)
    with session_factory(state_engine)() as session:
        assert session.get(MirrorUser, ("lm", "E1")).updated_at == later


def test_upsert_keeps_a_known_remote_id_and_records_a_new_one(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
        mirror.upsert_user(
            session,
            "lm",
            "E1",
            match_value="ada@corp.example",
            attrs=ADA,
            active=True,
            remote_id=None,
            now=NOW,
        )
        mirror.set_remote_id(session, "lm", "E2", "R2", now=NOW)
        mirror.upsert_group(
            session, "lm", "eng/web", name="Web Team", parent_key="eng", remote_id="T2", now=NOW
        )
        mirror.upsert_group(
            session, "lm", "eng/web", name="Web Team", parent_key="eng", remote_id=None, now=NOW
        )
    loaded = load(state_engine)
    assert loaded.users["remote_id"].tolist() == ["R1", "R2"]
    assert loaded.groups.set_index("key").loc["eng/web"].tolist() == ["T2", "Web Team", "eng"]


def test_deactivate_remove_and_delete(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
        mirror.set_active(session, "lm", "E2", False, now=NOW)
        mirror.remove_membership(session, "lm", "eng/web", "E2")
        mirror.remove_assignment(session, "lm", "E1", "course", "C2")
    loaded = load(state_engine)
    assert loaded.users["active"].tolist() == [True, False]
    assert loaded.memberships["external_id"].tolist() == ["E1"]
    assert loaded.assignments["item_id"].tolist() == ["C1", "LP1"]
    with session_factory(state_engine).begin() as session:
        mirror.delete_user(session, "lm", "E1")
    loaded = load(state_engine)
    assert loaded.users["external_id"].tolist() == ["E2"]
    assert loaded.memberships.empty and loaded.assignments.empty
    assert load(state_engine, "other").users["external_id"].tolist() == ["E1"]


def test_clear_forgets_one_connection_only(state_engine):
    with session_factory(state_engine).begin() as session:
        seed(session)
        mirror.clear(session, "lm")
    assert all(getattr(load(state_engine), name).empty for name in MIRROR_COLUMNS)
    assert len(load(state_engine, "other").users) == 1


def test_changes_to_an_unknown_user_are_refused(state_engine):
    with (
        pytest.raises(StateError, match="no user E9"),
        session_factory(state_engine).begin() as session,
    ):
        mirror.set_active(session, "lm", "E9", False, now=NOW)
    with (
        pytest.raises(StateError, match="no user E9"),
        session_factory(state_engine).begin() as session,
    ):
        mirror.update_user(session, "lm", "E9", attrs={"A": "1"}, now=NOW)


def test_unknown_assignment_kind_is_refused(state_engine):
    with pytest.raises(ValueError), session_factory(state_engine).begin() as session:
        mirror.add_assignments(session, "lm", "E1", "webinar", ["W1"])


def test_loading_works_on_a_connection_as_well_as_a_session(state_engine):
    with state_engine.begin() as connection:
        seed(connection)
        loaded = mirror.load_mirror(connection, "lm")
    assert loaded.users["external_id"].tolist() == ["E1", "E2"]


def test_loads_a_large_mirror_with_every_row(state_engine):
    """10,000 users with memberships round-trip exactly (tests assert behaviour, not seconds)."""
    people = [f"E{i:05d}" for i in range(10_000)]
    with session_factory(state_engine).begin() as session:
        session.execute(
            MirrorUser.__table__.insert(),
            [
                {
                    "connection": "lm",
                    "external_id": e,
                    "remote_id": None if i % 3 else f"R{i}",
                    "match_value": f"{e}@x",
                    "active": bool(i % 2),
                    "attrs": {"N": e},
                    "attrs_hash": str(i),
                    "updated_at": NOW,
                }
                for i, e in enumerate(people)
            ],
        )
        mirror.add_memberships(session, "lm", "all", people)
    loaded = load(state_engine, decode_attrs=True)
    assert loaded.users["external_id"].tolist() == people
    assert loaded.users["active"].sum() == 5_000
    assert (loaded.users["remote_id"] != "").sum() == 3_334
    assert loaded.users["attrs"].map(lambda a: a["N"]).tolist() == people
    assert len(loaded.memberships) == 10_000
    with session_factory(state_engine)() as session:
        assert session.scalar(
            select(MirrorUser.attrs).where(MirrorUser.external_id == "E00007")
        ) == {"N": "E00007"}
