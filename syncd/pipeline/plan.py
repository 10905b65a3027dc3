"""`syncd plan` without the printing: read each export and the state database, plan each
connection, change nothing.

Reads the export, loads the mirror from the state database read-only (a database that does
not exist yet is an empty mirror; it is not created, migrated or written), builds the plan
with its safeguards. Exit codes (``syncd.errors.ExitCode``): 0 in sync, 2 changes pending,
3 refused by a safeguard, 6 nothing to send but people skipped, 1 error (with several
connections: the most serious of them).

Whole-process time is the measure (benchmarks/plan.py), so the work overlaps where it
can, on one executor:

- the state database is read in a second thread, without the users' fields, of which only
  the few the diff compares are fetched afterwards (see :class:`_State`); that thread also
  indexes each mirror (:func:`~syncd.plan.diff.index_mirror`);
- that thread starts before pandas, Arrow and the plan are imported: this module imports
  SQLAlchemy only, and imports the rest inside :func:`plan_connections` once the queries
  run;
- the desired state's row hashes are computed there while the rules are evaluated;
- once the desired states are known, the memberships and assignments are compared there
  (:func:`~syncd.plan.diff.compare_sets`) while the fields are fetched and the users
  diffed;
- alembic is never imported.

Everything computed ahead is handed to the plan as a value, which refuses it when it was
made from other inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.config import SANDBOX_URL, Config, ConnectionConfig
from syncd.errors import ConfigError, ExitCode, StateError
from syncd.state import absence as absences
from syncd.state import mirror_query, versions
from syncd.state.absence import AbsenceRow
from syncd.state.db import (
    Engine,
    Session,
    create_engine_for,
    masked,
    normalise_url,
    read_session,
    recorded_revision,
    shipped_head,
    sqlite_path,
)
from syncd.state.runs import SourceRecord, as_utc, last_accepted, previous_rows

if TYPE_CHECKING:
    from syncd.config import DeprovisionConfig
    from syncd.hris import Roster, SourceInfo
    from syncd.plan import Listing, Mirror, Plan
    from syncd.plan.desired import Desired
    from syncd.plan.diff import ComparedSets, MirrorIndex
    from syncd.plan.hold import Hold
    from syncd.plan.integrity import ExportFacts
    from syncd.plan.learning import Completions
    from syncd.plan.users import Pairing


@dataclass(frozen=True)
class Source:
    """The export a plan was made from, as the output reports it."""

    path: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    warnings: dict[str, int] = field(default_factory=dict)  # rows kept with a warning, by reason
    file_warnings: tuple[str, ...] = ()  # the file as a whole (e.g. it mixes encodings)
    sha256: str = ""  # the export's checksum: the same file read again is one export


@dataclass(frozen=True)
class Planned:
    """One connection's plan with what it was made from."""

    name: str
    plan: Plan
    source: Source
    rate: Any
    record: SourceRecord | None = None
    """The export as a run records it, with the integrity gate's facts (a saved plan)."""
    mirror_version: int = 0
    """The mirror's version the plan was computed against (``syncd.state.versions``)."""


@dataclass(frozen=True)
class LoadedMirror:
    """One connection's mirror as read, with what was worked out from it ahead."""

    mirror: Mirror
    previous: int | None
    index: MirrorIndex | None = None
    pairing: Pairing | None = None
    compared: Future[ComparedSets] | None = None
    absent: Mapping[str, AbsenceRow] = field(default_factory=dict)
    """Who was missing from the last accepted exports (``syncd.state.absence``)."""
    kept: Mapping[str, Hold] = field(default_factory=dict)
    """The outbox's held and rejected ops (``syncd.state.holds.kept``): held again."""
    completions: Completions | None = None
    """What the results say was finished (:func:`load_completions`; None: unknown)."""


def _sqlite_file_missing(url: str) -> bool:
    """A SQLite state file that does not exist yet: plan against an empty mirror."""
    if not url.startswith("sqlite"):
        return False
    path = sqlite_path(normalise_url(url))
    return path != ":memory:" and not Path(path).exists()


def _indexed(
    tables: dict[str, mirror_query.Fetched],
    previous: int | None,
    absent: Mapping[str, AbsenceRow] | None = None,
) -> LoadedMirror:
    """The mirror made from its fetched tables, indexed for the diff."""
    from syncd.plan import Mirror
    from syncd.plan.diff import index_mirror
    from syncd.state.mirror import mirror_frames

    mirror = Mirror(**mirror_frames(tables))
    return LoadedMirror(mirror, previous, index_mirror(mirror), absent=absent or {})


