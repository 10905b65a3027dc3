"""The worker's mirror is the mirror ``plan.apply`` predicts: one definition of op effects.

Random plans (every op kind, some creates the sandbox refuses so that dependents block and
team batches split) are drained by the real worker into the Litmos sandbox, on a real
SQLite file and on PostgreSQL. The mirror loaded back from the database must equal
:func:`syncd.plan.apply` of the ops that were done, in the order they were done, with the
remote ids the vendor reported.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from syncd.plan import Mirror, apply
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RekeyUser,
    RemoveMember,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
    from_payload,
)
from syncd.queue.worker import DrainStats, Event, Worker, WorkerSettings, utcnow
from syncd.sandbox.running import RunningSandbox
from syncd.state.mirror import load_mirror
from syncd.state.models import OutboxOp
from syncd.state.outbox import OutboxStore
from syncd.vendors import connect
from tests.integration.kit import company, enqueue, litmos_connection, new_store

PEOPLE = [f"E{n}" for n in range(5)]
GROUPS = {"t:A": "", "t:A/B": "t:A", "t:C": ""}
COURSES = ["C0", "C1", "C2"]
PATHS = ["L0", "L1"]
SEED = {
    "courses": [{"code": code, "name": f"Course {code}"} for code in COURSES],
    "learning_paths": [{"name": name} for name in PATHS],
    "teams": [{"name": "Seeded"}],
    "users": [
        {"username": f"x{n}@corp.test", "first_name": "X", "last_name": f"X{n}"} for n in range(2)
    ],
}
FAST = WorkerSettings(batch_size=4, claim_lease_seconds=30, max_wait_seconds=5)
_names = itertools.count()


@dataclass
class Model:
    """What the next op may be about: the mirror as the last drain left it, then each op
    drawn so far (ops that the sandbox will refuse included: their dependents block)."""

    users: dict[str, bool]
    groups: set[str]
    members: set[tuple[str, str]]
    items: set[tuple[str, str, str]]
    gone: set[str] = field(default_factory=set)
    linked: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, mirror: Mirror, gone: set[str], linked: set[str]) -> Model:
        users = mirror.users
        return cls(
            users=dict(zip(users["external_id"], map(bool, users["active"]), strict=True)),
            groups=set(mirror.groups["key"]),
            members=set(mirror.memberships.astype(str).itertuples(index=False, name=None)),
            items=set(mirror.assignments.astype(str).itertuples(index=False, name=None)),
            gone=set(gone),
            linked=set(linked),
        )


def _create(external_id: str, *, bad: bool) -> CreateUser:
    name = f"{external_id.lower()}@corp.test"
    return CreateUser(
        external_id=external_id,
        match_value=name,
        attrs=(
            ("UserName", name),
            ("FirstName", "First"),
            ("LastName", external_id),
            ("Email", "not-an-email" if bad else name),
        ),
    )


def _user_ops(rng: random.Random, m: Model, ids: dict[str, dict[str, str]]) -> list[Op]:
    fresh = [p for p in PEOPLE if p not in m.users and p not in m.gone]
    found: list[Op] = [_create(p, bad=rng.random() < 0.2) for p in fresh]
    accounts = [u for u in ids["users"] if u not in m.linked]
    if fresh and accounts:
        account = accounts[0]
        found.append(
            LinkUser(
                external_id=fresh[-1],
                match_value=account,
                remote_id=ids["users"][account],
                attrs=(("UserName", account), ("LastName", "Linked")),
                active=True,
            )
        )
    for p, active in sorted(m.users.items()):
        new = rng.choice([None, f"{p.lower()}.{rng.randint(0, 9)}@corp.test"])
        name = rng.choice(["Ann", "Bo", "Cy"])
        found.append(
            UpdateUser(external_id=p, changes=(("FirstName", "?", name),), match_value=new)
        )
        found.append(DeactivateUser(external_id=p) if active else ReactivateUser(external_id=p))
        found.append(DeleteUser(external_id=p))
        if f"K{p}" not in m.users:
            found.append(RekeyUser(external_id=f"K{p}", previous_id=p))
        have = {(k, i) for e, k, i in m.items if e == p}
        courses = [ids["courses"][c] for c in COURSES if ("course", ids["courses"][c]) not in have]
        if courses:
            picked = tuple(rng.sample(courses, rng.randint(1, len(courses))))
            found.append(AssignCourses(external_id=p, course_ids=picked))
        paths = [
            ids["learning_paths"][n]
            for n in PATHS
            if ("learning_path", ids["learning_paths"][n]) not in have
        ]
        if paths:
            found.append(AssignLearningPaths(external_id=p, learning_path_ids=(rng.choice(paths),)))
        for kind, item in sorted(have):
            if kind == "course":
                found.append(UnassignCourse(external_id=p, course_id=item))
            else:
                found.append(UnassignLearningPath(external_id=p, learning_path_id=item))
    return found


def _group_ops(rng: random.Random, m: Model, ids: dict[str, dict[str, str]]) -> list[Op]:
    found: list[Op] = []
    for key, parent in GROUPS.items():
        if key not in m.groups and (not parent or parent in m.groups):
            found.append(CreateGroup(group_key=key, name=key.split("/")[-1], parent_key=parent))
    if "t:S" not in m.groups:
        seeded = ids["teams"]["Seeded"]
        found.append(LinkGroup(group_key="t:S", name="Seeded", parent_key="", remote_id=seeded))
    for key in sorted(m.groups):
        name = rng.choice(["N1", "N2"])
        found.append(UpdateGroup(group_key=key, name=name, parent_key=GROUPS.get(key, "")))
        outside = [p for p in sorted(m.users) if (key, p) not in m.members]
        if outside:
            joining = tuple(rng.sample(outside, rng.randint(1, len(outside))))
            found.append(AddMembers(group_key=key, external_ids=joining))
        found += [
            RemoveMember(group_key=g, external_id=p) for g, p in sorted(m.members) if g == key
        ]
    return found


def _follow(m: Model, op: Op) -> None:
    """The model after ``op`` (as if it went through)."""
    match op:
        case CreateUser() | LinkUser():
            m.users[op.external_id] = op.active
            if isinstance(op, LinkUser):
                m.linked.add(op.match_value)
        case DeactivateUser() | ReactivateUser():
            m.users[op.external_id] = isinstance(op, ReactivateUser)
        case RekeyUser():
            old, new = op.previous_id, op.external_id
            m.users[new] = m.users.pop(old)
            m.members = {(g, new if p == old else p) for g, p in m.members}
            m.items = {(new if p == old else p, k, i) for p, k, i in m.items}
        case DeleteUser():
            del m.users[op.external_id]
            m.gone.add(op.external_id)
            m.members = {x for x in m.members if x[1] != op.external_id}
            m.items = {x for x in m.items if x[0] != op.external_id}
        case CreateGroup() | LinkGroup():
            m.groups.add(op.group_key)
        case AddMembers():
            m.members |= {(op.group_key, p) for p in op.external_ids}
        case RemoveMember():
            m.members.discard((op.group_key, op.external_id))
        case AssignCourses():
            m.items |= {(op.external_id, "course", c) for c in op.course_ids}
        case AssignLearningPaths():
            m.items |= {(op.external_id, "learning_path", c) for c in op.learning_path_ids}
        case UnassignCourse():
            m.items.discard((op.external_id, "course", op.course_id))
        case UnassignLearningPath():
            m.items.discard((op.external_id, "learning_path", op.learning_path_id))


def _about(op: Op) -> set[str]:
    payload = op.to_payload()
    found = {payload.get("external_id", ""), payload.get("group_key", "")}
    found |= {payload.get("previous_id", "")}
    found |= {payload.get("parent_key", "")} | set(payload.get("external_ids", ()))
    return found - {""}


def random_plan(rng: random.Random, m: Model, ids: dict[str, dict[str, str]]) -> list[Op]:
    """Up to 12 ops, each kind as likely as another; each depends on the earlier ops about
    the same person or group, as a planner's would."""
    plan: list[Op] = []
    for _ in range(rng.randint(1, 12)):
        choices: dict[str, list[Op]] = {}
        for op in _user_ops(rng, m, ids) + _group_ops(rng, m, ids):
            choices.setdefault(op.kind, []).append(op)
        op = rng.choice(choices[rng.choice(sorted(choices))])
        if any(op.key == done.key for done in plan):
            continue
        needs = tuple(done.key for done in plan if _about(done) & _about(op))
        plan.append(replace(op, depends_on=needs))
        _follow(m, op)
    return plan


