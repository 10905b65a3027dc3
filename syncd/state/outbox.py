"""All outbox SQL: enqueue a plan, claim ready ops, record outcomes with the mirror, requeue.

The state machine itself (which moves are allowed: ``syncd.state.machine``; backoff and
what an outcome means: ``syncd.queue.outbox``) is pure; this module only stores its
decisions, each in one short transaction, never held across a vendor call:

- :meth:`OutboxStore.enqueue` writes a plan's ops in the transaction that records the run
  (``syncd.state.runs``), so a crash leaves either the whole plan queued or none of it.
  Ops from earlier runs that the new plan no longer contains are superseded (deleted): the
  plan was computed from the mirror, which holds every confirmed effect, so it already asks
  for everything still needed. Ops it contains again keep their row (see
  :func:`syncd.state.machine.enqueue_action`).
- :meth:`OutboxStore.claim` takes ready ops: pending (or a due retry, or a claim whose
  lease expired) whose every dependency is done, oldest first. On PostgreSQL the candidate
  rows are locked with ``FOR UPDATE SKIP LOCKED`` so several workers never take the same
  op; on SQLite every transaction begins ``IMMEDIATE`` (``syncd.state.db``), which
  serialises claims, and one worker per connection holds the connection's lease.
- :meth:`OutboxStore.record` marks an op done in the same transaction as the mirror change
  it confirms (or retry / dead, blocking the dead op's dependents), and extends the lease of
  the ops still waiting in the worker's batch. A team's AddMembers that waits on a dead op
  through some of its members only is split first, so only those members wait.

Times are passed in (``now``) so tests and the worker share one clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from syncd.errors import StateError
from syncd.plan.effects import (
    AddAssignments,
    AddMemberships,
    Change,
    ForgetUser,
    MergeUser,
    MoveUser,
    PutGroup,
    PutUser,
    RemoveAssignment,
    RemoveMembership,
    SetActive,
    effects,
)
from syncd.plan.hold import DERIVED, Hold
from syncd.plan.ops import AddMembers, Attrs, Op, Refs, from_payload
from syncd.state import holds, journal, mirror, versions
from syncd.state.db import changed_rows, in_chunks
from syncd.state.machine import (
    OPEN_STATES,
    EnqueueAction,
    Existing,
    OpState,
    QueueCounts,
    Transition,
    dependents,
    enqueue_action,
)
from syncd.state.models import (
    MirrorAssignment,
    MirrorGroup,
    MirrorMembership,
    MirrorUser,
    OutboxDep,
    OutboxOp,
)
from syncd.state.pacing import save_history


class Confirmation(Protocol):
    """What the mirror needs from a connector's done outcome (``syncd.vendors.base.Outcome``
    has it): named here, so the store, like the vendors, stands on ``plan`` alone."""

    @property
    def remote_id(self) -> str | None: ...

    @property
    def detail(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ClaimedOp:
    """An op a worker holds: its row id, the op itself and how often it was tried."""

    id: int
    key: str
    op: Op
    attempts: int
    run_id: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as ``syncd queue list`` shows it."""

    id: int
    run_id: int
    connection: str
    key: str
    kind: str
    state: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    """What enqueuing a plan did to the outbox."""

    inserted: int = 0
    kept: int = 0
    rearmed: int = 0
    kept_dead: int = 0
    superseded: int = 0
    blocked: int = 0
    kept_rejected: int = 0
    expired: int = 0
    """Holds that ran out before this plan (dropped; the plan decided about them anew)."""

    @property
    def planned(self) -> int:
        return self.inserted + self.kept + self.rearmed + self.kept_dead + self.kept_rejected


