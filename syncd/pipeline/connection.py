"""The per-connection context every stage needs: its connector, its lease, its send
history (pacing) and, for a ``sandbox:`` connection, the simulator it runs against.

Kept apart from the stages so that `syncd reconcile`, and later the service, open a
connection one way: a stage asks for what it needs here and never starts a simulator or
takes a lease itself.

A connection whose ``base_url`` is ``sandbox:`` (optionally ``sandbox:SEED.json``, relative
to the configuration file) runs against the vendor's simulator started in this process,
with its demo credentials and the connection's ``rate`` rule: the quick start needs no
account and no secret. When the simulator can (Litmos), its account is kept between runs in
``syncd-sandbox-<connection>.state`` in the working directory (see
:mod:`syncd.sandbox.account_file`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.config import SANDBOX_URL, Config, ConnectionConfig
from syncd.errors import ConfigError
from syncd.log import get_logger
from syncd.queue.worker import LeaseKeeper, WorkerSettings, holder_is_dead, utcnow
from syncd.sandbox.account_file import Keepable, account_path, keep_writes, restore_account
from syncd.state.ownership import ConnectionLease
from syncd.state.pacing import load_history, save_history
from syncd.vendors import connect, connector_class
from syncd.vendors.base import Connector

if TYPE_CHECKING:
    from syncd.sandbox.running import RunningSandbox

log = get_logger("syncd.pipeline.connection")


@contextmanager
def connected(conn: ConnectionConfig) -> Iterator[Connector]:
    """The connection's connector, closed on the way out."""
    connector = connect(conn)
    try:
        yield connector
    finally:
        connector.close()


@contextmanager
def owned(
    sessions: Any, name: str, worker_id: str, settings: WorkerSettings
) -> Iterator[LeaseKeeper]:
    """Hold the connection's lease (two processes never plan or drain one connection at
    once), renewed in the background until the block ends."""
    ttl = timedelta(seconds=settings.connection_lease_seconds)
    lease = ConnectionLease(sessions, name, worker_id, ttl=ttl, clock=utcnow)
    lease.acquire(is_dead=holder_is_dead)
    keeper = LeaseKeeper(lease.renew, every_seconds=ttl.total_seconds() / 3).start()
    try:
        yield keeper
    finally:
        keeper.stop()
        lease.release()


def restore_pacing(sessions: Any, name: str, connector: Connector) -> None:
    """Count what earlier processes sent on this credential within the vendor's window."""
    limiter = connector.client.limiter
    if limiter is None or not limiter.key:
        return
    with sessions() as db:
        snapshots = load_history(db, limiter.key)
    counted = limiter.restore(snapshots)
    if counted:
        log.info("reconcile.pacing_restored", connection=name, recent_requests=counted)


def save_pacing(sessions: Any, name: str, connector: Connector, *, clean: bool) -> None:
    """Store the credential's send history now (``clean``: nothing is in flight)."""
    limiter = connector.client.limiter
    if limiter is None or not limiter.key:
        return
    with sessions.begin() as db:
        save_history(db, name, limiter.key, limiter.snapshot(clean=clean), now=utcnow())


def pacing(connector: Connector) -> Callable[[], tuple[str, str]] | None:
    """What the worker saves with every op: the history, not clean (work in flight)."""
    limiter = connector.client.limiter
    if limiter is None or not limiter.key:
        return None
    key = limiter.key
    return lambda: (key, limiter.snapshot(clean=False))


def _kept(simulator: Any, name: str, vendor: str, *, keep: bool) -> bool:
    """Restore the simulator's account from its file if there is one (True); with ``keep``
    save it there after every write, before the simulator answers it.

    The file is never written here at start: only a write makes it, and the first write
    comes after a fresh run emptied the mirror, so an account file always holds at least
    what the mirror says (see :mod:`syncd.sandbox.account_file`). A dry run never writes it.
    """
    if not isinstance(simulator, Keepable):
        return False
    path = account_path(name)
    restored = restore_account(simulator, path, vendor)
    if keep:
        keep_writes(simulator, path, vendor)
    return restored


@contextmanager
def sandboxed(
    config: Config, name: str, conn: ConnectionConfig, *, keep: bool
) -> Iterator[tuple[ConnectionConfig, bool]]:
    """Start the simulator for a ``sandbox:`` connection; yield the pointed config and
    whether its account was restored from an earlier run (False: it starts from its seed).
    ``keep``: save the account after every write (False for a dry run).
    """
    from syncd.sandbox.running import start_sandbox

    seed = _sandbox_seed(config, name, conn.base_url[len(SANDBOX_URL) :].strip())
    try:
        running = start_sandbox(conn.vendor)
    except LookupError as exc:
        raise ConfigError(f"connections.{name}.base_url: {exc}") from None
    try:
        restored = _kept(running.simulator, name, conn.vendor, keep=keep)
        if seed and not restored:
            running.simulator.seed(seed)
        yield _pointed(running, name, conn), restored
    finally:
        running.stop()


def _pointed(running: RunningSandbox, name: str, conn: ConnectionConfig) -> ConnectionConfig:
    """``conn`` aimed at the running simulator, with its demo credentials."""
    if conn.rate is not None and running.admin is not None:
        running.admin.set_rate(conn.rate.requests, conn.rate.per_seconds)
    api = getattr(running.simulator, "api_root", "")
    pointed = connector_class(conn.vendor).sandbox_connection(
        conn, running.credentials, f"{running.base_url}{api}"
    )
    log.info("sandbox.started", connection=name, vendor=conn.vendor, url=running.base_url)
    return pointed


def _sandbox_seed(config: Config, name: str, path_text: str) -> dict[str, Any] | None:
    if not path_text:
        return None
    path = Path(path_text)
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"connections.{name}.base_url: cannot read the sandbox seed {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"connections.{name}.base_url: sandbox seed {path} is not an object")
    return data
