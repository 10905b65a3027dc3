"""Opening the state database and keeping its schema current.

One place decides how syncd talks to each database it supports:

- SQLite (the default, a file): WAL journal so readers never block the writer, foreign keys
  on, a 30 s busy timeout, and every writing transaction started with ``BEGIN IMMEDIATE``.
  The last one matters: a deferred transaction that reads and then writes (a claim, a
  lease) fails at once with "database is locked" when another connection wrote in between,
  whatever the busy timeout; taking the write lock up front turns that into a short wait.
  The cost is that transactions must stay short: never hold one open across a vendor call.
- PostgreSQL (production, several replicas): the psycopg 3 driver; ``postgresql://`` and
  ``postgres://`` URLs are normalised to ``postgresql+psycopg://``. Concurrent upgrades
  (replicas starting together) are serialised by a transaction-scoped advisory lock, which
  cannot outlive its transaction whatever the connection pool does.
- Read transactions are chosen explicitly (:func:`session_factory` with ``read_only``,
  :func:`read_session`, :func:`reading`) by code that only reads, such as `syncd plan`
  reading a whole mirror: a deferred ``BEGIN`` on SQLite, a WAL reader that neither holds
  off the writer nor waits for it; ``REPEATABLE READ READ ONLY`` on PostgreSQL. Either way
  the transaction sees one snapshot from its first read on, however long it stays open.

Migrations are the alembic scripts packaged in ``syncd/state/migrations``, run
programmatically (no ``alembic.ini``, no dependence on the working directory), so an
installed wheel upgrades its own database. URLs in messages always have the password
masked.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import (
    URL,
    Connection,
    CursorResult,
    Engine,
    Result,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from syncd.errors import StateError
from syncd.log import redact

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported where migrations are handled, not here: importing it takes a quarter
# of a second, which read-only commands (`syncd plan`) need not pay.

MIGRATIONS = Path(__file__).with_name("migrations")
"""The packaged alembic script folder."""

SUPPORTED = ("sqlite", "postgresql")

_UPGRADE_LOCK = 0x73796E6364  # "syncd": the advisory lock key that serialises upgrades
_SQLITE_BUSY_MS = 30_000


def normalise_url(url: str | URL) -> URL:
    """Parse a state URL and pick syncd's driver for it; refuse databases syncd cannot run on."""
    if isinstance(url, str):
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StateError(f"state.url {redact(url)!r} is not a database URL") from None
    else:
        parsed = url
    if parsed.get_backend_name() in ("postgres", "postgresql") and "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in SUPPORTED:
        raise StateError(
            f"state database {masked(parsed)}: syncd supports SQLite and PostgreSQL, "
            f"not {parsed.get_backend_name()}"
        )
    return parsed


def masked(url: str | URL | Engine) -> str:
    """The URL as it may appear in messages and logs: password replaced by ``***``."""
    if isinstance(url, Engine):
        url = url.url
    if isinstance(url, str):
        written = url
        try:
            url = make_url(written)
        except ArgumentError:
            return redact(written)
    return url.render_as_string(hide_password=True)