class OutboxStore:
    """One connection's outbox in the state database."""

    def __init__(self, sessions: sessionmaker[Session], connection: str) -> None:
        self.sessions = sessions
        self.connection = connection

    @property
    def dialect(self) -> str:
        bind = self.sessions.kw["bind"]
        return str(bind.dialect.name)

    # ------------------------------------------------------------------- enqueue

    def enqueue(
        self,
        db: Session,
        run_id: int,
        ops: Sequence[Op],
        *,
        now: datetime,
        held: Mapping[str, Hold] | None = None,
        held_until: datetime | None = None,
        supersede: bool = True,
    ) -> EnqueueReport:
        """Queue a plan's ops for ``run_id`` inside the caller's transaction (with the run).

        The caller commits; nothing here commits, so the run row, the source file and the
        ops land together or not at all. Ops whose key is in ``held`` are stored ``held``
        (until ``held_until``; see :mod:`syncd.state.holds`); holds that expired before
        ``now`` are dropped first, so the plan decides about those ops again. Queued ops the
        plan does not contain are superseded, unless ``supersede`` is False (a few ops queued
        beside the rest: an undo).
        """
        held = held or {}
        keys = [op.key for op in ops]
        if len(set(keys)) != len(keys):
            raise StateError("the plan holds two ops with the same idempotency key")
        expired = holds.expire(db, self.connection, now=now)
        existing = self._existing(db, keys)
        counts = dict.fromkeys(EnqueueAction, 0)
        new_rows: list[dict[str, Any]] = []
        new_ops: list[Op] = []
        rearm: list[tuple[int, Op]] = []
        keep_ids: list[int] = []
        refresh: list[tuple[int, Op]] = []
        for op in ops:
            row = existing.get(op.key)
            payload = op.to_payload()
            hold = held.get(op.key)
            action = enqueue_action(
                None
                if row is None
                else Existing(OpState(row.state), row.payload, row.held_check in DERIVED),
                payload,
                hold=hold is not None,
            )
            counts[action] += 1
            if action is EnqueueAction.INSERT:
                new_row = self._new_row(run_id, op, payload, now)
                if hold is not None:
                    new_row.update(holds.columns(hold, held_until))
                new_rows.append(new_row)
                new_ops.append(op)
                continue
            assert row is not None
            if action is EnqueueAction.REARM:
                rearm.append((row.id, op))
                continue
            keep_ids.append(row.id)
            if action is EnqueueAction.HOLD:
                assert hold is not None
                db.execute(
                    update(OutboxOp)
                    .where(OutboxOp.id == row.id)
                    .values(updated_at=now, **holds.columns(hold, held_until))
                )
                refresh.append((row.id, op))
            elif action is EnqueueAction.KEEP and row.state != OpState.CLAIMED:
                refresh.append((row.id, op))
        superseded = self._supersede(db, set(keys)) if supersede else 0
        if new_rows:
            ids = db.scalars(
                insert(OutboxOp).returning(OutboxOp.id, sort_by_parameter_order=True), new_rows
            ).all()
            self._add_deps(db, list(zip(ids, new_ops, strict=True)))
        for row_id, op in rearm:
            hold = held.get(op.key)
            again = {} if hold is None else holds.columns(hold, held_until)
            db.execute(
                update(OutboxOp)
                .where(OutboxOp.id == row_id)
                .values(run_id=run_id, payload=op.to_payload(), **{**holds.fresh(now), **again})
            )
        for row_id, op in refresh:
            db.execute(
                update(OutboxOp)
                .where(OutboxOp.id == row_id)
                .values(payload=op.to_payload(), updated_at=now)
            )
        self._replace_deps(db, [*rearm, *refresh])
        for chunk in in_chunks(keep_ids):
            db.execute(update(OutboxOp).where(OutboxOp.id.in_(chunk)).values(run_id=run_id))
        blocked = self.reblock(db, now=now)
        return EnqueueReport(
            inserted=counts[EnqueueAction.INSERT],
            kept=counts[EnqueueAction.KEEP] + counts[EnqueueAction.HOLD],
            rearmed=counts[EnqueueAction.REARM],
            kept_dead=counts[EnqueueAction.KEEP_DEAD],
            superseded=superseded,
            blocked=blocked,
            kept_rejected=counts[EnqueueAction.KEEP_REJECTED],
            expired=expired,
        )

    def _new_row(
        self, run_id: int, op: Op, payload: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "connection": self.connection,
            "idempotency_key": op.key,
            "kind": op.kind,
            "payload": dict(payload),
            "state": OpState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }

    @dataclass(frozen=True, slots=True)
    class _Row:
        id: int
        state: str
        payload: Mapping[str, Any]
        held_check: str | None

    def _existing(self, db: Session, keys: Sequence[str]) -> dict[str, OutboxStore._Row]:
        found: dict[str, OutboxStore._Row] = {}
        for chunk in in_chunks(keys):
            rows = db.execute(
                select(
                    OutboxOp.idempotency_key,
                    OutboxOp.id,
                    OutboxOp.state,
                    OutboxOp.payload,
                    OutboxOp.held_check,
                )
                .where(OutboxOp.connection == self.connection)
                .where(OutboxOp.idempotency_key.in_(chunk))
            ).all()
            for key, row_id, state, payload, check in rows:
                found[key] = OutboxStore._Row(row_id, state, payload, check)
        return found

    def _supersede(self, db: Session, keep: set[str]) -> int:
        """Delete unfinished, dead, held and rejected ops of earlier runs that the new plan
        does not contain (a held deactivation of a person back in the export is moot).

        A claimed op is in flight (its outcome will land in the mirror) and is left alone.
        """
        rows = db.execute(
            select(OutboxOp.id, OutboxOp.idempotency_key).where(
                OutboxOp.connection == self.connection,
                OutboxOp.state.in_(
                    [
                        OpState.PENDING,
                        OpState.RETRY,
                        OpState.BLOCKED,
                        OpState.DEAD,
                        OpState.HELD,
                        OpState.REJECTED,
                    ]
                ),
            )
        ).all()
        stale = [row_id for row_id, key in rows if key not in keep]
        for chunk in in_chunks(stale):
            db.execute(delete(OutboxDep).where(OutboxDep.op_id.in_(chunk)))
            db.execute(delete(OutboxOp).where(OutboxOp.id.in_(chunk)))
        return len(stale)

    def _add_deps(self, db: Session, rows: Sequence[tuple[int, Op]]) -> None:
        deps = [
            {"op_id": row_id, "depends_on": need, "connection": self.connection}
            for row_id, op in rows
            for need in dict.fromkeys(op.depends_on)
        ]
        for chunk in in_chunks(deps):
            db.execute(insert(OutboxDep), list(chunk))

    def _replace_deps(self, db: Session, rows: Sequence[tuple[int, Op]]) -> None:
        ids = [row_id for row_id, _ in rows]
        for chunk in in_chunks(ids):
            db.execute(delete(OutboxDep).where(OutboxDep.op_id.in_(chunk)))
        self._add_deps(db, rows)

    def clear(self, db: Session) -> int:
        """Delete every op of the connection (its LMS was reset: nothing left applies)."""
        ids = list(db.scalars(select(OutboxOp.id).where(OutboxOp.connection == self.connection)))
        for chunk in in_chunks(ids):
            db.execute(delete(OutboxDep).where(OutboxDep.op_id.in_(chunk)))
            db.execute(delete(OutboxOp).where(OutboxOp.id.in_(chunk)))
        return len(ids)

    # ------------------------------------------------------------------- blocking

    def reblock(self, db: Session, *, now: datetime) -> int:
        """Make ``blocked`` exactly the open ops that wait, directly or not, on a dead op.

        Blocks pending/retry ops downstream of a dead one and releases blocked ops whose
        blocker is gone (re-armed, dropped or superseded). Returns how many are blocked.
        A team's AddMembers waiting through some of its members only is split first
        (:meth:`_free_members`), so that only those members wait.
        """
        self._free_members(db, self._dead_keys(db), now)
        rows = db.execute(
            select(OutboxOp.id, OutboxOp.idempotency_key, OutboxOp.state).where(
                OutboxOp.connection == self.connection,
                OutboxOp.state.in_([*OPEN_STATES, OpState.DEAD]),
            )
        ).all()
        if not rows:
            return 0
        by_id = {row_id: (key, state) for row_id, key, state in rows}
        deps = self._deps_of(db, OPEN_STATES)
        dead = [key for key, state in by_id.values() if state == OpState.DEAD]
        should_block = dependents(deps, dead)
        to_block = [
            row_id
            for row_id, (key, state) in by_id.items()
            if key in should_block and state in (OpState.PENDING, OpState.RETRY)
        ]
        to_free = [
            row_id
            for row_id, (key, state) in by_id.items()
            if state == OpState.BLOCKED and key not in should_block
        ]
        self._set_state(db, to_block, OpState.BLOCKED, now)
        for chunk in in_chunks(to_free):
            db.execute(
                update(OutboxOp)
                .where(OutboxOp.id.in_(chunk))
                .values(state=OpState.PENDING.value, next_attempt_at=now, updated_at=now)
            )
        return sum(
            1
            for key, state in by_id.values()
            if key in should_block and state in (OpState.PENDING, OpState.RETRY, OpState.BLOCKED)
        )

    def _deps_of(self, db: Session, states: Iterable[OpState]) -> dict[str, list[str]]:
        """Key -> the keys it depends on, for this connection's ops in ``states``."""
        deps: dict[str, list[str]] = {}
        for key, need in db.execute(
            select(OutboxOp.idempotency_key, OutboxDep.depends_on)
            .join(OutboxOp, OutboxOp.id == OutboxDep.op_id)
            .where(OutboxOp.connection == self.connection, OutboxOp.state.in_(list(states)))
        ).all():
            deps.setdefault(key, []).append(need)
        return deps

    def _block_dependents(self, db: Session, key: str, now: datetime) -> int:
        """Block every open op downstream of the newly dead ``key`` (walks the deps index)."""
        blocked = 0
        frontier = [key]
        seen = {key}
        while frontier:
            waiting = db.execute(
                select(OutboxOp.id, OutboxOp.idempotency_key)
                .join(OutboxDep, OutboxDep.op_id == OutboxOp.id)
                .where(
                    OutboxDep.connection == self.connection,
                    OutboxDep.depends_on.in_(frontier),
                    OutboxOp.state.in_([OpState.PENDING, OpState.RETRY, OpState.BLOCKED]),
                )
            ).all()
            ids = [row_id for row_id, k in waiting if k not in seen]
            frontier = [k for _, k in waiting if k not in seen]
            seen.update(frontier)
            blocked += self._set_state(db, ids, OpState.BLOCKED, now)
        return blocked

    def _set_state(self, db: Session, ids: Sequence[int], state: OpState, now: datetime) -> int:
        changed = 0
        for chunk in in_chunks(ids):
            changed += changed_rows(
                db.execute(
                    update(OutboxOp)
                    .where(OutboxOp.id.in_(chunk))
                    .values(state=state.value, claimed_by=None, claimed_until=None, updated_at=now)
                )
            )
        return changed

    # ------------------------------------------------------------------- per member

    def _dead_keys(self, db: Session) -> list[str]:
        return list(
            db.scalars(
                select(OutboxOp.idempotency_key).where(
                    OutboxOp.connection == self.connection,
                    OutboxOp.state == OpState.DEAD.value,
                )
            )
        )

    def _downstream(self, db: Session, roots: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Open ops waiting, directly or not, on ``roots``: key -> (row id, kind)."""
        found: dict[str, tuple[int, str]] = {}
        frontier = list(dict.fromkeys(roots))
        seen = set(frontier)
        while frontier:
            step: list[str] = []
            for chunk in in_chunks(frontier):
                for row_id, key, kind in db.execute(
                    select(OutboxOp.id, OutboxOp.idempotency_key, OutboxOp.kind)
                    .join(OutboxDep, OutboxDep.op_id == OutboxOp.id)
                    .where(
                        OutboxDep.connection == self.connection,
                        OutboxDep.depends_on.in_(chunk),
                        OutboxOp.state.in_([OpState.PENDING, OpState.RETRY, OpState.BLOCKED]),
                    )
                ).all():
                    if key not in seen:
                        seen.add(key)
                        found[key] = (row_id, kind)
                        step.append(key)
            frontier = step
        return found

    def _free_members(self, db: Session, dead: Sequence[str], now: datetime) -> int:
        """Split each open AddMembers that waits on ``dead`` ops through some members only.

        Dependencies are per member (:meth:`AddMembers.split`): the members whose own ops
        are fine go on in the op's row (re-keyed to its new content); the others get a
        row of their own that depends on their dead op, and is blocked with it until a
        retry or a fixed row re-arms it. Returns how many ops were split.
        """
        if not dead:
            return 0
        downstream = self._downstream(db, dead)
        waiting = set(dead) | set(downstream)
        split = 0
        for row_id, kind in downstream.values():
            if kind != AddMembers.kind:
                continue
            payload, run_id = db.execute(
                select(OutboxOp.payload, OutboxOp.run_id).where(OutboxOp.id == row_id)
            ).one()
            op = from_payload(kind, payload)
            assert isinstance(op, AddMembers)
            member_of, stuck = self._needs_of(db, op.depends_on)
            parts = op.split(member_of, waiting | stuck)
            if parts is None:
                continue
            going, held = parts
            self._put(db, run_id, going, now, row_id=row_id)
            self._put(db, run_id, held, now)
            split += 1
        return split

    def _needs_of(self, db: Session, keys: Sequence[str]) -> tuple[dict[str, str], set[str]]:
        """Of the ops with these keys: those about one person (key -> that person), and
        those dead or blocked."""
        member_of: dict[str, str] = {}
        stuck: set[str] = set()
        for chunk in in_chunks(list(keys)):
            for key, payload, state in db.execute(
                select(OutboxOp.idempotency_key, OutboxOp.payload, OutboxOp.state).where(
                    OutboxOp.connection == self.connection,
                    OutboxOp.idempotency_key.in_(chunk),
                )
            ).all():
                data = payload or {}
                if data.get("external_id") and not data.get("group_key"):
                    member_of[key] = str(data["external_id"])
                if state in (OpState.DEAD, OpState.BLOCKED):
                    stuck.add(key)
        return member_of, stuck

    def _put(
        self, db: Session, run_id: int, op: Op, now: datetime, *, row_id: int | None = None
    ) -> None:
        """Make ``op`` a pending op of ``run_id``: in row ``row_id`` when given, else new.

        The outbox holds a key once: when another row already holds ``op``'s key, that
        row is re-armed with it instead (left alone while claimed: it is running the very
        same members) and ``row_id`` is deleted.
        """
        holder = db.execute(
            select(OutboxOp.id, OutboxOp.state).where(
                OutboxOp.connection == self.connection, OutboxOp.idempotency_key == op.key
            )
        ).one_or_none()
        target = row_id
        if holder is not None and holder.id != row_id:
            if row_id is not None:
                db.execute(delete(OutboxDep).where(OutboxDep.op_id == row_id))
                db.execute(delete(OutboxOp).where(OutboxOp.id == row_id))
            if holder.state == OpState.CLAIMED:
                return
            target = holder.id
        if target is None:
            row = self._new_row(run_id, op, op.to_payload(), now)
            new_id = db.scalar(insert(OutboxOp).values(**row).returning(OutboxOp.id))
            assert new_id is not None
            self._add_deps(db, [(new_id, op)])
            return
        db.execute(
            update(OutboxOp)
            .where(OutboxOp.id == target)
            .values(
                run_id=run_id, idempotency_key=op.key, payload=op.to_payload(), **holds.fresh(now)
            )
        )
        self._replace_deps(db, [(target, op)])

    def split_held(
        self, db: Session, row_id: int, people: Collection[str], *, now: datetime
    ) -> int | None:
        """Give ``people`` of a held team add (``AddMembers``) a held row of their own, so an
        operator approving or rejecting some people of a batch decides for them only.

        Returns the id of the row that holds exactly those people (the row itself when all
        its members are chosen), or None when the row is not a held team add with any of
        them. Both parts keep the hold (check, reason, expiry) and their own members'
        dependencies.
        """
        row = db.execute(
            select(
                OutboxOp.run_id,
                OutboxOp.kind,
                OutboxOp.payload,
                OutboxOp.state,
                OutboxOp.held_check,
                OutboxOp.held_reason,
                OutboxOp.held_until,
            ).where(OutboxOp.id == row_id, OutboxOp.connection == self.connection)
        ).one_or_none()
        if row is None or row.kind != AddMembers.kind or row.state != OpState.HELD:
            return None
        op = from_payload(row.kind, row.payload)
        assert isinstance(op, AddMembers)
        chosen = tuple(m for m in op.external_ids if m in set(people))
        rest = tuple(m for m in op.external_ids if m not in set(people))
        if not chosen:
            return None
        if not rest:
            return row_id
        member_of, _stuck = self._needs_of(db, op.depends_on)
        mine, theirs = op.only(rest, member_of), op.only(chosen, member_of)
        self._put(db, row.run_id, mine, now, row_id=row_id)
        self._put(db, row.run_id, theirs, now)
        hold = {
            "state": OpState.HELD.value,
            "held_check": row.held_check,
            "held_reason": row.held_reason,
            "held_until": row.held_until,
        }
        db.execute(
            update(OutboxOp)
            .where(
                OutboxOp.connection == self.connection,
                OutboxOp.idempotency_key.in_([mine.key, theirs.key]),
                OutboxOp.state == OpState.PENDING.value,
            )
            .values(**hold)
        )
        return db.scalar(
            select(OutboxOp.id).where(
                OutboxOp.connection == self.connection, OutboxOp.idempotency_key == theirs.key
            )
        )

    # ------------------------------------------------------------------- claiming

    def claim(
        self, worker_id: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[ClaimedOp]:
        """Take up to ``limit`` ready ops for ``worker_id`` until ``now + lease``.

        Ready: every dependency done, and pending, or a retry whose time has come, or a
        claim whose lease expired (its worker died). Expired claims go first, then due
        retries, then pending ops, each oldest first, so the FIFO order holds and nothing
        starves behind a long queue.
        """
        with self.sessions.begin() as db:
            ids: list[int] = []
            for condition, order in self._ready_conditions(now):
                if len(ids) >= limit:
                    break
                ids += self._candidates(db, condition, order, limit - len(ids), exclude=ids)
            if not ids:
                return []
            db.execute(
                update(OutboxOp)
                .where(OutboxOp.id.in_(ids))
                .values(
                    state=OpState.CLAIMED.value,
                    claimed_by=worker_id,
                    claimed_until=now + lease,
                    updated_at=now,
                )
            )
            rows = db.execute(
                select(
                    OutboxOp.id,
                    OutboxOp.idempotency_key,
                    OutboxOp.kind,
                    OutboxOp.payload,
                    OutboxOp.attempts,
                    OutboxOp.run_id,
                )
                .where(OutboxOp.id.in_(ids))
                .order_by(OutboxOp.id)
            ).all()
        claimed = []
        for row_id, key, kind, payload, attempts, run_id in rows:
            op = from_payload(kind, payload)
            if op.key != key:
                raise StateError(
                    f"outbox op {row_id} no longer matches its key {key!r} "
                    f"(payload gives {op.key!r}): was it edited by hand?"
                )
            claimed.append(ClaimedOp(row_id, key, op, attempts, run_id))
        return claimed

    def _ready_conditions(self, now: datetime) -> list[tuple[Any, Any]]:
        return [
            (
                and_(OutboxOp.state == OpState.CLAIMED.value, OutboxOp.claimed_until < now),
                (OutboxOp.claimed_until, OutboxOp.id),
            ),
            (
                and_(OutboxOp.state == OpState.RETRY.value, OutboxOp.next_attempt_at <= now),
                (OutboxOp.next_attempt_at, OutboxOp.id),
            ),
            (
                and_(OutboxOp.state == OpState.PENDING.value, OutboxOp.next_attempt_at <= now),
                (OutboxOp.next_attempt_at, OutboxOp.id),
            ),
        ]

    def _candidates(
        self, db: Session, condition: Any, order: Any, limit: int, *, exclude: Sequence[int]
    ) -> list[int]:
        other = aliased(OutboxOp)
        unmet = exists().where(
            OutboxDep.op_id == OutboxOp.id,
            other.connection == OutboxDep.connection,
            other.idempotency_key == OutboxDep.depends_on,
            other.state != OpState.DONE.value,
        )
        statement = (
            select(OutboxOp.id)
            .where(OutboxOp.connection == self.connection, condition, ~unmet)
            .order_by(*order)
            .limit(limit)
        )
        if exclude:
            statement = statement.where(OutboxOp.id.not_in(exclude))
        if self.dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True, of=OutboxOp)
        return list(db.scalars(statement).all())

    def release(self, ids: Sequence[int], worker_id: str, *, now: datetime) -> int:
        """Give back claimed ops untouched (not attempted): they are ready again at once."""
        released = 0
        with self.sessions.begin() as db:
            for chunk in in_chunks(list(ids)):
                released += changed_rows(
                    db.execute(
                        update(OutboxOp)
                        .where(
                            OutboxOp.id.in_(chunk),
                            OutboxOp.state == OpState.CLAIMED.value,
                            OutboxOp.claimed_by == worker_id,
                        )
                        .values(
                            state=OpState.PENDING.value,
                            claimed_by=None,
                            claimed_until=None,
                            next_attempt_at=now,
                            updated_at=now,
                        )
                    )
                )
        return released

    def release_claims(self, *, now: datetime, holders: Iterable[str] | None = None) -> int:
        """Free claims left by workers known to be dead (all of them when ``holders`` is None).

        Called by the owner of the connection's lease on start: on SQLite nobody else may
        hold claims then; elsewhere only claims of holders proven dead are given back, the
        rest wait for their lease to expire.
        """
        statement = update(OutboxOp).where(
            OutboxOp.connection == self.connection, OutboxOp.state == OpState.CLAIMED.value
        )
        if holders is not None:
            statement = statement.where(OutboxOp.claimed_by.in_(list(holders)))
        with self.sessions.begin() as db:
            return changed_rows(
                db.execute(
                    statement.values(
                        state=OpState.PENDING.value,
                        claimed_by=None,
                        claimed_until=None,
                        next_attempt_at=now,
                        updated_at=now,
                    )
                )
            )

    def claim_holders(self) -> set[str]:
        """Every worker id currently holding a claim on this connection's ops."""
        with self.sessions() as db:
            return {
                holder
                for holder in db.scalars(
                    select(OutboxOp.claimed_by)
                    .where(
                        OutboxOp.connection == self.connection,
                        OutboxOp.state == OpState.CLAIMED.value,
                    )
                    .distinct()
                )
                if holder
            }

    # ------------------------------------------------------------------- refs

    def refs(self, ops: Sequence[Op], *, attrs: bool = False) -> Refs:
        """Remote ids of every user and group the ops name, from the mirror; with ``attrs``
        also the users' managed fields (see ``Refs.attrs``)."""
        users: set[str] = set()
        groups: set[str] = set()
        for op in ops:
            payload = op.to_payload()
            for name in ("external_id", "previous_id"):
                if payload.get(name):
                    users.add(payload[name])
            users.update(payload.get("external_ids") or ())
            for name in ("group_key", "parent_key"):
                if payload.get(name):
                    groups.add(payload[name])
        found_users: dict[str, str] = {}
        found_groups: dict[str, str] = {}
        found_attrs: dict[str, Attrs] = {}
        with self.sessions() as db:
            for chunk in in_chunks(sorted(users)):
                where = (
                    MirrorUser.connection == self.connection,
                    MirrorUser.external_id.in_(chunk),
                    MirrorUser.remote_id.is_not(None),
                )
                if attrs:
                    for external_id, remote_id, fields in db.execute(
                        select(
                            MirrorUser.external_id, MirrorUser.remote_id, MirrorUser.attrs
                        ).where(*where)
                    ):
                        found_users[external_id] = str(remote_id)
                        found_attrs[external_id] = tuple(
                            (str(k), str(v)) for k, v in (fields or {}).items()
                        )
                    continue
                for external_id, remote_id in db.execute(
                    select(MirrorUser.external_id, MirrorUser.remote_id).where(*where)
                ):
                    found_users[external_id] = str(remote_id)
            for chunk in in_chunks(sorted(groups)):
                for key, remote_id in db.execute(
                    select(MirrorGroup.key, MirrorGroup.remote_id).where(
                        MirrorGroup.connection == self.connection,
                        MirrorGroup.key.in_(chunk),
                        MirrorGroup.remote_id.is_not(None),
                    )
                ):
                    found_groups[key] = str(remote_id)
        return Refs(users=found_users, groups=found_groups, attrs=found_attrs)

    # ------------------------------------------------------------------- outcomes

    def record(
        self,
        claimed: ClaimedOp,
        outcome: Confirmation,
        transition: Transition,
        *,
        worker_id: str,
        now: datetime,
        extend: Sequence[int] = (),
        lease: timedelta | None = None,
        pacing: tuple[str, str] | None = None,
    ) -> bool:
        """Store one outcome; for ``done`` with the mirror change, in one transaction.

        Returns False when the op was no longer ours to record (its lease expired and
        another worker took it over). A ``done`` outcome is recorded even then, unless the
        op is already done: the vendor did the work, and the mirror must know.
        ``pacing`` (limiter key, history snapshot) rides along in the same transaction, so
        the send history is saved with every op at no extra commit (``syncd.state.pacing``).
        """
        with self.sessions.begin() as db:
            if pacing is not None:
                save_history(db, self.connection, *pacing, now=now)
            if transition.state is OpState.DONE:
                ours = changed_rows(
                    db.execute(
                        update(OutboxOp)
                        .where(
                            OutboxOp.id == claimed.id,
                            OutboxOp.state.in_([OpState.CLAIMED, OpState.PENDING, OpState.RETRY]),
                        )
                        .values(
                            state=OpState.DONE.value,
                            attempts=transition.attempts,
                            claimed_by=None,
                            claimed_until=None,
                            last_error=None,
                            result=dict(transition.result or {}),
                            updated_at=now,
                        )
                    )
                )
                if ours:
                    journal.record(db, self.connection, claimed.run_id, claimed.op, now=now)
                    confirm(db, self.connection, claimed.op, outcome, now=now)
            else:
                ours = changed_rows(
                    db.execute(
                        update(OutboxOp)
                        .where(
                            OutboxOp.id == claimed.id,
                            OutboxOp.state == OpState.CLAIMED.value,
                            OutboxOp.claimed_by == worker_id,
                        )
                        .values(
                            state=transition.state.value,
                            attempts=transition.attempts,
                            next_attempt_at=transition.next_attempt_at or now,
                            claimed_by=None,
                            claimed_until=None,
                            last_error=transition.error,
                            updated_at=now,
                        )
                    )
                )
                if ours and transition.state is OpState.DEAD:
                    self._free_members(db, [claimed.key], now)
                    self._block_dependents(db, claimed.key, now)
            if extend and lease is not None:
                for chunk in in_chunks(list(extend)):
                    db.execute(
                        update(OutboxOp)
                        .where(
                            OutboxOp.id.in_(chunk),
                            OutboxOp.state == OpState.CLAIMED.value,
                            OutboxOp.claimed_by == worker_id,
                        )
                        .values(claimed_until=now + lease)
                    )
        return bool(ours)

    def fail(self, claimed: ClaimedOp, error: str, *, worker_id: str, now: datetime) -> None:
        """Dead-letter an op whose confirmed outcome the mirror could not take (a state bug)."""
        with self.sessions.begin() as db:
            ours = changed_rows(
                db.execute(
                    update(OutboxOp)
                    .where(OutboxOp.id == claimed.id, OutboxOp.state == OpState.CLAIMED.value)
                    .values(
                        state=OpState.DEAD.value,
                        claimed_by=None,
                        claimed_until=None,
                        last_error=error,
                        updated_at=now,
                    )
                )
            )
            if ours:
                self._free_members(db, [claimed.key], now)
                self._block_dependents(db, claimed.key, now)

    # ------------------------------------------------------------------- inspection

    def next_due(self, *, now: datetime) -> datetime | None:
        """When the next op may become claimable: a waiting retry or another's claim."""
        with self.sessions() as db:
            retry = db.scalar(
                select(func.min(OutboxOp.next_attempt_at)).where(
                    OutboxOp.connection == self.connection,
                    OutboxOp.state.in_([OpState.RETRY, OpState.PENDING]),
                    OutboxOp.next_attempt_at > now,
                )
            )
            claim = db.scalar(
                select(func.min(OutboxOp.claimed_until)).where(
                    OutboxOp.connection == self.connection,
                    OutboxOp.state == OpState.CLAIMED.value,
                )
            )
        times = [t for t in (retry, claim) if t is not None]
        return min(times) if times else None

    def counts(self, *, run_id: int | None = None) -> QueueCounts:
        """Ops per state, of one run or of the whole connection."""
        statement = (
            select(OutboxOp.state, func.count())
            .where(OutboxOp.connection == self.connection)
            .group_by(OutboxOp.state)
        )
        if run_id is not None:
            statement = statement.where(OutboxOp.run_id == run_id)
        with self.sessions() as db:
            return QueueCounts({state: int(n) for state, n in db.execute(statement).all()})

    def calls(self, run_id: int) -> int:
        """Vendor calls recorded on the done ops of a run (the plan-vs-actual check)."""
        with self.sessions() as db:
            results = db.scalars(
                select(OutboxOp.result).where(
                    OutboxOp.run_id == run_id, OutboxOp.state == OpState.DONE.value
                )
            ).all()
        return sum(int((r or {}).get("calls", 0)) for r in results)

    def rows(
        self,
        *,
        states: Sequence[str] = (),
        ids: Sequence[int] = (),
        keys: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[OutboxRow]:
        """Outbox rows for display, filtered by state and/or id or key, oldest first."""
        statement = select(
            OutboxOp.id,
            OutboxOp.run_id,
            OutboxOp.connection,
            OutboxOp.idempotency_key,
            OutboxOp.kind,
            OutboxOp.state,
            OutboxOp.attempts,
            OutboxOp.next_attempt_at,
            OutboxOp.claimed_by,
            OutboxOp.last_error,
            OutboxOp.updated_at,
        ).where(OutboxOp.connection == self.connection)
        statement = self._selected(statement, states, ids, keys).order_by(OutboxOp.id)
        if limit is not None:
            statement = statement.limit(limit)
        with self.sessions() as db:
            return [OutboxRow(*row) for row in db.execute(statement).all()]

    @staticmethod
    def _selected(
        statement: Any, states: Sequence[str], ids: Sequence[int], keys: Sequence[str]
    ) -> Any:
        if states:
            statement = statement.where(OutboxOp.state.in_([OpState(s).value for s in states]))
        if ids or keys:
            statement = statement.where(
                or_(OutboxOp.id.in_(list(ids)), OutboxOp.idempotency_key.in_(list(keys)))
            )
        return statement

    # ------------------------------------------------------------------- operator actions

    def requeue(
        self,
        *,
        states: Sequence[str] = (),
        ids: Sequence[int] = (),
        keys: Sequence[str] = (),
        now: datetime,
    ) -> int:
        """Put dead, blocked or waiting ops back to pending now, with a fresh attempt count.

        Their dependents blocked on them are released by the same transaction.
        """
        allowed = [OpState.DEAD, OpState.BLOCKED, OpState.RETRY]
        wanted = [s for s in (states or allowed) if OpState(s) in allowed]
        with self.sessions.begin() as db:
            statement = self._selected(
                update(OutboxOp).where(OutboxOp.connection == self.connection), wanted, ids, keys
            )
            changed = changed_rows(
                db.execute(
                    statement.values(
                        state=OpState.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        last_error=None,
                        updated_at=now,
                    )
                )
            )
            self.reblock(db, now=now)
        return changed

    def drop(
        self,
        *,
        states: Sequence[str] = (),
        ids: Sequence[int] = (),
        keys: Sequence[str] = (),
        now: datetime,
    ) -> tuple[int, int]:
        """Delete ops (never claimed or done ones) and the blocked ops waiting only on them.

        Returns (dropped, of which dependents). A dropped op's dependents can never run, so
        leaving them would keep the run unfinished forever.
        """
        allowed = [OpState.DEAD, OpState.BLOCKED, OpState.RETRY, OpState.PENDING]
        wanted = [s for s in (states or allowed) if OpState(s) in allowed]
        with self.sessions.begin() as db:
            chosen = db.execute(
                self._selected(
                    select(OutboxOp.id, OutboxOp.idempotency_key).where(
                        OutboxOp.connection == self.connection
                    ),
                    wanted,
                    ids,
                    keys,
                )
            ).all()
            if not chosen:
                return 0, 0
            open_rows = db.execute(
                select(OutboxOp.id, OutboxOp.idempotency_key, OutboxOp.state).where(
                    OutboxOp.connection == self.connection,
                    OutboxOp.state.in_([OpState.PENDING, OpState.RETRY, OpState.BLOCKED]),
                )
            ).all()
            deps = self._deps_of(db, [OpState.PENDING, OpState.RETRY, OpState.BLOCKED])
            downstream = dependents(deps, [key for _, key in chosen])
            picked = {row_id for row_id, _ in chosen}
            extra = [
                row_id
                for row_id, key, _state in open_rows
                if key in downstream and row_id not in picked
            ]
            victims = [row_id for row_id, _ in chosen] + extra
            for chunk in in_chunks(victims):
                db.execute(delete(OutboxDep).where(OutboxDep.op_id.in_(chunk)))
                db.execute(delete(OutboxOp).where(OutboxOp.id.in_(chunk)))
            self.reblock(db, now=now)
        return len(victims), len(extra)


# --------------------------------------------------------------------------- the mirror


def confirm(db: Session, connection: str, op: Op, outcome: Confirmation, *, now: datetime) -> None:
    """Write what a done op confirmed to the mirror, inside the caller's transaction.

    What the op changes is :func:`syncd.plan.effects.effects` (the definition ``apply``
    shares); this only turns each change into statements. Every change is idempotent, so
    the same confirmation recorded twice (by two workers) changes nothing.
    """
    for change in effects(op, remote_id=outcome.remote_id, detail=outcome.detail):
        _write(db, connection, change, now=now)
    versions.bump(db, connection)


def _write(db: Session, connection: str, change: Change, *, now: datetime) -> None:
    """One mirror change as SQL (``syncd.state.mirror``'s idempotent writers)."""
    match change:
        case PutUser():
            mirror.upsert_user(
                db,
                connection,
                change.external_id,
                match_value=change.match_value,
                attrs=dict(change.attrs),
                active=change.active,
                remote_id=change.remote_id,
                now=now,
            )
        case MergeUser():
            mirror.update_user(
                db,
                connection,
                change.external_id,
                attrs=dict(change.attrs),
                match_value=change.match_value,
                now=now,
            )
        case SetActive():
            mirror.set_active(db, connection, change.external_id, change.active, now=now)
        case ForgetUser():
            mirror.delete_user(db, connection, change.external_id)
        case MoveUser():
            _move_user(db, connection, change, now=now)
        case PutGroup():
            mirror.upsert_group(
                db,
                connection,
                change.group_key,
                name=change.name,
                parent_key=change.parent_key or None,
                remote_id=change.remote_id,
                now=now,
            )
        case AddMemberships():
            mirror.add_memberships(db, connection, change.group_key, change.external_ids)
        case RemoveMembership():
            mirror.remove_membership(db, connection, change.group_key, change.external_id)
        case AddAssignments():
            mirror.add_assignments(db, connection, change.external_id, change.kind, change.item_ids)
        case RemoveAssignment():
            mirror.remove_assignment(
                db, connection, change.external_id, change.kind, change.item_id
            )


def _move_user(db: Session, connection: str, change: MoveUser, *, now: datetime) -> None:
    """A rekeyed user's row, memberships and assignments, from the previous key to the new
    one (``syncd.plan.effects.MoveUser``): read, forget under the old key, write under the
    new. Nothing when the old key is gone (a repeat of a confirmation already written)."""
    old, new = change.previous_id, change.external_id
    if old == new:
        return
    row = db.execute(
        select(
            MirrorUser.remote_id, MirrorUser.match_value, MirrorUser.active, MirrorUser.attrs
        ).where(MirrorUser.connection == connection, MirrorUser.external_id == old)
    ).one_or_none()
    if row is None:
        return
    groups = db.scalars(
        select(MirrorMembership.group_key).where(
            MirrorMembership.connection == connection, MirrorMembership.external_id == old
        )
    ).all()
    items = db.execute(
        select(MirrorAssignment.kind, MirrorAssignment.item_id).where(
            MirrorAssignment.connection == connection, MirrorAssignment.external_id == old
        )
    ).all()
    mirror.delete_user(db, connection, old)
    db.execute(
        delete(MirrorUser).where(MirrorUser.connection == connection, MirrorUser.external_id == new)
    )
    mirror.upsert_user(
        db,
        connection,
        new,
        match_value=row.match_value if change.match_value is None else change.match_value,
        attrs=dict(row.attrs or {}),
        active=bool(row.active),
        remote_id=change.remote_id if change.remote_id is not None else row.remote_id,
        now=now,
    )
    for group in groups:
        mirror.add_memberships(db, connection, group, (new,))
    for kind in sorted({k for k, _ in items}):
        mirror.add_assignments(db, connection, new, kind, [i for k, i in items if k == kind])