def load_mirror(session: Session, name: str, source: str, *, fresh: bool = False) -> LoadedMirror:
    """One connection's mirror without the users' ``attrs``, indexed, with the rows of the
    source's last accepted export (the source-shrink guard). ``fresh``: the LMS starts
    empty (a lost sandbox account), so the mirror is empty whatever the database holds.

    Call :func:`complete_mirror` in the same read transaction before planning.
    """
    previous = previous_rows(session, source)
    if fresh:
        from syncd.plan import Mirror

        return LoadedMirror(Mirror.empty(), previous)
    tables = mirror_query.fetch_all(session, name, attrs=False)
    return _indexed(tables, previous, absences.load(session, name))


def load_completions(session: Session, name: str, policy: DeprovisionConfig) -> Completions:
    """The items the connection's pulled results say were finished, never unassigned
    (``syncd.plan.learning``); not read when no setting of ``policy`` unassigns anything
    (the default), unknown before the first results pull."""
    from syncd.plan.learning import Completions
    from syncd.state.results import completed_items

    unassigns = policy.unassign_courses or "unassign_incomplete" in (
        policy.leaver_courses,
        policy.mover_courses,
    )
    if not (unassigns or policy.mover_courses == "reassign"):
        return Completions.unknown()
    pulled, items = completed_items(session, name)
    return Completions.of(items) if pulled else Completions.unknown()


def complete_mirror(
    session: Session,
    name: str,
    loaded: LoadedMirror,
    desired: Desired,
    pool: Executor,
    policy: DeprovisionConfig | None = None,
) -> LoadedMirror:
    """Fetch the fields the diff will compare (in the read transaction that loaded the
    mirror), the outbox's holds and, given the connection's deprovision ``policy``, the
    completions it needs; meanwhile ``pool`` compares the memberships and assignments (no
    fields)."""
    from syncd.plan.diff import compare_sets
    from syncd.plan.users import attrs_needed, pair
    from syncd.state import holds
    from syncd.state.mirror import with_user_attrs

    mirror, index = loaded.mirror, loaded.index
    if index is None:
        return loaded
    pairing = pair(desired, mirror.users)
    rows = attrs_needed(desired, mirror.users, None, pairing)
    known = pairing.user_rows(len(mirror.users))
    compared = pool.submit(compare_sets, desired, mirror, index, known)
    mirror = with_user_attrs(session, name, mirror, rows)
    kept = holds.kept(session, name, now=datetime.now(UTC))
    done = load_completions(session, name, policy) if policy is not None else None
    return replace(
        loaded, mirror=mirror, pairing=pairing, compared=compared, kept=kept, completions=done
    )


def plan_loaded(
    name: str,
    conn: ConnectionConfig,
    loaded: LoadedMirror,
    desired: Desired,
    *,
    today: date,
    allow_mass_change: bool,
    pool: Executor,
    listing: Listing | None = None,
    export: str = "",
    now: datetime | None = None,
) -> Plan:
    """One connection's plan from its completed mirror and desired state: the diff and the
    safeguards. ``listing``: the LMS's own listing (``reconcile --full``), the mirror
    already corrected to it. ``export`` (the export's checksum) and ``now`` date this
    export's absences (``syncd.plan.absence``)."""
    from syncd.plan import build_plan
    from syncd.plan.absence import Absence, AbsenceHistory
    from syncd.plan.learning import Completions
    from syncd.vendors import connector_class

    return build_plan(
        None,
        conn,
        connector_class(conn.vendor).profile_for(conn),
        loaded.mirror,
        today=today,
        name=name,
        previous_rows=loaded.previous,
        listing=listing,
        allow_mass_change=allow_mass_change,
        desired=desired,
        index=loaded.index,
        pairing=loaded.pairing,
        compared=loaded.compared,
        executor=pool,
        absence=AbsenceHistory(
            {key: Absence(*row) for key, row in loaded.absent.items()},
            export,
            now or datetime.now(UTC),
        ),
        kept=loaded.kept,
        completions=loaded.completions or Completions.unknown(),
    )


