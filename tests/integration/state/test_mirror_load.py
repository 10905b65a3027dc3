"""Loading the mirror column by column (joined texts cut by Arrow) on SQLite and PostgreSQL.

The fast path must give exactly what a row-by-row load gives: same values, same dtypes,
key order, "" for NULL, bytes (not characters) for the lengths of non-ASCII attributes, and
the plain path when a value happens to hold the separator. The truth they are checked on
is a plain SELECT of each table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, select

from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, Mirror
from syncd.state import mirror
from syncd.state.db import session_factory
from syncd.state.models import MirrorAssignment, MirrorGroup, MirrorMembership, MirrorUser
from tests.integration.kit import contract_dtypes

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def seed(session, people: list[tuple[str, str | None, str, dict[str, str], bool]]) -> None:
    for external_id, remote_id, match_value, attrs, active in people:
        mirror.upsert_user(
            session,
            "lm",
            external_id,
            match_value=match_value,
            attrs=attrs,
            active=active,
            remote_id=remote_id,
            now=NOW,
        )


def stored(connection: Connection) -> dict[str, list[list[object]]]:
    """What the tables hold, read plainly row by row, as the contract spells it."""
    found = {}
    for name, model in (
        ("users", MirrorUser),
        ("groups", MirrorGroup),
        ("memberships", MirrorMembership),
        ("assignments", MirrorAssignment),
    ):
        columns = [getattr(model, c) for c in MIRROR_COLUMNS[name]]
        rows = connection.execute(select(*columns).where(model.connection == "lm")).all()
        found[name] = sorted(
            [json.dumps(v) if isinstance(v, dict) else ("" if v is None else v) for v in row]
            for row in rows
        )
    return found


def load_both(engine) -> tuple[dict[str, pd.DataFrame], dict[str, list[list[object]]]]:
    with engine.connect() as connection:
        return mirror.load_mirror_frames(connection, "lm"), stored(connection)


def group(session, key: str, name: str, parent: str | None, remote: str | None) -> None:
    mirror.upsert_group(session, "lm", key, name=name, parent_key=parent, remote_id=remote, now=NOW)


def same(frames: dict[str, pd.DataFrame], rows: dict[str, list[list[object]]]) -> None:
    """The loaded frames hold the stored rows (attrs compared as JSON), with the contract's
    dtypes."""
    empty = Mirror.empty()
    for name in MIRROR_COLUMNS:
        frame = frames[name]
        assert contract_dtypes(frame) == contract_dtypes(getattr(empty, name)), name
        loaded = [list(r) for r in frame.itertuples(index=False, name=None)]
        if name == "users":
            for row in [*loaded, *rows[name]]:
                row[4] = json.loads(row[4])
        assert sorted(loaded, key=str) == sorted(rows[name], key=str), name


def test_aggregated_load_equals_the_row_by_row_load(state_engine):
    people = [
        ("E10", "R-zz", "zoë@corp.example", {"FirstName": "Zoë", "LastName": "Ø"}, True),
        ("E02", None, "ann@corp.example", {"FirstName": "Ann", "City": "Kraków"}, False),
        ("E1", "R-aa", "", {}, True),
        ("E3", "R-mm", "Ed@Corp.Example", {"Note": 'tab\there, quote " and \\u001e'}, True),
    ]
    with session_factory(state_engine).begin() as session:
        seed(session, people)
        mirror.upsert_group(
            session, "lm", "g:B", name="B", parent_key=None, remote_id=None, now=NOW
        )
        mirror.upsert_group(
            session, "lm", "g:A", name="A", parent_key="g:B", remote_id="T", now=NOW
        )
        mirror.add_memberships(session, "lm", "g:B", ["E3", "E1"])
        mirror.add_memberships(session, "lm", "g:A", ["E10"])
        mirror.add_assignments(session, "lm", "E3", "course", ["C2", "C1"])
        mirror.add_assignments(session, "lm", "E10", "learning_path", ["LP"])
    fast, rows = load_both(state_engine)
    same(fast, rows)
    users = fast["users"]
    assert users["external_id"].tolist() == ["E02", "E1", "E10", "E3"], "key order"
    assert users["remote_id"].tolist() == ["", "R-aa", "R-zz", "R-mm"]
    assert users["active"].tolist() == [False, True, True, True]
    texts = dict(zip(users["external_id"], users["attrs"], strict=True))
    assert json.loads(texts["E10"]) == {"FirstName": "Zoë", "LastName": "Ø"}
    assert json.loads(texts["E1"]) == {}
    hashed = dict(zip(users["external_id"], users["attrs_hash"], strict=True))
    assert hashed["E02"] == hash_attrs("E02", "ann@corp.example", people[1][3])
    assert fast["groups"].values.tolist() == [["g:A", "T", "A", "g:B"], ["g:B", "", "B", ""]]
    assert fast["memberships"].values.tolist() == [["g:A", "E10"], ["g:B", "E1"], ["g:B", "E3"]]
    assert fast["assignments"].values.tolist() == [
        ["E3", "course", "C1"],
        ["E3", "course", "C2"],
        ["E10", "learning_path", "LP"],
    ], "by course, then person"


def test_a_value_holding_the_separator_falls_back_to_rows(state_engine):
    odd = "odd\x1evalue@corp.example"
    with session_factory(state_engine).begin() as session:
        seed(session, [("E1", "R1", odd, {"A": "1"}, True), ("E2", "R2", "b@x", {}, True)])
    fast, rows = load_both(state_engine)
    assert fast["users"]["match_value"].tolist() == [odd, "b@x"]
    same(fast, rows)


def test_a_member_key_holding_the_separator_falls_back_to_rows_in_grouped_tables(state_engine):
    odd = "E\x1e9"
    with session_factory(state_engine).begin() as session:
        seed(session, [(odd, "R9", "n@x", {}, True), ("E1", "R1", "a@x", {}, True)])
        group(session, "g:A", "A", None, "T")
        mirror.add_memberships(session, "lm", "g:A", [odd, "E1"])
        mirror.add_assignments(session, "lm", odd, "course", ["C1", "C2"])
        mirror.add_assignments(session, "lm", "E1", "course", ["C1"])
    fast, rows = load_both(state_engine)
    same(fast, rows)
    assert fast["memberships"].values.tolist() == [["g:A", odd], ["g:A", "E1"]]
    assert fast["assignments"].values.tolist() == [
        [odd, "course", "C1"],
        ["E1", "course", "C1"],
        [odd, "course", "C2"],
    ]


def test_a_connection_without_rows_loads_empty_frames_of_the_contract(state_engine):
    fast, rows = load_both(state_engine)
    same(fast, rows)
    for name, columns in MIRROR_COLUMNS.items():
        assert tuple(fast[name].columns) == columns and fast[name].empty