def create_engine_for(url: str | URL) -> Engine:
    """An engine for the state database at ``url``, configured as the module docstring says."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        engine = create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "syncd"},
        )
    except (NoSuchModuleError, ImportError) as exc:
        raise StateError(f"state database {masked(parsed)}: driver not installed: {exc}") from None

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # psycopg opens the transaction with the first statement: this one.
        if _reads_only(connection):
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    return engine


_SQLITE_FAILURES: dict[str, str] = {
    "SQLITE_CORRUPT": (
        "is damaged ({reason}): restore it from a backup, or move it aside and run "
        "`syncd reconcile --full` to rebuild it from the LMS"
    ),
    "SQLITE_NOTADB": (
        "is not a SQLite database ({reason}): check state.url, or restore the file from a backup"
    ),
    "SQLITE_READONLY": (
        "cannot be written ({reason}): give the user running syncd write access to the file "
        "and its folder (SQLite keeps -wal and -shm files beside it), and do not open it "
        "with mode=ro"
    ),
    "SQLITE_CANTOPEN": (
        "cannot be opened ({reason}): check that it and its folder exist and that the user "
        "running syncd may read and write both"
    ),
    "SQLITE_FULL": "cannot grow ({reason}): free space on its disk",
    "SQLITE_IOERR": "cannot be read or written ({reason}): check the disk it is on",
}


def sqlite_failure(exc: BaseException, path: str) -> StateError | None:
    """The one line a SQLite file that cannot be used at all deserves; None for any other
    error (a locked database is waited for, bad SQL is a bug: their callers decide).

    Damage, a foreign file, no write permission, a full disk: every command that opens
    the file fails the same way, so the message names the file and what to do about it
    instead of the statement that happened to run first.
    """
    name = getattr(exc, "sqlite_errorname", None) or ""
    for code, advice in _SQLITE_FAILURES.items():
        if name == code or name.startswith(code + "_"):
            reason = (str(exc).strip().splitlines() or [name])[0]
            return StateError(f"state database {path} {advice.format(reason=reason)}")
    return None


def sqlite_path(url: URL) -> str:
    """The file a SQLite URL names, as messages show it (``file:`` URIs without options)."""
    database = url.database or ""
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
        database = "/" + database.lstrip("/") if database.startswith("//") else database
    if not database or database == ":memory:":
        return database or ":memory:"
    return str(Path(database).expanduser().resolve())


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise StateError(
                f"state database {masked(url)}: folder {folder} does not exist; create it "
                "or point state.url elsewhere"
            )
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN" if _reads_only(connection) else "BEGIN IMMEDIATE")

    path = sqlite_path(url)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        explained = sqlite_failure(context.original_exception, path)
        if explained is not None:
            raise explained

    return engine


T = TypeVar("T")

IN_CHUNK = 500
"""Values per ``IN (...)`` list: far below every database's bound-parameter limit."""


def in_chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in slices of :data:`IN_CHUNK`, one ``IN (...)`` list each."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


def changed_rows(result: Result[Any]) -> int:
    """How many rows an INSERT/UPDATE/DELETE changed (``execute`` is typed as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def _use_wal(cursor: Any) -> None:
    """Switch a SQLite file to WAL once; retry while another connection does the same.

    The switch needs an exclusive lock and SQLite reports "database is locked" at once,
    without waiting for the busy timeout, when several processes open a new file together.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_MS / 1000
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


_READ_ONLY = "syncd_read_only"
"""The execution option that marks an engine's transactions as read transactions."""


def _reads_only(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(_READ_ONLY, False))


def reading(engine: Engine) -> Engine:
    """``engine`` (same pool, same settings) whose transactions are read transactions."""
    return engine.execution_options(**{_READ_ONLY: True})


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (callers pass them on as data).

    ``read_only`` is for code that only reads (see the module docstring): its reads then
    never hold off a worker's writes. Writers keep the default, which on SQLite takes the
    write lock when the transaction begins.
    """
    return sessionmaker(bind=reading(engine) if read_only else engine, expire_on_commit=False)


def read_session(engine: Engine) -> Session:
    """One session in a read transaction (a context manager, like any Session)."""
    return session_factory(engine, read_only=True)()


def dialect_insert(
    db: Session | Connection, table: Table | type[DeclarativeBase]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT supporting ``on_conflict_do_nothing/do_update`` for the database in use."""
    name = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StateError(f"syncd supports SQLite and PostgreSQL, not {name}")


# --------------------------------------------------------------------------- migrations


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this syncd's models correspond to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "syncd ships at least one migration"
    return head


def known_revision(revision: str) -> bool:
    """Whether this syncd ships ``revision`` (False: a newer syncd upgraded the database)."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        ScriptDirectory.from_config(_alembic_config()).get_revision(revision)
    except CommandError:
        return False
    return True


@contextmanager
def _reporting(engine: Engine, doing: str) -> Iterator[None]:
    """Turn driver errors into a StateError naming the database (masked) and the action."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StateError(
            f"state database {masked(engine)}: {doing} failed: {redact(reason)}"
        ) from None