class _State:
    """The state database, read in two steps inside one read transaction.

    :meth:`load` (in the loading thread, while the export is read) takes each connection's
    mirror without the users' ``attrs`` texts, the largest part of it, and the rows of the
    last accepted export; :meth:`complete` (once the desired states are known) fetches the
    ``attrs`` of the few users the diff will compare field by field
    (:func:`~syncd.plan.users.attrs_needed`). The session stays open in between so both
    steps see one snapshot: a read transaction (:func:`~syncd.state.db.read_session`),
    which never holds off a worker writing meanwhile. Read-only: a database syncd never upgraded is
    an empty mirror, one at another schema revision is an error (nothing is migrated). The
    revision is read with plain SQL, so this command never imports alembic.
    """

    def __init__(self, config: Config, connections: dict[str, ConnectionConfig]) -> None:
        self.config = config
        self.connections = connections
        self.engine: Engine | None = None
        self.session: Session | None = None
        self.loaded: dict[str, LoadedMirror] = {}
        self.last: dict[str, ExportFacts] = {}
        """Each connection's last accepted export, for the integrity gate."""
        self.versions: dict[str, int] = {}
        """Each connection's mirror version, read in the mirror's snapshot."""

    def load(self) -> None:
        url = self.config.state.url
        if _sqlite_file_missing(url):
            return
        self.engine = engine = create_engine_for(url)
        revision = recorded_revision(engine)
        if revision is None:
            return
        head = shipped_head()
        if revision != head:
            raise StateError(
                f"database at {masked(engine)} is at revision {revision}, this syncd needs "
                f"{head}: run `syncd db upgrade` (or upgrade syncd, if the database is newer)"
            )
        self.session = session = read_session(engine)
        fetched = {
            name: (
                mirror_query.fetch_all(session, name, attrs=False),
                previous_rows(session, conn.source),
                absences.load(session, name),
            )
            for name, conn in self.connections.items()
        }
        for name, (tables, previous, absent) in fetched.items():
            self.loaded[name] = _indexed(tables, previous, absent)
            self.versions[name] = versions.current(session, name)
        for name, conn in self.connections.items():
            last = last_accepted(session, name, conn.source)
            if last is not None:
                self.last[name] = last[1]

    def complete(self, desired: dict[str, Desired], pool: Executor) -> dict[str, LoadedMirror]:
        """Fetch the fields the diffs will compare; meanwhile ``pool`` compares each
        connection's memberships and assignments (which need no fields)."""
        from syncd.plan import Mirror

        for name in self.connections:
            self.loaded.setdefault(name, LoadedMirror(Mirror.empty(), None))
        if self.session is None:
            return self.loaded
        for name, loaded in self.loaded.items():
            policy = self.connections[name].deprovision
            self.loaded[name] = complete_mirror(
                self.session, name, loaded, desired[name], pool, policy
            )
        return self.loaded

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        if self.engine is not None:
            self.engine.dispose()


def desire_for(
    config: Config,
    name: str,
    conn: ConnectionConfig,
    roster: Roster,
    *,
    today: date,
    pool: Executor,
) -> Desired:
    """One connection's desired state from its source's roster (the hashes on ``pool``)."""
    from syncd.plan import desire
    from syncd.vendors import connector_class

    return desire(
        roster,
        conn,
        connector_class(conn.vendor).profile_for(conn),
        today=today,
        name=name,
        termination_field=config.sources[conn.source].status.termination_date,
        executor=pool,
    )


def _desire_all(
    config: Config,
    connections: dict[str, ConnectionConfig],
    today: date,
    pool: Executor,
    infos: dict[str, SourceInfo] | None = None,
) -> tuple[dict[str, Source], dict[str, Desired]]:
    """Read every export the connections use once; work out each connection's desired state.

    Only what the output reports of each export is kept (and, in ``infos``, the file's
    facts for the integrity gate): the Roster itself (hundreds of megabytes for a million
    people) is freed before the mirror is diffed.
    """
    from syncd.hris import read_roster
    from syncd.hris.ingest import file_warnings

    sources: dict[str, Source] = {}
    desired: dict[str, Desired] = {}
    for source_name in dict.fromkeys(conn.source for conn in connections.values()):
        source = config.sources[source_name]
        roster = read_roster(config.source_path(source_name), source, today=today)
        sources[source_name] = Source(
            str(roster.source.path),
            roster.source.rows_read,
            roster.rows_accepted,
            roster.rows_rejected,
            roster.warning_counts(),
            tuple(file_warnings(roster)),
            str(roster.source.sha256),
        )
        if infos is not None:
            infos[source_name] = roster.source
        for name, conn in connections.items():
            if conn.source == source_name:
                desired[name] = desire_for(config, name, conn, roster, today=today, pool=pool)
        del roster
    return sources, desired


@contextmanager
def own_executor(given: Executor | None) -> Iterator[Executor]:
    """``given``, or two threads of this call's own: the state database's and the work
    that overlaps the main thread's (hashes, set comparisons)."""
    if given is not None:
        yield given
        return
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="syncd-plan") as pool:
        yield pool


