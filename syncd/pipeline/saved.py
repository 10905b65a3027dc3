"""Saved plans on disk: ``syncd plan --out`` writes one, ``syncd apply`` checks and applies it.

The document itself (fields, digest, parsing) is pure, :mod:`syncd.plan.saved`; here are
the file (written whole or not at all, :mod:`syncd.atomic`), the checks against the world
before anything is sent (the configuration, the export's checksum) and the hand-over to
:func:`syncd.pipeline.apply.apply_ops`, which re-checks the mirror version under the
connection's lease in the transaction that enqueues.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from syncd import __version__
from syncd.atomic import replacing
from syncd.config import Config
from syncd.errors import ConfigError, SourceFileError
from syncd.files import IrregularFile, read_regular
from syncd.hris.reader import locate
from syncd.log import get_logger
from syncd.pipeline.apply import apply_ops
from syncd.pipeline.plan import Planned
from syncd.pipeline.reconcile import ConnectionResult, Progress
from syncd.plan.saved import (
    InvalidPlanFile,
    SavedConnection,
    SavedPlan,
    SavedSource,
    build_document,
    build_entry,
    dumps,
    parse,
)
from syncd.queue.worker import WorkerSettings
from syncd.state.runs import SourceRecord

log = get_logger("syncd.pipeline.saved")

_MAX_BYTES = 512 * 1024 * 1024
"""A plan file larger than this is not one syncd wrote for any real roster."""


def write_plan(config: Config, planned: Sequence[Planned], path: Path, *, today: date) -> None:
    """Write the plans of ``planned`` to ``path`` as one saved plan file."""
    entries = []
    for item in planned:
        record = item.record
        if record is None:
            raise ConfigError(f"connection {item.name}: the plan has no export record to save")
        source = SavedSource(
            name=record.source,
            path=record.path,
            sha256=record.sha256,
            size=record.size,
            mtime=record.mtime,
            rows_read=record.rows_read,
            rows_accepted=record.rows_accepted,
            rows_rejected=record.rows_rejected,
        )
        entries.append(
            build_entry(
                item.plan,
                source=source,
                facts=record.facts,
                mirror_version=item.mirror_version,
                today=today,
                rate=item.rate,
            )
        )
    document = build_document(
        entries,
        created_at=datetime.now(UTC),
        version=__version__,
        config=str(config.path.resolve()) if config.path else "",
    )
    try:
        with replacing(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(dumps(document))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the plan file: {exc.strerror}") from None


def read_plan(path: Path) -> SavedPlan:
    """The saved plan at ``path``; :class:`InvalidPlanFile` (one line naming the file)
    when it is not one this syncd applies."""
    try:
        raw, _stat = read_regular(path, limit=_MAX_BYTES)
    except IrregularFile as exc:
        raise InvalidPlanFile(f"{exc}; name the plan file itself") from None
    except OSError as exc:
        raise InvalidPlanFile(f"{path}: cannot read the plan file: {exc.strerror}") from None
    if len(raw) > _MAX_BYTES:
        raise InvalidPlanFile(f"{path}: not a syncd plan file (larger than any plan)")
    try:
        return parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidPlanFile(f"{path}: not a syncd plan file (not UTF-8 text)") from None
    except InvalidPlanFile as exc:
        raise InvalidPlanFile(f"{path}: {exc}") from None


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _stale(config: Config, entry: SavedConnection) -> str | None:
    """Why ``entry`` may not be applied as it stands (one line), or None."""
    name = entry.name
    conn = config.connections.get(name)
    if conn is None:
        return f"connection {name}: not in the configuration {config.path} any more"
    if conn.vendor != entry.vendor:
        return (
            f"connection {name}: its vendor changed from {entry.vendor} to {conn.vendor} "
            "since the plan was made"
        )
    if entry.refused:
        why = f" ({entry.refusal})" if entry.refusal else ""
        return f"connection {name}: the plan was refused when it was made{why}; nothing to apply"
    if conn.source != entry.source.name:
        return (
            f"connection {name}: its source changed from {entry.source.name} to {conn.source} "
            "since the plan was made"
        )
    try:
        export = locate(config.source_path(conn.source))
        found = _sha256(export)
    except (OSError, SourceFileError) as exc:
        return f"connection {name}: the export the plan was made from cannot be read: {exc}"
    if found != entry.source.sha256:
        return (
            f"connection {name}: the export changed since the plan was made ({export} has "
            f"sha256 {found[:12]}, the plan {entry.source.sha256[:12]}); plan again"
        )
    return None


def _record(entry: SavedConnection) -> SourceRecord:
    source = entry.source
    return SourceRecord(
        source=source.name,
        path=source.path,
        sha256=source.sha256,
        size=source.size,
        mtime=source.mtime,
        rows_read=source.rows_read,
        rows_accepted=source.rows_accepted,
        rows_rejected=source.rows_rejected,
        facts=entry.facts,
    )


def chosen(saved: SavedPlan, connection: str | None) -> list[SavedConnection]:
    """The file's connections, or the one named (a ConfigError when it holds none such)."""
    if connection is None:
        return list(saved.connections)
    found = [entry for entry in saved.connections if entry.name == connection]
    if not found:
        names = ", ".join(entry.name for entry in saved.connections) or "none"
        raise ConfigError(f"the plan file holds no connection {connection} (it holds: {names})")
    return found


def apply_saved(
    config: Config,
    entries: Sequence[SavedConnection],
    *,
    source: Path,
    settings: WorkerSettings | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> list[ConnectionResult]:
    """Apply each saved connection plan, or refuse it (``refusal``: nothing enqueued,
    nothing sent) when what it was computed against has changed. ``source``: the plan
    file, named in each run's message."""
    stop = stop or threading.Event()
    results = []
    for entry in entries:
        why = _stale(config, entry)
        if why is not None:
            log.warning("apply.refused", connection=entry.name, reason=why)
            results.append(ConnectionResult(name=entry.name, vendor=entry.vendor, refusal=why))
            continue
        results.append(
            apply_ops(
                config,
                entry.name,
                entry.ops,
                kind="apply",
                held=entry.held,
                absence=entry.absence,
                source=_record(entry),
                accepted=entry.baseline,
                mirror_version=entry.mirror_version,
                message=f"saved plan {source}",
                settings=settings,
                progress=progress,
                stop=stop,
            )
        )
        if stop.is_set():
            break
    return results