def _refuse_foreign(connection: Connection) -> None:
    """Refuse a SQLite file that has tables but no syncd schema revision.

    It belongs to something else (another application's database, a wrong path): planning
    against it would propose creating everyone, upgrading it would write syncd's tables
    into it. A PostgreSQL database may well hold other applications' tables beside
    syncd's, so only SQLite, where a file is a database of its own, is refused.
    """
    if connection.dialect.name != "sqlite":
        return
    tables = sorted(t for t in inspect(connection).get_table_names() if t != "alembic_version")
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StateError(
            f"state database {sqlite_path(connection.engine.url)} is not a syncd state "
            f"database (it has tables {shown} and no syncd schema revision): point "
            "state.url at syncd's own database, or at a new file"
        )


def recorded_revision(engine: Engine) -> str | None:
    """What :func:`current_revision` says, read with plain SQL instead of through alembic.

    For read-only commands that only need to know whether the schema is this syncd's.
    """
    with _reporting(engine, "reading the schema revision"), reading(engine).connect() as connection:
        found = None
        if inspect(connection).has_table("alembic_version"):
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if found is None:
            _refuse_foreign(connection)
            return None
        return str(found)


_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)


def shipped_head() -> str:
    """:func:`head_revision` read from the scripts' ``revision``/``down_revision`` lines.

    Loading the scripts through alembic means importing alembic and every script; this
    reads a few lines of text. A test checks that both agree.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            found = set(re.findall(r"[\"']([^\"']+)[\"']", value))
            (revisions if name == "revision" else parents).update(found)
    heads = revisions - parents
    if len(heads) != 1:
        return head_revision()
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for a database syncd never upgraded."""
    from alembic.runtime.migration import MigrationContext

    with _reporting(engine, "reading the schema revision"), reading(engine).connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        if revision is None:
            _refuse_foreign(connection)
        return revision


def upgrade(target: str | URL | Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``; returns the revision before and after.

    Safe to run from several processes at once: they take turns and the later ones find
    nothing to do.
    """
    from alembic import command

    return _migrate(target, lambda cfg: command.upgrade(cfg, revision))


def downgrade(target: str | URL | Engine, revision: str) -> tuple[str | None, str | None]:
    """Revert migrations down to ``revision`` (``"base"`` empties the database)."""
    from alembic import command

    return _migrate(target, lambda cfg: command.downgrade(cfg, revision))


def _migrate(target: str | URL | Engine, run: Any) -> tuple[str | None, str | None]:
    from alembic.runtime.migration import MigrationContext

    engine = target if isinstance(target, Engine) else create_engine_for(target)
    try:
        with _reporting(engine, "changing the schema"), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK}
                )
            before = MigrationContext.configure(connection).get_current_revision()
            if before is None:
                _refuse_foreign(connection)
            run(_alembic_config(connection))
            after = MigrationContext.configure(connection).get_current_revision()
        return before, after
    finally:
        if engine is not target:
            engine.dispose()


def ensure_schema(engine: Engine, auto_upgrade: bool) -> str:
    """Make sure the schema is this syncd's: upgrade it, or refuse with what to do.

    A database at a revision this syncd does not know was upgraded by a newer syncd; it is
    refused even with ``auto_upgrade`` (downgrading would lose data).
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return head
    if current is not None and not known_revision(current):
        raise StateError(
            f"database at {masked(engine)} is at revision {current}, which this syncd does "
            f"not know (a newer syncd upgraded it); this syncd needs {head}: upgrade syncd"
        )
    if auto_upgrade:
        upgrade(engine)
        return head
    raise StateError(
        f"database at {masked(engine)} is at revision {current or 'none (empty database)'}, "
        f"this syncd needs {head}: run `syncd db upgrade`"
    )


def open_state(url: str, *, auto_upgrade: bool) -> Engine:
    """The engine every command uses: connected, schema checked (or upgraded) first."""
    engine = create_engine_for(url)
    try:
        ensure_schema(engine, auto_upgrade)
    except BaseException:
        engine.dispose()
        raise
    return engine