def plan_connections(
    config: Config,
    connection: str | None,
    *,
    today: date,
    allow_mass_change: bool = False,
    executor: Executor | None = None,
    accept_file: frozenset[str] = frozenset(),
) -> list[Planned]:
    """Read each export once, load the mirrors, and plan every selected connection.

    Each export passes the integrity gate as reconcile's does (:mod:`syncd.pipeline.gate`;
    ``accept_file`` passes checks by name) except the same file again, which a preview
    plans like any other: a failing check raises ``ExportRefused`` before any plan.

    The state database is read on ``executor`` (two threads of this call's own when None;
    give one at least two workers, else the overlapped parts wait for the loading) while
    the exports are read and the desired states worked out (SQLite, Arrow and numpy do
    their work without holding the GIL). An error in either is raised once the other has
    finished: a thread cannot be abandoned mid-query.
    """
    connections = config.connection(connection)
    if not connections:
        raise ConfigError(f"{config.path}: no [connections.*] configured")
    reader = _State(config, connections)
    with own_executor(executor) as pool:
        try:
            loading = pool.submit(reader.load)
            infos: dict[str, SourceInfo] = {}
            try:
                sources, desired = _desire_all(config, connections, today, pool, infos)
            except BaseException:
                wait([loading])
                raise
            loading.result()
            facts = _gate_all(config, connections, infos, reader.last, today, accept_file)
            lost = _lost_sandbox_accounts(connections, reader.loaded)
            state = reader.complete(desired, pool)
        finally:
            reader.close()
        from syncd.vendors import connector_class

        planned = []
        for name, conn in connections.items():
            vendor = connector_class(conn.vendor)
            plan = plan_loaded(
                name,
                conn,
                state[name],
                desired[name],
                today=today,
                allow_mass_change=allow_mass_change,
                pool=pool,
                export=sources[conn.source].sha256,
            )
            if name in lost:
                plan = replace(plan, warnings=(lost[name], *plan.warnings))
            source, info = sources[conn.source], infos[conn.source]
            record = SourceRecord(
                source=conn.source,
                path=source.path,
                sha256=source.sha256,
                size=int(info.size),
                mtime=as_utc(info.mtime),
                rows_read=source.rows_read,
                rows_accepted=source.rows_accepted,
                rows_rejected=source.rows_rejected,
                facts=facts[name],
            )
            rate = conn.rate or vendor.rate
            version = reader.versions.get(name, 0)
            planned.append(Planned(name, plan, source, rate, record, version))
    return planned


def _gate_all(
    config: Config,
    connections: dict[str, ConnectionConfig],
    infos: dict[str, SourceInfo],
    last: dict[str, ExportFacts],
    today: date,
    accept: frozenset[str],
) -> dict[str, ExportFacts]:
    """Raise the first connection's integrity refusal, if any; else each connection's
    facts of its export (what a run that accepts it records)."""
    from syncd.pipeline.gate import judge, refusal

    found: dict[str, ExportFacts] = {}
    for name, conn in connections.items():
        found[name], verdict = judge(
            config,
            name,
            infos[conn.source],
            last.get(name),
            today=today,
            same_file=False,
            accept=accept,
        )
        if verdict.refused:
            raise refusal(verdict, connection=name, source=conn.source)
    return found


def _lost_sandbox_accounts(
    connections: dict[str, ConnectionConfig], loaded: dict[str, LoadedMirror]
) -> dict[str, str]:
    """Plan a ``sandbox:`` connection whose account file is gone as reconcile will run it.

    Without its file the simulated account starts over from its seed and reconcile forgets
    the mirror, so the mirror of such a connection is planned as empty, with a warning when
    it held users: never "in sync" over an empty account. A file that is not a sandbox
    account file is an error here as it is for reconcile.
    """
    from syncd.plan import Mirror
    from syncd.sandbox.account_file import account_path, missing_warning, read_account

    lost: dict[str, str] = {}
    for name, conn in connections.items():
        if not conn.base_url.startswith(SANDBOX_URL):
            continue
        path = account_path(name)
        if read_account(path, conn.vendor) is not None:
            continue
        found = loaded.get(name)
        if found is not None and len(found.mirror.users):
            lost[name] = missing_warning(path, len(found.mirror.users))
            loaded[name] = LoadedMirror(Mirror.empty(), found.previous)
    return lost


def plan_exit(plan: Plan) -> ExitCode:
    """How a plan ends a command that sends nothing (`syncd plan`, `reconcile --dry-run`).
    A skip is shown whatever the code, but decides it only when nothing else does: pending
    changes, tripped limits (held ops, a truncated export) and refusals need the operator
    first."""
    if plan.refused:
        return ExitCode.REFUSED
    if not plan.empty or plan.tripped:
        return ExitCode.PENDING
    if plan.incomplete:
        return ExitCode.SKIPPED
    return ExitCode.OK


def exit_code(plans: list[Plan]) -> ExitCode:
    """The most serious ending among the connections' plans."""
    return ExitCode.most_serious(plan_exit(p) for p in plans)
