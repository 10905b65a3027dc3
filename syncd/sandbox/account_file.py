"""The file a ``sandbox:`` connection keeps its simulated LMS account in between runs.

``syncd-sandbox-<connection>.state`` in the working directory stands in for the vendor's
own database, so it must be as trustworthy as the state database that mirrors it:

- **Plain data, checked on load.** JSON with a format name and version around the
  vendor's account (``{"format": ..., "version": 2, "vendor": "litmos", "account": {...}}``);
  each simulator validates its account part field by field. A file that is anything else
  (an older pickle, a crafted payload, a truncated write) is refused with one line naming
  it; nothing in it is ever executed. Version 1 was a pickle and is refused like any
  foreign file.
- **Never behind the mirror.** The worker records an effect in the mirror only after the
  vendor confirmed it, so the simulator saves its whole account after every write request
  and before it answers (:func:`keep_writes`): whatever the mirror holds, the file holds
  too, whenever the process is killed. Each save is a temporary file, fsync, an atomic
  rename and an fsync of the folder, so a kill mid-save leaves the previous file whole.
  The cost (the two fsyncs of every save, measured in ``benchmarks/README.md``) is the
  sandbox's alone; saving less often would let the mirror get ahead of the simulated LMS.
- **Written by real runs only.** Nothing here writes unless asked: a dry run restores the
  account and never installs the hook.

Every simulator that can keep its account (one with ``snapshot``, ``restore`` and an
``on_write`` hook, see :class:`Keepable`) is stored in this one format.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import ValidationError

from syncd import atomic
from syncd.errors import SyncdError

FORMAT = "syncd-sandbox-account"
VERSION = 2
START_OVER = "delete it to start over"


class AccountFileError(SyncdError):
    """The account file cannot be used; the message names it and says what to do."""


@runtime_checkable
class Keepable(Protocol):
    """A simulator whose account can be kept in an account file."""

    on_write: Callable[[], None] | None

    def snapshot(self) -> bytes:
        """The whole account as a JSON object."""
        ...

    def restore(self, data: bytes) -> None:
        """Load :meth:`snapshot` JSON in place; ValueError says what is wrong with it."""
        ...


def account_path(connection: str, folder: Path | None = None) -> Path:
    """Where the ``sandbox:`` connection ``connection`` keeps its account."""
    return (folder or Path.cwd()) / f"syncd-sandbox-{connection}.state"


def read_account(path: Path, vendor: str) -> dict[str, Any] | None:
    """The account part of ``path`` (None when there is no file), its envelope checked."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _refused(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _refused(path, "is not a syncd sandbox account file (not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _refused(path, "is not a syncd sandbox account file")
    if document.get("version") != VERSION:
        raise _refused(
            path, f"has format version {document.get('version')!r}, this syncd reads {VERSION}"
        )
    if document.get("vendor") != vendor:
        raise _refused(
            path, f"holds a {document.get('vendor')!r} account, the connection is {vendor!r}"
        )
    account = document.get("account")
    if not isinstance(account, dict):
        raise _refused(path, "has no account object")
    return account


def restore_account(simulator: Keepable, path: Path, vendor: str) -> bool:
    """Load ``path`` into ``simulator``; False when there is no file (it keeps its seed)."""
    account = read_account(path, vendor)
    if account is None:
        return False
    try:
        simulator.restore(json.dumps(account).encode("utf-8"))
    except ValueError as exc:
        raise _refused(path, f"is not a valid {vendor} account: {exc}") from None
    return True


def write_account(path: Path, vendor: str, account: bytes) -> None:
    """Replace ``path`` durably: temporary file, fsync, atomic rename, fsync of the folder.

    ``account`` is the simulator's JSON object, put in the envelope as it is (encoding it
    once is most of a save's cost).
    """
    head = json.dumps({"format": FORMAT, "version": VERSION, "vendor": vendor})
    data = head.removesuffix("}").encode("utf-8") + b', "account": ' + account + b"}"
    with atomic.replacing(path) as handle:
        handle.write(data)


def keep_writes(simulator: Keepable, path: Path, vendor: str) -> None:
    """Save the whole account to ``path`` after every write the simulator answers."""

    def save() -> None:
        write_account(path, vendor, simulator.snapshot())

    simulator.on_write = save


def missing_warning(path: Path, synced_users: int) -> str:
    """What to tell someone whose account file is gone while the mirror says it is not."""
    return (
        f"the sandbox account file {path} is missing but the state database has "
        f"{synced_users} synced user(s) for this connection: reconcile starts the simulated "
        "account over from its seed and forgets them (a first sync); restore the file to "
        "keep them"
    )


def _refused(path: Path, reason: str) -> AccountFileError:
    return AccountFileError(f"{path}: {reason}; {START_OVER}", path=str(path))


# --------------------------------------------------------------------------- checking


Row = TypeVar("Row")


def keyed_rows(rows: Iterable[Row], table: str, key: Callable[[Row], Hashable]) -> dict[Any, Row]:
    """``rows`` keyed by ``key``; a key seen twice is an error naming the table."""
    keyed: dict[Any, Row] = {}
    for row in rows:
        found = key(row)
        if found in keyed:
            raise ValueError(f"{table}: {found!r} appears twice")
        keyed[found] = row
    return keyed


def utc_dates(row: Any) -> None:
    """Dates as the stores make them (UTC); a date without a time zone is refused."""
    for item in dataclasses.fields(row):
        value = getattr(row, item.name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{type(row).__name__}.{item.name}: {value} has no time zone")
            setattr(row, item.name, value.astimezone(UTC))


def first_problem(exc: ValidationError) -> str:
    """One line: where the first invalid value of an account is and what is wrong with it."""
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "account"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"
