"""`syncd explain PERSON` without the printing: what syncd knows and intends for one person.

Per connection: the person's row in the export as read (or why it was rejected), the
desired state the connection's rules give them (with the rules that gave each course),
the mirror (what syncd last confirmed in the LMS), the ops a plan made now would send for
them, their ops still in the outbox with a queue position and an estimated time until they
reach the vendor, and their last results.

Read-only: the export is read as `syncd plan` reads it, the desired state and the plan
come from the one planning path (:mod:`syncd.pipeline.plan`: ``desire_for``,
``load_mirror``, ``complete_mirror``, ``plan_loaded``), and the state database is read in
one read transaction (:func:`~syncd.state.db.read_session`); a database that does not
exist is not created. No vendor is called, no credential is read into the report.

Keys are compared exactly, as everywhere in syncd; keys that differ only in case are
offered as a hint (:attr:`Explanation.near`), never taken for the person.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from syncd.config import Config, ConnectionConfig
from syncd.errors import ConfigError, SourceFileError, StateError
from syncd.pipeline.plan import LoadedMirror, complete_mirror, desire_for, load_mirror, own_executor
from syncd.pipeline.plan import plan_loaded as plan_one
from syncd.state import person as state_person
from syncd.state.db import (
    Session,
    create_engine_for,
    masked,
    normalise_url,
    read_session,
    recorded_revision,
    shipped_head,
    sqlite_path,
)

if TYPE_CHECKING:
    from syncd.hris import Roster
    from syncd.plan import Plan
    from syncd.plan.desired import Desired

DESCRIBED = 200
"""Characters of an op's description shown (a team's AddMembers names every member)."""


class RateLike(Protocol):
    @property
    def requests(self) -> int: ...

    @property
    def per_seconds(self) -> float: ...


def estimate_seconds(calls_ahead: int, rate: RateLike, *, not_before: float = 0.0) -> float:
    """Least seconds until an op's first call reaches the vendor, with ``calls_ahead``
    vendor calls queued before it, under ``rate`` (at most ``requests`` calls in any
    rolling ``per_seconds``).

    Assumes what :meth:`syncd.plan.Plan.duration_seconds` assumes: the account's window
    is empty now (a burst of ``requests`` goes at once, then one window per further
    ``requests``), every call ahead succeeds the first time, vendor latency is not counted.
    ``not_before``: seconds until the op itself is due (a retry's backoff).
    """
    if calls_ahead < 0:
        raise ValueError("calls_ahead must not be negative")
    windows = calls_ahead // rate.requests
    return max(float(not_before), float(windows) * rate.per_seconds)


ESTIMATE_ASSUMPTIONS = (
    "once a worker drains the connection (the service, or the next `syncd reconcile`); "
    "the ops ahead in the claim order, each costing its vendor calls, at the connection's "
    "rate with its window empty now; no retries or vendor refusals, no latency; another "
    "connection on the same credential shares the rate"
)


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int
    column: str
    reason: str
    message: str


@dataclass(frozen=True)
class HrisRow:
    """The person's record in the export as mapped (canonical fields), or its rejections."""

    source: str
    path: str
    line: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    active: bool | None = None
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class Given:
    """A course or learning path the rules give, and the rules that give it."""

    kind: str
    item_id: str
    rules: list[str]


@dataclass(frozen=True)
class DesiredPerson:
    active: bool
    due: bool
    match_value: str
    attrs: dict[str, str]
    groups: list[tuple[str, str]]  # (group key, name)
    items: list[Given]


@dataclass(frozen=True)
class PlannedOp:
    kind: str
    key: str
    what: str


@dataclass(frozen=True)
class PendingOp:
    """One of the person's outbox ops not yet done, and when it may reach the vendor."""

    id: int
    key: str
    kind: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    position: int | None
    """Ops the worker sends before this one; None when it will not run as it stands."""
    calls_ahead: int | None
    eta_seconds: float | None
    note: str


@dataclass
class ConnectionExplain:
    name: str
    vendor: str
    source: str
    rate: dict[str, float]
    hris: HrisRow | None = None
    export_error: str | None = None
    desired: DesiredPerson | None = None
    mirror: state_person.MirrorPerson | None = None
    plan: list[PlannedOp] = field(default_factory=list)
    plan_notes: list[str] = field(default_factory=list)
    pending: list[PendingOp] = field(default_factory=list)
    results: list[state_person.ResultRow] = field(default_factory=list)
    near: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Whether anything here is about the person."""
        hris = self.hris is not None and (self.hris.line is not None or self.hris.rejected)
        return bool(hris or self.mirror or self.pending or self.results or self.plan)


@dataclass
class Explanation:
    person: str
    today: date
    now: datetime
    connections: list[ConnectionExplain]
    state_database: bool
    estimate_assumptions: str = ESTIMATE_ASSUMPTIONS

    @property
    def known(self) -> bool:
        return any(c.known for c in self.connections)

    @property
    def near(self) -> list[str]:
        """Keys that differ from the person's only in case, across connections."""
        return list(dict.fromkeys(k for c in self.connections for k in c.near))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["known"] = self.known
        data["near"] = self.near
        plain: dict[str, Any] = _plain(data)
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------- the export


def _hris_row(source_name: str, roster: Roster, person: str) -> HrisRow:
    people = roster.people
    path = str(roster.source.path)
    found = people.index[people["external_id"] == person]
    rejected = roster.rejected
    keys = rejected["key"].fillna("").astype("str") if "key" in rejected.columns else None
    rejections = [
        Rejection(
            file=str(row["file"]),
            line=int(row["line"]),
            column=str(row["column"] or ""),
            reason=str(row["reason"]),
            message=str(row["message"] or ""),
        )
        for _, row in (
            rejected[keys == person] if keys is not None else rejected.iloc[:0]
        ).iterrows()
    ]
    if not len(found):
        return HrisRow(source_name, path, rejected=rejections)
    row = people.loc[found[0]]
    fields = {
        str(name): str(value)
        for name, value in row.items()
        if name not in ("line", "active") and value is not None
    }
    return HrisRow(
        source_name,
        path,
        line=int(row["line"]),
        fields=fields,
        active=bool(row["active"]),
        rejected=rejections,
    )


def _near_in_roster(roster: Roster, person: str) -> list[str]:
    folded = person.casefold()
    keys = roster.people["external_id"].astype("str")
    return [k for k in keys[keys.str.casefold() == folded].tolist() if k != person][
        : state_person.NEAR_SHOWN
    ]


def _desired_person(desired: Desired, person: str) -> DesiredPerson | None:
    people = desired.people
    hits = (people["external_id"] == person).to_numpy().nonzero()[0]
    if not len(hits):
        return None
    at = int(hits[0])
    attrs = {name: str(values[at].as_py() or "") for name, values in desired.attrs.items()}
    names = dict(zip(desired.groups["key"].tolist(), desired.groups["name"].tolist(), strict=True))
    members = desired.memberships
    groups = sorted({str(members.labels[c]) for c in members.codes[members.rows == at].tolist()})
    items: dict[tuple[str, str], list[str]] = {}
    rules = desired.rules
    if rules is not None:
        mine = (rules.pairs.rows == at).nonzero()[0]
        for index in mine.tolist():
            label: Any = rules.pairs.labels[int(rules.pairs.codes[index])]
            given = items.setdefault((str(label[0]), str(label[1])), [])
            name = rules.names[int(rules.rules[index])]
            if name not in given:
                given.append(name)
    return DesiredPerson(
        active=bool(people["active"].iloc[at]),
        due=bool(people["due"].iloc[at]),
        match_value=str(people["match_value"].iloc[at]),
        attrs=attrs,
        groups=[(key, names.get(key, "")) for key in groups],
        items=[Given(kind, item, by) for (kind, item), by in sorted(items.items())],
    )


# --------------------------------------------------------------------------- the plan


def _plan_for(plan: Plan, desired: Desired, person: str) -> tuple[list[PlannedOp], list[str]]:
    from syncd.plan.summary import describe

    ops = [
        PlannedOp(op.kind, op.key, _short(describe(op)))
        for op in plan.ops
        if state_person.concerns(op, person)
    ]
    notes = []
    if person in desired.held:
        notes.append("the person's row is rejected: the plan leaves their account as it is")
    skipped = plan.skipped
    for reason in skipped.loc[skipped["external_id"] == person, "reason"].tolist():
        notes.append(f"skipped: {reason}")
    for key, reason in getattr(plan, "pending", ()):
        if key == person:
            notes.append(f"pending deactivation: {reason}")
    if plan.refusal is not None and ops:
        notes.append(
            f"the plan is refused by {plan.refusal.limit} ({plan.refusal.message}): "
            "nothing would be enqueued"
        )
    return ops, notes


def _short(text: str) -> str:
    return text if len(text) <= DESCRIBED else text[: DESCRIBED - 1] + "…"


# --------------------------------------------------------------------------- the queue


def _pending(
    db: Session,
    name: str,
    person: str,
    calls_for: Mapping[str, int],
    rate: RateLike,
    now: datetime,
) -> list[PendingOp]:
    found = []
    for row in state_person.queued_ops(db, name, person):
        position: int | None = None
        calls: int | None = None
        eta: float | None = None
        if row.state == "dead":
            note = "dead: not sent again until `syncd queue retry`"
        elif row.state == "blocked":
            note = "blocked: waits on a dead op; runs once that op is retried and done"
        elif row.state == "held":
            note = f"held for approval ({row.held}); `syncd held approve {row.id}` sends it"
        elif row.state == "rejected":
            note = f"rejected ({row.held}): not sent while plans ask for it"
        elif row.state == "claimed":
            position, calls, eta = 0, 0, 0.0
            note = "being sent now (claimed by a worker)"
        else:
            ahead = state_person.ahead_of(db, name, row, now=now)
            position = sum(ahead.values())
            calls = sum(n * calls_for.get(kind, 1) for kind, n in ahead.items())
            due_in = max(0.0, (row.next_attempt_at - now).total_seconds())
            eta = estimate_seconds(calls, rate, not_before=due_in)
            note = f"{position} op(s) ahead ({calls} vendor call(s))"
            if due_in > 0:
                note += f"; not retried before {row.next_attempt_at.isoformat(timespec='seconds')}"
        found.append(
            PendingOp(
                row.id,
                row.key,
                row.kind,
                row.state,
                row.attempts,
                row.next_attempt_at,
                row.last_error,
                position,
                calls,
                eta,
                note,
            )
        )
    return found


# --------------------------------------------------------------------------- the stage


def _no_database(url: str) -> bool:
    """A SQLite state file that does not exist: nothing is known yet (and it stays so)."""
    if not url.startswith("sqlite"):
        return False
    path = sqlite_path(normalise_url(url))
    return path != ":memory:" and not Path(path).exists()


@contextmanager
def _state(config: Config) -> Iterator[Session | None]:
    """One read transaction on the state database, or None when syncd never wrote one."""
    url = config.state.url
    if _no_database(url):
        yield None
        return
    engine = create_engine_for(url)
    try:
        revision = recorded_revision(engine)
        if revision is None:
            yield None
            return
        head = shipped_head()
        if revision != head:
            raise StateError(
                f"database at {masked(engine)} is at revision {revision}, this syncd needs "
                f"{head}: run `syncd db upgrade` (or upgrade syncd, if the database is newer)"
            )
        with read_session(engine) as db:
            yield db
    finally:
        engine.dispose()


def _rosters(
    config: Config, connections: Mapping[str, ConnectionConfig], today: date
) -> dict[str, Roster | str]:
    """Each source's roster, read once, or the one-line reason it could not be read."""
    from syncd.hris import read_roster

    read: dict[str, Roster | str] = {}
    for source_name in dict.fromkeys(conn.source for conn in connections.values()):
        try:
            read[source_name] = read_roster(
                config.source_path(source_name), config.sources[source_name], today=today
            )
        except SourceFileError as exc:
            read[source_name] = str(exc)
    return read


def explain(
    config: Config,
    person: str,
    connection: str | None = None,
    *,
    today: date,
    now: datetime | None = None,
    executor: Executor | None = None,
) -> Explanation:
    """What syncd knows and intends for ``person`` on each connection (or the one named)."""
    from syncd.plan import Mirror
    from syncd.vendors import connector_class

    connections = config.connection(connection)
    if not connections:
        raise ConfigError(f"{config.path}: no [connections.*] configured")
    now = now or datetime.now(UTC)
    rosters = _rosters(config, connections, today)
    found: list[ConnectionExplain] = []
    with own_executor(executor) as pool, _state(config) as db:
        for name, conn in connections.items():
            vendor = connector_class(conn.vendor)
            profile = vendor.profile_for(conn)
            rate = conn.rate or vendor.rate
            item = ConnectionExplain(
                name,
                conn.vendor,
                conn.source,
                {"requests": rate.requests, "per_seconds": rate.per_seconds},
            )
            roster = rosters[conn.source]
            desired: Desired | None = None
            sha256 = ""
            if isinstance(roster, str):
                item.export_error = roster
            else:
                sha256 = roster.source.sha256
                item.hris = _hris_row(conn.source, roster, person)
                item.near += _near_in_roster(roster, person)
                desired = desire_for(config, name, conn, roster, today=today, pool=pool)
                item.desired = _desired_person(desired, person)
            if db is not None:
                item.mirror = state_person.mirror_person(db, name, person)
                item.near += state_person.near_keys(db, name, person)
                item.pending = _pending(db, name, person, profile.calls, rate, now)
                item.results = state_person.results_of(db, name, person)
            if desired is not None:
                if db is not None:
                    loaded = complete_mirror(
                        db, name, load_mirror(db, name, conn.source), desired, pool
                    )
                else:
                    loaded = LoadedMirror(Mirror.empty(), None)
                plan = plan_one(
                    name,
                    conn,
                    loaded,
                    desired,
                    today=today,
                    allow_mass_change=False,
                    pool=pool,
                    export=sha256,
                    now=now,
                )
                item.plan, item.plan_notes = _plan_for(plan, desired, person)
            item.near = list(dict.fromkeys(item.near))
            found.append(item)
    return Explanation(person, today, now, found, state_database=db is not None)
