"""The export integrity gate: is this file fit to be planned at all?

A sync daemon's worst days start with a bad file, not a bad diff: yesterday's export
again, an export the HRIS job stopped refreshing, a file from another system with other
columns, a column the HRIS suddenly left blank. Each of those reads as a valid roster and
would plan real changes (deactivations of everyone, emails wiped), so the file itself is
judged first, from plain facts: the export now (:class:`ExportFacts`) against the last
export the connection accepted. Pure: the caller reads the file, the manifest and the
database.

Checks, in order (the first failing one stops the run):

``manifest``
    the row count the HRIS wrote beside the export disagrees with the rows read
    (only when configured; a missing or unreadable manifest fails too);
``stale``
    the file is older than ``max_age`` (only when configured);
``same_file`` (opt-in)
    the file is the very one the connection last accepted, with the same configuration
    on the same day: not a failure but ``nothing new`` (a cron rerun is not an error);
``header``
    a column was added, removed or renamed (a new order is fine);
``encoding``, ``delimiter``
    the file's encoding (UTF-8 with or without BOM are one) or delimiter changed;
``empty_share``
    a column the mapping reads became empty for many more rows than before.

A first run has nothing to compare with: only ``manifest`` and ``stale`` can fail it, and
only when configured. The row count against the last accepted export stays the
``min_source_ratio`` safeguard (measured on the plan, overridable with
``--allow-mass-change`` as before); these checks are not, and each can be passed for one
run by name (``accept``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from syncd.config import IntegrityConfig

CHECKS = ("manifest", "stale", "same_file", "header", "encoding", "delimiter", "empty_share")
"""Every check's name, as the refusal, the metric and ``--accept-file`` spell it."""

_SAME_ENCODING = {"utf-8-sig": "utf-8", "utf_8": "utf-8", "ascii": "utf-8"}


@dataclass(frozen=True)
class ExportFacts:
    """What the gate knows of one export; stored with every accepted one.

    ``inputs`` is a digest of what else decides a plan from this file (the connection's and
    source's configuration, the day): the same file under a changed mapping is news.
    Facts of exports recorded before the gate existed have an empty header and no shares:
    those comparisons are skipped, never failed.
    """

    path: str
    sha256: str
    mtime: datetime
    rows: int
    header: tuple[str, ...] = ()
    encoding: str = ""
    delimiter: str = ""
    empty_share: Mapping[str, float] = field(default_factory=dict)
    inputs: str = ""
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: ``failure`` (the check and one plain line) stops the run;
    ``nothing_new`` (a sentence) ends it quietly; neither: plan the file."""

    check: str | None = None
    message: str | None = None
    nothing_new: str | None = None
    accepted: tuple[str, ...] = ()
    """Checks that failed but were passed by ``accept`` (reported, not refused)."""

    @property
    def refused(self) -> bool:
        return self.check is not None


def inputs_digest(settings: Mapping[str, object], today: date) -> str:
    """A digest of the configuration (as plain data, secrets masked) and the day."""
    text = json.dumps(
        {"settings": settings, "today": today.isoformat()}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def parse_manifest(text: str) -> int | None:
    """A manifest's row count: one non-negative integer and nothing else, or None."""
    body = text.strip()
    return int(body) if body.isascii() and body.isdigit() else None


def check(
    now: ExportFacts,
    last: ExportFacts | None,
    config: IntegrityConfig,
    *,
    clock: datetime,
    manifest: int | str | None = None,
    same_file: bool = True,
    accept: Collection[str] = (),
) -> Verdict:
    """Judge ``now`` against ``last`` (None: no export accepted yet).

    ``manifest``: the count read from the manifest, or a sentence saying why there is none
    (missing, unreadable); None when no manifest is configured. ``same_file`` False skips
    the nothing-new answer (a dry run, ``--full``, a sandbox account starting over).
    ``accept``: check names passed for this run.
    """
    failures = _failures(now, last, config, clock=clock, manifest=manifest)
    passed = tuple(name for name, _ in failures if name in accept)
    for name, message in failures:
        if name not in accept:
            return Verdict(check=name, message=f"{now.path}: {message}", accepted=passed)
    if (
        same_file
        and config.same_file
        and "same_file" not in accept
        and last is not None
        and last.sha256 == now.sha256
        and last.inputs == now.inputs
    ):
        when = f" at {last.accepted_at.isoformat(timespec='seconds')}" if last.accepted_at else ""
        return Verdict(
            nothing_new=(
                f"nothing new: {now.path} was already processed{when} (same sha256, "
                "configuration and day); --accept-file same_file plans it again"
            ),
            accepted=passed,
        )
    return Verdict(accepted=passed)


