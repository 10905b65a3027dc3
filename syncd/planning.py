"""`syncd plan` without the printing: read each export and the state database, plan each
connection, change nothing.

Reads the export, loads the mirror from the state database read-only (a database that does
not exist yet is an empty mirror; it is not created, migrated or written), builds the plan
with its safeguards. Exit codes (``syncd.errors.ExitCode``): 0 in sync, 2 changes pending,
3 refused by a safeguard, 6 nothing to send but people skipped, 1 error (with several
connections: the most serious of them).

Whole-process time is the measure (benchmarks/plan.py), so the order of work is chosen:

- the state database is read in a second thread, without the users' fields, of which only
  the few the diff compares are fetched afterwards (see :class:`_State`);
- that thread starts before pandas, Arrow and the plan are imported: this module imports
  SQLAlchemy only, and imports the rest inside :func:`plan_connections` once the queries
  run (a third of a second the database spends answering meanwhile);
- once the desired states are known, the same thread compares the memberships and
  assignments (:func:`~syncd.plan.diff.compare_sets_ahead`) while the fields are fetched
  and the users diffed;
- glibc keeps freed memory for reuse (:func:`_reuse_freed_memory`), and Python's cyclic
  garbage collector waits until the plan is made (:func:`_collector_paused`);
- alembic is never imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.config import Config, ConnectionConfig
from syncd.errors import ConfigError, ExitCode, StateError
from syncd.state import mirror_query
from syncd.state.db import (
    Engine,
    Session,
    create_engine_for,
    masked,
    normalise_url,
    recorded_revision,
    session_factory,
    shipped_head,
    sqlite_path,
)
from syncd.state.runs import previous_rows

if TYPE_CHECKING:
    from syncd.plan import Mirror, Plan
    from syncd.plan.desired import Desired

EXIT_IN_SYNC, EXIT_ERROR, EXIT_PENDING, EXIT_REFUSED, EXIT_SKIPPED = (
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.PENDING,
    ExitCode.REFUSED,
    ExitCode.SKIPPED,
)


@dataclass(frozen=True)
class Source:
    """The export a plan was made from, as the output reports it."""

    path: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    warnings: dict[str, int] = field(default_factory=dict)  # rows kept with a warning, by reason
    file_warnings: tuple[str, ...] = ()  # the file as a whole (e.g. it mixes encodings)


@dataclass(frozen=True)
class Planned:
    """One connection's plan with what it was made from."""

    name: str
    plan: Plan
    source: Source
    rate: Any


def _sqlite_file_missing(url: str) -> bool:
    """A SQLite state file that does not exist yet: plan against an empty mirror."""
    if not url.startswith("sqlite"):
        return False
    path = sqlite_path(normalise_url(url))
    return path != ":memory:" and not Path(path).exists()


class _State:
    """The state database, read in two steps inside one read transaction.

    :meth:`load` (in the loading thread, while the export is read) takes each connection's
    mirror without the users' ``attrs`` texts, the largest part of it, and the rows of the
    last accepted export; :meth:`complete` (once the desired states are known) fetches the
    ``attrs`` of the few users the diff will compare field by field
    (:func:`~syncd.plan.users.attrs_needed`). The session stays open in between so both
    steps see one snapshot: SQLite's transaction (syncd begins them explicitly) does that,
    PostgreSQL is asked for REPEATABLE READ. Read-only: a database syncd never upgraded is
    an empty mirror, one at another schema revision is an error (nothing is migrated). The
    revision is read with plain SQL, so this command never imports alembic.
    """

    def __init__(self, config: Config, connections: dict[str, ConnectionConfig]) -> None:
        self.config = config
        self.connections = connections
        self.engine: Engine | None = None
        self.session: Session | None = None
        self.loaded: dict[str, tuple[Mirror, int | None]] = {}

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
        self.session = session = session_factory(engine)()
        if engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        fetched = {
            name: (
                mirror_query.fetch_all(session, name, attrs=False),
                previous_rows(session, conn.source),
            )
            for name, conn in self.connections.items()
        }
        from syncd.plan import Mirror
        from syncd.plan.diff import prepare
        from syncd.state.mirror import mirror_frames

        for name, (tables, previous) in fetched.items():
            mirror = Mirror(**mirror_frames(tables))
            prepare(mirror)
            self.loaded[name] = (mirror, previous)

    def complete(
        self, desired: dict[str, Desired], pool: Executor
    ) -> dict[str, tuple[Mirror, int | None]]:
        """Fetch the fields the diffs will compare; meanwhile ``pool`` compares each
        connection's memberships and assignments (which need no fields)."""
        from syncd.plan import Mirror
        from syncd.plan.diff import compare_sets_ahead
        from syncd.plan.users import attrs_needed
        from syncd.state.mirror import with_user_attrs

        for name in self.connections:
            self.loaded.setdefault(name, (Mirror.empty(), None))
        if self.session is None:
            return self.loaded
        for name, (mirror, previous) in self.loaded.items():
            rows = attrs_needed(desired[name], mirror.users, None)
            compare_sets_ahead(desired[name], mirror, pool)
            self.loaded[name] = (with_user_attrs(self.session, name, mirror, rows), previous)
        return self.loaded

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        if self.engine is not None:
            self.engine.dispose()


