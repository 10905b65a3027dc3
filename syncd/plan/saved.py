"""A saved plan: the file ``syncd plan --out`` writes and ``syncd apply`` acts on.

A reviewer reads it (``summary``: plain lines), a change board may keep it, and apply sends
exactly its ops or refuses. It records what the ops were computed against, so apply can tell
when that moved on: the export's checksum, the mirror's version
(``syncd.state.versions``), the plan day, the connection and its vendor. ``ops_digest``
covers everything apply acts on (the ops, their holds, the absences to record, and the
checksum and version they were computed against), so a file edited by hand is refused
rather than half-believed. A digest is no signature: it catches edits, not forgery by
someone who may run syncd anyway.

JSON only (never pickle or eval): each field is checked on load, an op is rebuilt through
:func:`~syncd.plan.ops.from_payload` only for a known kind. Pure: documents in, text out,
text in, values out; writing the file is the caller's (``syncd.atomic``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from syncd.plan.absence import Absence
from syncd.plan.hold import Hold
from syncd.plan.integrity import ExportFacts
from syncd.plan.model import Plan, RateLike
from syncd.plan.ops import OP_TYPES, Op, from_payload
from syncd.plan.summary import summarize

FORMAT = "syncd-plan/1"

_SHOWN = 50
"""Held, pending and skipped people listed in the summary; the rest are counted."""


class InvalidPlanFile(ValueError):
    """The text is not a saved plan this syncd can apply; ``str()`` is one plain line."""


@dataclass(frozen=True)
class SavedSource:
    """The export a saved plan was computed from, as apply records it."""

    name: str
    path: str
    sha256: str
    size: int
    mtime: datetime
    rows_read: int
    rows_accepted: int
    rows_rejected: int


@dataclass(frozen=True)
class SavedConnection:
    """One connection's saved plan, checked and rebuilt."""

    name: str
    vendor: str
    refused: bool
    refusal: str | None
    today: date
    mirror_version: int
    source: SavedSource
    facts: ExportFacts | None
    summary: tuple[str, ...]
    ops: tuple[Op, ...]
    held: Mapping[str, Hold] = field(default_factory=dict)
    pending: tuple[tuple[str, str], ...] = ()
    absence: Mapping[str, Absence] | None = None
    baseline: bool = True
    """Whether the export becomes the next baseline (not one that looks truncated)."""


@dataclass(frozen=True)
class SavedPlan:
    """A whole saved plan file: when, by which syncd, from which configuration."""

    created_at: datetime
    syncd_version: str
    config: str
    connections: tuple[SavedConnection, ...]


# --------------------------------------------------------------------------- building