def _failures(
    now: ExportFacts,
    last: ExportFacts | None,
    config: IntegrityConfig,
    *,
    clock: datetime,
    manifest: int | str | None,
) -> list[tuple[str, str]]:
    """Every failing check as (name, message), in :data:`CHECKS` order."""
    found: list[tuple[str, str]] = []
    if isinstance(manifest, str):
        found.append(("manifest", manifest))
    elif manifest is not None and manifest != now.rows:
        found.append(
            (
                "manifest",
                f"the manifest says {manifest} rows, the file has {now.rows} "
                "(an incomplete or mismatched export)",
            )
        )
    limit = config.age_limit()
    if limit is not None and clock - now.mtime > limit:
        hours = (clock - now.mtime).total_seconds() / 3600
        found.append(
            (
                "stale",
                f"the file was last modified {hours:.1f} h ago, limit max_age = {config.max_age} "
                "(has the HRIS export job stopped?)",
            )
        )
    if last is None:
        return found
    if config.header and now.header and last.header:
        drift = header_drift(now.header, last.header)
        if drift:
            found.append(("header", f"the columns changed since the last accepted export: {drift}"))
    if config.encoding and now.encoding and last.encoding:
        before, after = _family(last.encoding), _family(now.encoding)
        if before != after:
            found.append(
                (
                    "encoding",
                    f"the file is {now.encoding}, the last accepted export was {last.encoding}",
                )
            )
    if config.encoding and now.delimiter and last.delimiter and now.delimiter != last.delimiter:
        found.append(
            (
                "delimiter",
                f"the file is delimited by {now.delimiter!r}, the last accepted export by "
                f"{last.delimiter!r}",
            )
        )
    jump = empty_jump(now, last, config)
    if jump:
        found.append(("empty_share", jump))
    return found


def header_drift(now: tuple[str, ...], last: tuple[str, ...]) -> str:
    """Columns added and removed (compared as the mapping matches headers: case and spacing
    ignored), or "" when the same columns are there in any order."""
    before = {_key(h): h for h in last}
    after = {_key(h): h for h in now}
    added = [after[k] for k in after if k not in before]
    removed = [before[k] for k in before if k not in after]
    parts = []
    if removed:
        parts.append("removed " + ", ".join(removed))
    if added:
        parts.append("added " + ", ".join(added))
    return "; ".join(parts)


def empty_jump(now: ExportFacts, last: ExportFacts, config: IntegrityConfig) -> str:
    """The columns whose share of empty values rose by more than ``max_empty_rise`` points,
    as a sentence (worst first), or ""."""
    rise = config.max_empty_rise
    if rise is None or min(now.rows, last.rows) < config.empty_min_rows:
        return ""
    before = {_key(h): share for h, share in last.empty_share.items()}
    jumps = sorted(
        (
            (share - before[_key(header)], header, before[_key(header)], share)
            for header, share in now.empty_share.items()
            if _key(header) in before and share - before[_key(header)] > rise
        ),
        reverse=True,
    )
    if not jumps:
        return ""
    shown = ", ".join(f"{h} {was:g}% -> {is_:g}%" for _, h, was, is_ in jumps)
    return (
        f"empty values jumped by more than {rise:g} points since the last accepted export: {shown}"
    )


def _key(header: str) -> str:
    return " ".join(header.split()).casefold()


def _family(encoding: str) -> str:
    name = encoding.lower().replace("_", "-")
    return _SAME_ENCODING.get(name, name)
