"""Helpers shared by the integration tests: small plans, a store, a connection to a sandbox."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
from pydantic import SecretStr
from sqlalchemy import Engine, select

from syncd.config import ConnectionConfig, RateConfig
from syncd.plan.ops import AddMembers, AssignCourses, CreateGroup, CreateUser, Op
from syncd.queue.outbox import RetryPolicy, decide
from syncd.sandbox.running import RunningSandbox
from syncd.state import runs
from syncd.state.db import session_factory
from syncd.state.models import MirrorGroup, MirrorMembership, MirrorUser
from syncd.state.outbox import ClaimedOp, OutboxStore
from syncd.vendors.base import Outcome

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def contract_dtypes(frame: pd.DataFrame) -> dict[str, str]:
    """A mirror frame's dtypes as the contract states them: a categorical's categories
    are data, so only its kind and its categories' dtype count."""
    return {
        column: f"category[{dtype.categories.dtype}]"
        if isinstance(dtype, pd.CategoricalDtype)
        else str(dtype)
        for column, dtype in frame.dtypes.items()
    }


LEASE = timedelta(seconds=60)


def user(n: int, *, email: str | None = None) -> CreateUser:
    name = f"user{n:03d}@corp.test"
    return CreateUser(
        external_id=f"E{n:03d}",
        match_value=name,
        attrs=(
            ("UserName", name),
            ("FirstName", f"First{n}"),
            ("LastName", f"Last{n}"),
            ("Email", email if email is not None else name),
        ),
    )


def company(people: int = 6, *, bad: Sequence[int] = ()) -> list[Op]:
    """Two teams, ``people`` users (alternating teams), memberships and one course each.

    Users whose number is in ``bad`` get an email Litmos refuses (a permanent error).
    """
    teams = [
        CreateGroup(group_key="dept:Sales", name="Sales"),
        CreateGroup(group_key="dept:Ops", name="Ops"),
    ]
    users = [user(n, email="not-an-email" if n in bad else None) for n in range(people)]
    members = [
        AddMembers(
            group_key=team.group_key,
            external_ids=tuple(u.external_id for i, u in enumerate(users) if i % 2 == t),
            depends_on=(team.key, *(u.key for i, u in enumerate(users) if i % 2 == t)),
        )
        for t, team in enumerate(teams)
    ]
    courses = [
        AssignCourses(external_id=u.external_id, course_ids=("C-SAFE",), depends_on=(u.key,))
        for u in users
    ]
    return [*teams, *users, *members, *courses]


def new_store(engine: Engine, connection: str = "lms") -> OutboxStore:
    return OutboxStore(session_factory(engine), connection)


def enqueue(store: OutboxStore, ops: Sequence[Op], *, now: datetime = T0) -> int:
    with store.sessions.begin() as db:
        run_id = runs.start_run(
            db, connection=store.connection, kind="reconcile", now=now, planned=len(ops)
        )
        store.enqueue(db, run_id, ops, now=now)
    return run_id


def record(
    store: OutboxStore,
    claimed: ClaimedOp,
    outcome: Outcome,
    *,
    worker: str = "w1",
    now: datetime = T0,
    policy: RetryPolicy | None = None,
) -> bool:
    transition = decide(
        outcome,
        attempts=claimed.attempts,
        now=now,
        policy=policy or RetryPolicy(),
        rng=random.Random(0),
    )
    return store.record(claimed, outcome, transition, worker_id=worker, now=now)


def states(store: OutboxStore) -> dict[str, str]:
    return {row.key: row.state for row in store.rows()}


def mirror_users(store: OutboxStore) -> dict[str, tuple[str | None, bool]]:
    with store.sessions() as db:
        return {
            external_id: (remote_id, active)
            for external_id, remote_id, active in db.execute(
                select(MirrorUser.external_id, MirrorUser.remote_id, MirrorUser.active).where(
                    MirrorUser.connection == store.connection
                )
            )
        }


def mirror_groups(store: OutboxStore) -> dict[str, str | None]:
    with store.sessions() as db:
        return dict(
            db.execute(
                select(MirrorGroup.key, MirrorGroup.remote_id).where(
                    MirrorGroup.connection == store.connection
                )
            ).all()
        )


def mirror_members(store: OutboxStore) -> set[tuple[str, str]]:
    with store.sessions() as db:
        return {
            (g, e)
            for g, e in db.execute(
                select(MirrorMembership.group_key, MirrorMembership.external_id).where(
                    MirrorMembership.connection == store.connection
                )
            )
        }


def litmos_connection(
    sandbox: RunningSandbox, *, requests: int = 1000, per_seconds: float = 1.0, timeout: float = 5
) -> ConnectionConfig:
    """A Litmos connection pointed at the sandbox, with the (test-shortened) rate rule.

    The sandbox is set to the same rule, as the real Litmos has its rule and we have ours.
    """
    assert sandbox.admin is not None
    sandbox.admin.set_rate(requests, per_seconds)
    return ConnectionConfig(
        vendor="litmos",
        base_url=f"{sandbox.base_url}/v1.svc",
        credentials={"api_key": SecretStr(sandbox.credentials["apikey"])},
        options={"source": sandbox.credentials["source"]},
        rate=RateConfig(requests=requests, per_seconds=per_seconds),
        timeout_seconds=timeout,
    )


# --------------------------------------------------------------------------- Litmos learners


class Clock:
    """The simulator's clock, set by the test: assignments made through the API get it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def person(name: str, **assigned: list[str]) -> dict[str, Any]:
    address = f"{name}@corp.test"
    return {
        "username": address,
        "email": address,
        "first_name": name.title(),
        "last_name": "Learner",
        **assigned,
    }


def ids(running: RunningSandbox) -> dict[str, str]:
    """Remote ids by username, course code and path name, read through the vendor API."""
    with api(running) as http:
        users = {u["UserName"]: u["Id"] for u in http.get("/users").json()}
        courses = {c["Code"]: c["Id"] for c in http.get("/courses").json()}
        paths = {p["Name"]: p["Id"] for p in http.get("/learningpaths").json()}
    return {**users, **courses, **paths}


def api(running: RunningSandbox) -> httpx.Client:
    return httpx.Client(
        base_url=f"{running.base_url}/v1.svc",
        params={"source": running.credentials["source"], "format": "json"},
        headers={"apikey": running.credentials["apikey"]},
        timeout=5,
    )


def learn(running: RunningSandbox, user: str, course: str, action: str, at: datetime, **extra: Any):
    assert running.admin is not None
    running.admin.post(
        "/activity",
        {"user": user, "course": course, "action": action, "at": at.isoformat()} | extra,
    )


def litmos_on(sandbox: Any, clock: Clock, seed: dict[str, Any]) -> RunningSandbox:
    """A Litmos simulator on the test's clock, seeded through the admin API."""
    from syncd.sandbox.litmos.simulator import LitmosSimulator

    simulator = LitmosSimulator()
    simulator.store.clock = clock
    running: RunningSandbox = sandbox(simulator)
    assert running.admin is not None
    running.admin.seed(seed)
    return running