def _desire_all(
    config: Config, connections: dict[str, ConnectionConfig], today: date
) -> tuple[dict[str, Source], dict[str, Desired]]:
    """Read every export the connections use once; work out each connection's desired state.

    Only what the output reports of each export is kept: the Roster itself (hundreds of
    megabytes for a million people) is freed before the mirror is diffed.
    """
    from syncd.hris import read_roster
    from syncd.hris.ingest import file_warnings
    from syncd.plan import desire
    from syncd.vendors import connector_class

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
        )
        _give_back_memory()
        for name, conn in connections.items():
            if conn.source == source_name:
                desired[name] = desire(
                    roster,
                    conn,
                    connector_class(conn.vendor).profile,
                    today=today,
                    name=name,
                    termination_field=source.status.termination_date,
                )
        del roster
    return sources, desired


def _give_back_memory() -> None:
    """Hand the memory that reading the export freed back to the system.

    Arrow's pool and glibc's heap keep freed memory for reuse, but what the planning then
    allocates has other sizes: after a million-row read that is some 150 MB the rest of
    the run would otherwise add to its peak.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:  # else nothing to trim so
        libc.malloc_trim(0)


def _reuse_freed_memory() -> None:
    """Have glibc keep freed blocks for the next allocation instead of unmapping them.

    Planning a large company allocates and frees arrays of megabytes over and over. By
    default glibc serves each from fresh pages of the system and hands them back when
    freed, so every new array is page-faulted in again, which costs the kernel more than
    numpy's work on it (at a million people ~240,000 faults a run, 1 to 1.4 s of system
    time on the reference VM). Kept for reuse: about 30 % fewer faults and ~0.1 s less
    wall time, with no higher peak (benchmarks/README.md). For this one-shot command only:
    a long-running process should give memory back.
    """
    libc = _glibc()
    if libc is not None:  # else its own policy stands
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TOP_PAD, 256 << 20)


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (``malloc_trim`` and ``mallopt`` are its own)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
"""glibc's ``mallopt`` parameters (malloc.h)."""


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while planning.

    Planning creates objects by the hundred thousand (decoded fields, ops, lists of keys),
    which keeps triggering collections, and each full one walks every live container,
    the imported modules' included, while next to nothing is cyclic garbage. On the
    command's critical path that was 0.1-0.3 s at a million people (benchmarks/README.md).
    What is loaded so far is frozen out of later passes; cyclic garbage made meanwhile
    (a few megabytes) waits until the plan is made.
    """
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plan_connections(
    config: Config,
    connection: str | None,
    *,
    today: date,
    allow_mass_change: bool = False,
) -> list[Planned]:
    """Read each export once, load the mirrors, and plan every selected connection.

    The state database is read in a second thread while the exports are read and the
    desired states worked out (SQLite, Arrow and numpy do their work without holding the
    GIL), so on a large company loading the mirror costs little extra time. An error in
    either is raised once the other has finished: a thread cannot be abandoned mid-query.
    """
    connections = config.connection(connection)
    if not connections:
        raise ConfigError(f"{config.path}: no [connections.*] configured")
    _reuse_freed_memory()
    reader = _State(config, connections)
    with (
        _collector_paused(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-state") as pool,
    ):
        try:
            loading = pool.submit(reader.load)
            try:
                sources, desired = _desire_all(config, connections, today)
            except BaseException:
                wait([loading])
                raise
            loading.result()
            lost = _lost_sandbox_accounts(connections, reader.loaded)
            state = reader.complete(desired, pool)
        finally:
            reader.close()
        from syncd.plan import build_plan
        from syncd.vendors import connector_class

        planned = []
        for name, conn in connections.items():
            vendor = connector_class(conn.vendor)
            mirror, previous = state[name]
            plan = build_plan(
                None,
                conn,
                vendor.profile,
                mirror,
                today=today,
                name=name,
                previous_rows=previous,
                allow_mass_change=allow_mass_change,
                desired=desired[name],
            )
            if name in lost:
                plan = replace(plan, warnings=(lost[name], *plan.warnings))
            planned.append(Planned(name, plan, sources[conn.source], conn.rate or vendor.rate))
    return planned


def _lost_sandbox_accounts(
    connections: dict[str, ConnectionConfig], loaded: dict[str, tuple[Mirror, int | None]]
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
        if not conn.base_url.startswith("sandbox:"):
            continue
        path = account_path(name)
        if read_account(path, conn.vendor) is not None:
            continue
        mirror, previous = loaded.get(name, (None, None))
        if mirror is not None and len(mirror.users):
            lost[name] = missing_warning(path, len(mirror.users))
            loaded[name] = (Mirror.empty(), previous)
    return lost


def exit_code(plans: list[Plan]) -> int:
    """3 if any plan is refused, else 2 if any has changes, else 6 if any skips people,
    else 0. A skip is shown whatever the code, but decides it only when nothing else does:
    pending changes and refusals need the operator first."""
    if any(p.refused for p in plans):
        return EXIT_REFUSED
    if any(not p.empty for p in plans):
        return EXIT_PENDING
    if any(p.incomplete for p in plans):
        return EXIT_SKIPPED
    return EXIT_IN_SYNC
