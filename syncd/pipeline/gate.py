"""Where the export integrity gate meets the world: the facts of the file just read, its
manifest, the configuration it is planned under, and the refusal both `syncd plan` and
`syncd reconcile` raise. The checks themselves are pure (:mod:`syncd.plan.integrity`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime
from pathlib import Path

from syncd.config import Config, IntegrityConfig
from syncd.errors import SafeguardTripped
from syncd.hris.roster import SourceInfo
from syncd.plan.integrity import CHECKS, ExportFacts, Verdict, check, inputs_digest, parse_manifest

_MANIFEST_BYTES = 64
"""A manifest holds one number; anything longer is not one."""


class ExportRefused(SafeguardTripped):
    """The integrity gate refused the export; ``check`` names the failing check.

    A safeguard refusal (exit 3), but ``--allow-mass-change`` does not pass it:
    ``--accept-file CHECK`` does, for one run.
    """

    def __init__(self, message: str, *, check: str, connection: str, source: str) -> None:
        super().__init__(message, limit=check, connection=connection, source=source)
        self.check = check


def facts_of(info: SourceInfo, inputs: str = "") -> ExportFacts:
    """The gate's facts of an export as read; ``inputs``: see :func:`inputs_of`."""
    mtime = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
    return ExportFacts(
        path=str(info.path),
        sha256=info.sha256,
        mtime=mtime,
        rows=int(info.rows_read),
        header=tuple(info.headers),
        encoding=info.encoding,
        delimiter=info.delimiter,
        empty_share=dict(info.empty_share),
        inputs=inputs,
    )


def inputs_of(config: Config, name: str, today: date) -> str:
    """The digest of what besides the file decides ``name``'s plan (secrets masked)."""
    conn = config.connections[name]
    settings = {
        "connection": conn.model_dump(mode="json"),
        "source": config.sources[conn.source].model_dump(mode="json"),
    }
    return inputs_digest(settings, today)


def manifest_count(path: str, integrity: IntegrityConfig) -> int | str | None:
    """The row count the manifest beside ``path`` states, a sentence saying why there is
    none, or None when the source has no manifest configured."""
    if integrity.manifest is None:
        return None
    export = Path(path)
    manifest = export.with_name(integrity.manifest.format(stem=export.stem, name=export.name))
    try:
        with manifest.open("rb") as handle:
            raw = handle.read(_MANIFEST_BYTES + 1)
    except OSError as exc:
        why = "missing" if isinstance(exc, FileNotFoundError) else "unreadable"
        return f"the manifest {manifest} is {why} (manifest = {integrity.manifest!r})"
    count = None if len(raw) > _MANIFEST_BYTES else parse_manifest(raw.decode("ascii", "replace"))
    if count is None:
        return f"the manifest {manifest} does not hold one row count"
    return count


def judge(
    config: Config,
    name: str,
    info: SourceInfo,
    last: ExportFacts | None,
    *,
    today: date,
    same_file: bool,
    accept: Collection[str] = (),
    clock: datetime | None = None,
) -> tuple[ExportFacts, Verdict]:
    """The export's facts (to record) and the gate's verdict for connection ``name``."""
    source = config.sources[config.connections[name].source].integrity
    facts = facts_of(info, inputs_of(config, name, today))
    verdict = check(
        facts,
        last,
        source,
        clock=clock or datetime.now(UTC),
        manifest=manifest_count(facts.path, source),
        same_file=same_file,
        accept=accept,
    )
    return facts, verdict


def refusal(verdict: Verdict, *, connection: str, source: str) -> ExportRefused:
    """The exception a refused verdict stops the run with."""
    assert verdict.check is not None and verdict.message is not None
    return ExportRefused(
        f"connection `{connection}`: export refused by the integrity gate ({verdict.check}): "
        f"{verdict.message} (--accept-file {verdict.check} passes it for one run)",
        check=verdict.check,
        connection=connection,
        source=source,
    )


def unknown_checks(names: Collection[str]) -> list[str]:
    """Names given to ``--accept-file`` that are not checks."""
    return [n for n in names if n not in CHECKS]