# --------------------------------------------------------------------------- the property


def _drain(store: OutboxStore, sandbox: RunningSandbox) -> list[str]:
    """Drain the outbox; the keys of the ops done, in the order they were recorded."""
    done: list[str] = []

    def on_event(event: Event, stats: DrainStats) -> None:
        if event.status == "done":
            done.append(event.key)

    with connect(litmos_connection(sandbox)) as connector:
        Worker(store, connector, settings=FAST, rng=random.Random(1), on_event=on_event).drain()
    return done


def _loaded(store: OutboxStore) -> Mirror:
    with store.sessions() as db:
        return load_mirror(db, store.connection, decode_attrs=True)


def _done_ops(store: OutboxStore, keys: list[str]) -> tuple[list[Op], dict[str, str]]:
    """The ops as they ran (a split team batch holds only the members that went) and the
    remote id each reported."""
    with store.sessions() as db:
        rows = {
            key: (kind, payload, result)
            for key, kind, payload, result in db.execute(
                select(
                    OutboxOp.idempotency_key, OutboxOp.kind, OutboxOp.payload, OutboxOp.result
                ).where(OutboxOp.connection == store.connection)
            )
        }
    ops = [from_payload(rows[key][0], rows[key][1]) for key in keys]
    remote_ids = {key: str(rows[key][2].get("remote_id") or "") for key in keys}
    return ops, {k: v for k, v in remote_ids.items() if v}