def canonical(data: Any) -> str:
    """The one JSON text of ``data`` a digest is taken over (key order and spacing fixed)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(entry: Mapping[str, Any]) -> str:
    source = entry.get("source")
    acted_on = {
        "name": entry.get("name"),
        "vendor": entry.get("vendor"),
        "refused": entry.get("refused"),
        "ops": entry.get("ops"),
        "held": entry.get("held"),
        "absence": entry.get("absence"),
        "baseline": entry.get("baseline"),
        "mirror_version": entry.get("mirror_version"),
        "source_sha256": source.get("sha256") if isinstance(source, Mapping) else None,
    }
    return hashlib.sha256(canonical(acted_on).encode("utf-8")).hexdigest()


def _facts_dict(facts: ExportFacts) -> dict[str, Any]:
    return {
        "path": facts.path,
        "sha256": facts.sha256,
        "mtime": facts.mtime.isoformat(),
        "rows": facts.rows,
        "header": list(facts.header),
        "encoding": facts.encoding,
        "delimiter": facts.delimiter,
        "empty_share": dict(facts.empty_share),
        "inputs": facts.inputs,
    }


def _absence_dict(absence: Mapping[str, Absence] | None) -> dict[str, Any] | None:
    if absence is None:
        return None
    return {
        key: {
            "exports": item.exports,
            "since": item.since.isoformat(),
            "export": item.export,
            "pending": item.pending,
        }
        for key, item in sorted(absence.items())
    }


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _label(check: Mapping[str, Any]) -> str:
    field = check.get("field") or ""
    return f"{check.get('limit')}[{field}]" if field else str(check.get("limit"))


def summary_lines(plan: Plan, rate: RateLike | None = None) -> list[str]:
    """What a reviewer reads, as plain lines, from :func:`~syncd.plan.summary.summarize`
    (the one summary of a plan)."""
    data = summarize(plan, limit=20, rate=rate)
    head = f"{plan.connection} ({plan.vendor}): {data['status'].replace('_', ' ')}: "
    head += f"{data['ops']} op(s), {data['calls']} vendor call(s)"
    if rate is not None:
        head += (
            f", at least {_duration(data['duration_seconds'])} at {rate.requests} requests / "
            f"{rate.per_seconds:g} s"
        )
    lines = [head]
    lines += [f"  {kind}: {count}" for kind, count in data["counts"].items()]
    guards = data["safeguards"]
    for check in guards["checks"]:
        if check.get("tripped"):
            state = "overridden" if guards["overridden"] else "tripped"
            lines.append(f"safeguard {_label(check)}: {state}: {check.get('message')}")
    refusal = guards["refusal"]
    if refusal is not None:
        lines.append(f"REFUSED by {_label(refusal)}: {refusal.get('message')}; apply sends nothing")
    lines += _listed("held", [(h["what"], h["reason"]) for h in data.get("held", [])])
    pending = data["pending_deactivations"]
    lines += _listed("pending", [(p["external_id"], p["reason"]) for p in pending])
    lines += _listed("skipped", [(s["external_id"], s["reason"]) for s in data["skipped"]])
    lines += [f"warning: {warning}" for warning in data["warnings"]]
    lines += [f"op: {entry['what']}" for entry in data["first_ops"]]
    if len(plan.ops) > len(data["first_ops"]):
        lines.append(f"op: ... and {len(plan.ops) - len(data['first_ops'])} more (all in `ops`)")
    return lines


def _listed(label: str, items: Sequence[tuple[str, str]]) -> list[str]:
    lines = [f"{label} {who}: {why}" for who, why in items[:_SHOWN]]
    if len(items) > _SHOWN:
        lines.append(f"{label}: ... and {len(items) - _SHOWN} more")
    return lines


def build_entry(
    plan: Plan,
    *,
    source: SavedSource,
    facts: ExportFacts | None,
    mirror_version: int,
    today: date,
    rate: RateLike | None = None,
) -> dict[str, Any]:
    """One connection's part of a saved plan, as JSON-able data with its digest."""
    held: Mapping[str, Hold] = getattr(plan, "held", None) or {}
    entry: dict[str, Any] = {
        "name": plan.connection,
        "vendor": plan.vendor,
        "refused": plan.refused,
        "refusal": None if plan.refusal is None else plan.refusal.message,
        "today": today.isoformat(),
        "mirror_version": mirror_version,
        "source": {
            "name": source.name,
            "path": source.path,
            "sha256": source.sha256,
            "size": source.size,
            "mtime": source.mtime.isoformat(),
            "rows_read": source.rows_read,
            "rows_accepted": source.rows_accepted,
            "rows_rejected": source.rows_rejected,
        },
        "integrity": None if facts is None else _facts_dict(facts),
        "summary": summary_lines(plan, rate),
        "checks": [check.to_dict() for check in plan.checks],
        "held": {key: hold.to_dict() for key, hold in held.items()},
        "pending": [{"external_id": e, "reason": r} for e, r in plan.pending],
        "absence": _absence_dict(plan.absence),
        "baseline": not plan.suspect_export,
        "ops": [{"kind": op.kind, "payload": op.to_payload()} for op in plan.ops],
    }
    entry["ops_digest"] = _digest(entry)
    return entry