def normalised(mirror: Mirror) -> dict[str, Any]:
    users = mirror.users
    return {
        "users": {
            ext: (str(rid), str(mv), bool(act), dict(attrs), str(hashed))
            for ext, rid, mv, act, attrs, hashed in users.itertuples(index=False, name=None)
        },
        "groups": set(mirror.groups.astype(str).itertuples(index=False, name=None)),
        "members": set(mirror.memberships.astype(str).itertuples(index=False, name=None)),
        "items": set(mirror.assignments.astype(str).itertuples(index=False, name=None)),
    }


@pytest.fixture
def world(state_engine: Engine, litmos_sandbox: RunningSandbox) -> Iterator[Any]:
    """A fresh sandbox and connection name per example (the database is the test's)."""

    def fresh() -> tuple[OutboxStore, dict[str, dict[str, str]]]:
        assert litmos_sandbox.admin is not None
        litmos_sandbox.admin.reset(data=True)
        ids = litmos_sandbox.admin.seed(SEED)
        return new_store(state_engine, f"lms{next(_names)}"), ids

    yield fresh, litmos_sandbox


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), plans=st.integers(1, 3))
def test_the_worker_s_mirror_is_the_one_apply_predicts(world: Any, seed: int, plans: int) -> None:
    fresh, sandbox = world
    store, ids = fresh()
    rng = random.Random(seed)
    gone: set[str] = set()
    linked: set[str] = set()
    for _ in range(plans):
        before = _loaded(store)
        model = Model.of(before, gone, linked)
        plan = random_plan(rng, model, ids)
        enqueue(store, plan, now=utcnow())
        keys = _drain(store, sandbox)
        assert {row.state for row in store.rows()} <= {"done", "dead", "blocked"}
        ops, remote_ids = _done_ops(store, keys)
        expected = apply(ops, before, remote_ids=remote_ids)
        assert normalised(_loaded(store)) == normalised(expected)
        gone |= {op.external_id for op in ops if isinstance(op, DeleteUser)}
        linked |= {op.match_value for op in ops if isinstance(op, LinkUser)}


def test_a_team_batch_split_by_a_dead_create_records_the_members_that_went(world: Any) -> None:
    fresh, sandbox = world
    store, _ids = fresh()
    before = _loaded(store)
    enqueue(store, company(6, bad={2}), now=utcnow())
    keys = _drain(store, sandbox)
    ops, remote_ids = _done_ops(store, keys)
    split = [op for op in ops if isinstance(op, AddMembers) and op.external_ids == ("E000", "E004")]
    assert split, "the Sales batch went without E002, whose create is dead"
    assert normalised(_loaded(store)) == normalised(apply(ops, before, remote_ids=remote_ids))