def build_document(
    entries: Sequence[Mapping[str, Any]], *, created_at: datetime, version: str, config: str
) -> dict[str, Any]:
    """The whole file's data: its format, when and by what it was made, each connection."""
    return {
        "format": FORMAT,
        "created_at": created_at.isoformat(),
        "syncd_version": version,
        "config": config,
        "connections": list(entries),
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The file's text: pretty JSON, UTF-8 as is (names stay readable), newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- reading


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise InvalidPlanFile(f"{where}: `{key}` is missing")
    value = obj[key]
    if isinstance(value, bool) and kind in (int, (int, float)):
        raise InvalidPlanFile(f"{where}: `{key}` is not {_name(kind)}")
    if not isinstance(value, kind):
        raise InvalidPlanFile(f"{where}: `{key}` is not {_name(kind)}")
    return value


def _name(kind: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "a number", bool: "true or false", dict: "an object", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _when(text: str, where: str, key: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidPlanFile(f"{where}: `{key}` is not a date and time: {text!r}") from None


def parse(text: str) -> SavedPlan:
    """The saved plan in ``text``, every field checked; :class:`InvalidPlanFile` otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidPlanFile(f"not a syncd plan file: not JSON ({exc})") from None
    except RecursionError:
        raise InvalidPlanFile("not a syncd plan file: nested deeper than any plan") from None
    if not isinstance(data, dict) or "format" not in data:
        raise InvalidPlanFile("not a syncd plan file: no `format` field")
    if data["format"] != FORMAT:
        raise InvalidPlanFile(
            f"plan file format is {data['format']!r}; this syncd reads {FORMAT!r}"
        )
    where = "plan file"
    entries = _get(data, "connections", list, where)
    return SavedPlan(
        created_at=_when(_get(data, "created_at", str, where), where, "created_at"),
        syncd_version=_get(data, "syncd_version", str, where),
        config=_get(data, "config", str, where),
        connections=tuple(_connection(entry, number) for number, entry in enumerate(entries)),
    )


def _connection(entry: Any, number: int) -> SavedConnection:
    where = f"connections[{number}]"
    if not isinstance(entry, dict):
        raise InvalidPlanFile(f"{where}: not an object")
    name = _get(entry, "name", str, where)
    where = f"connection {name}"
    digest = _get(entry, "ops_digest", str, where)
    source = _get(entry, "source", dict, where)
    today = _get(entry, "today", str, where)
    try:
        day = date.fromisoformat(today)
    except ValueError:
        raise InvalidPlanFile(f"{where}: `today` is not a date: {today!r}") from None
    refusal = entry.get("refusal")
    saved = SavedConnection(
        name=name,
        vendor=_get(entry, "vendor", str, where),
        refused=_get(entry, "refused", bool, where),
        refusal=refusal if isinstance(refusal, str) else None,
        today=day,
        mirror_version=_get(entry, "mirror_version", int, where),
        source=_source(source, f"{where} source"),
        facts=_facts(entry.get("integrity"), f"{where} integrity"),
        summary=tuple(str(line) for line in _get(entry, "summary", list, where)),
        ops=_ops(_get(entry, "ops", list, where), where),
        held=_held(_get(entry, "held", dict, where), where),
        pending=tuple(
            (str(p.get("external_id", "")), str(p.get("reason", "")))
            for p in _get(entry, "pending", list, where)
            if isinstance(p, dict)
        ),
        absence=_absence(entry.get("absence"), where),
        baseline=_get(entry, "baseline", bool, where),
    )
    if digest != _digest(entry):
        raise InvalidPlanFile(
            f"{where}: the plan was edited after it was made (ops_digest does not match); "
            "make a new plan"
        )
    return saved


def _source(data: Mapping[str, Any], where: str) -> SavedSource:
    return SavedSource(
        name=_get(data, "name", str, where),
        path=_get(data, "path", str, where),
        sha256=_get(data, "sha256", str, where),
        size=_get(data, "size", int, where),
        mtime=_when(_get(data, "mtime", str, where), where, "mtime"),
        rows_read=_get(data, "rows_read", int, where),
        rows_accepted=_get(data, "rows_accepted", int, where),
        rows_rejected=_get(data, "rows_rejected", int, where),
    )


def _facts(data: Any, where: str) -> ExportFacts | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidPlanFile(f"{where}: not an object")
    shares = _get(data, "empty_share", dict, where)
    return ExportFacts(
        path=_get(data, "path", str, where),
        sha256=_get(data, "sha256", str, where),
        mtime=_when(_get(data, "mtime", str, where), where, "mtime"),
        rows=_get(data, "rows", int, where),
        header=tuple(str(h) for h in _get(data, "header", list, where)),
        encoding=_get(data, "encoding", str, where),
        delimiter=_get(data, "delimiter", str, where),
        empty_share={str(k): float(v) for k, v in shares.items() if isinstance(v, int | float)},
        inputs=_get(data, "inputs", str, where),
    )


def _ops(items: list[Any], where: str) -> tuple[Op, ...]:
    ops: list[Op] = []
    for number, item in enumerate(items):
        at = f"{where} op {number}"
        if not isinstance(item, dict):
            raise InvalidPlanFile(f"{at}: not an object")
        kind = _get(item, "kind", str, at)
        if kind not in OP_TYPES:
            raise InvalidPlanFile(f"{at}: unknown op kind {kind!r}")
        payload = _get(item, "payload", dict, at)
        try:
            ops.append(from_payload(kind, payload))
        except TypeError:
            raise InvalidPlanFile(f"{at}: its fields do not match a {kind} op") from None
    return tuple(ops)


def _held(data: Mapping[str, Any], where: str) -> dict[str, Hold]:
    held: dict[str, Hold] = {}
    for key, item in data.items():
        at = f"{where} held {key}"
        if not isinstance(item, dict):
            raise InvalidPlanFile(f"{at}: not an object")
        held[key] = Hold(check=_get(item, "check", str, at), reason=_get(item, "reason", str, at))
    return held


def _absence(data: Any, where: str) -> dict[str, Absence] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidPlanFile(f"{where}: `absence` is not an object")
    history: dict[str, Absence] = {}
    for key, item in data.items():
        at = f"{where} absence {key}"
        if not isinstance(item, dict):
            raise InvalidPlanFile(f"{at}: not an object")
        history[key] = Absence(
            exports=_get(item, "exports", int, at),
            since=_when(_get(item, "since", str, at), at, "since"),
            export=_get(item, "export", str, at),
            pending=_get(item, "pending", bool, at),
        )
    return history
