"""A plan as people read it: one line per op and a JSON-able summary.

Used by ``syncd plan`` (table and JSON) and by run records; it says who, what, and for an
update which fields go from what to what. Values shown are HRIS data and LMS ids, never
credentials (ops do not carry any).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from syncd.plan.ops import (
    AddMembers,
    AssignCoursePeople,
    AssignCourses,
    AssignGroupCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RekeyUser,
    RemoveMember,
    ReplaceMemberships,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)

if TYPE_CHECKING:
    from syncd.plan.model import Plan, RateLike

_SHOWN_IDS = 5


def _ids(values: tuple[str, ...]) -> str:
    shown = ", ".join(values[:_SHOWN_IDS])
    more = len(values) - _SHOWN_IDS
    return f"{shown} (+{more} more)" if more > 0 else shown


def _change(change: tuple[str, str, str]) -> str:
    name, old, new = change
    return f"{name}: {old!r} -> {new!r}"


def describe(op: Op, why: str = "") -> str:
    """One line saying what the op does to whom; ``why``: the setting that planned it
    (``Plan.reasons``: an unassignment's leaver or mover policy)."""
    line = _describe(op)
    return f"{line} ({why})" if why else line


def _describe(op: Op) -> str:
    match op:
        case CreateUser():
            return f"create user {op.external_id} ({op.match_value})"
        case LinkUser():
            state = "active" if op.active else "inactive"
            return f"link {op.external_id} to existing {state} account {op.remote_id}"
        case UpdateUser():
            parts = [_change(c) for c in op.changes]
            if op.match_value is not None:
                parts.append(f"match value -> {op.match_value!r}")
            return f"update {op.external_id}: " + "; ".join(parts)
        case DeactivateUser():
            return (
                f"deactivate {op.external_id} ({op.reason})"
                if op.reason
                else (f"deactivate {op.external_id}")
            )
        case ReactivateUser():
            return f"reactivate {op.external_id}"
        case DeleteUser():
            return f"DELETE {op.external_id} ({op.reason})"
        case RekeyUser():
            return f"rekey {op.previous_id} -> {op.external_id} (same account, new key)"
        case CreateGroup():
            under = f" under {op.parent_key}" if op.parent_key else ""
            return f"create group {op.name!r} [{op.group_key}]{under}"
        case LinkGroup():
            return f"link group {op.group_key} to existing group {op.remote_id}"
        case UpdateGroup():
            under = f" under {op.parent_key}" if op.parent_key else " at the top"
            return f"update group {op.group_key}: name {op.name!r}{under}"
        case AddMembers():
            return f"add {len(op.external_ids)} to {op.group_key}: {_ids(op.external_ids)}"
        case RemoveMember():
            return f"remove {op.external_id} from {op.group_key}"
        case ReplaceMemberships():
            dropped = f" (drops {_ids(op.removed)})" if op.removed else ""
            return f"move {op.external_id} to {op.group_key} only{dropped}"
        case AssignCourses():
            return f"assign {op.external_id} courses {_ids(op.course_ids)}"
        case AssignLearningPaths():
            return f"assign {op.external_id} learning paths {_ids(op.learning_path_ids)}"
        case AssignGroupCourses():
            who = f"{len(op.external_ids)} member(s)"
            return f"assign group {op.group_key} ({who}) courses {_ids(op.course_ids)}"
        case AssignCoursePeople():
            who = f"{len(op.external_ids)} people"
            return f"assign course {op.course_id} to {who}: {_ids(op.external_ids)}"
        case UnassignCourse():
            return f"unassign {op.external_id} course {op.course_id}"
        case UnassignLearningPath():
            return f"unassign {op.external_id} learning path {op.learning_path_id}"
    return f"{op.kind} {op.subject}"


def op_entry(op: Op, why: str = "") -> dict[str, Any]:
    """An op for the JSON summary: kind, subject, key, description, field changes, and
    why it is planned where the op does not say it itself."""
    entry: dict[str, Any] = {
        "kind": op.kind,
        "subject": op.subject,
        "key": op.key,
        "what": describe(op, why),
        "depends_on": len(op.depends_on),
    }
    if why:
        entry["why"] = why
    if isinstance(op, UpdateUser):
        entry["changes"] = [{"field": f, "from": old, "to": new} for f, old, new in op.changes]
    return entry


def summarize(plan: Plan, *, limit: int = 20, rate: RateLike | None = None) -> dict[str, Any]:
    """The whole plan in plain data (no DataFrames), ready for ``json.dumps``."""
    if plan.refused:
        status = "refused"
    elif not plan.empty:
        status = "changes_pending"
    elif plan.incomplete:
        status = "skipped"
    else:
        status = "in_sync"
    data: dict[str, Any] = {
        "connection": plan.connection,
        "vendor": plan.vendor,
        "status": status,
        "ops": len(plan.ops),
        "counts": plan.counts,
        "calls": plan.calls,
        "held_calls": plan.held_calls,
        "repairs": plan.repairs,
        "safeguards": {
            "refused": plan.refused,
            "refusal": plan.refusal.to_dict() if plan.refusal else None,
            "overridden": plan.overridden,
            "checks": [check.to_dict() for check in plan.checks],
        },
        "skipped": [
            {"external_id": e, "reason": r}
            for e, r in zip(
                plan.skipped["external_id"].tolist(), plan.skipped["reason"].tolist(), strict=True
            )
        ],
        "pending_deactivations": [{"external_id": e, "reason": r} for e, r in plan.pending],
        "seats": plan.seats.to_dict() if plan.seats is not None else None,
        "held": [{**op_entry(op), **plan.held[op.key].to_dict()} for op in plan.held_ops],
        "warnings": list(plan.warnings),
        "first_ops": [op_entry(op, plan.reasons.get(op.key, "")) for op in plan.ops[:limit]],
    }
    if plan.reasons:
        data["unassignments_by_setting"] = dict(sorted(Counter(plan.reasons.values()).items()))
    if rate is not None:
        data["rate"] = {"requests": rate.requests, "per_seconds": rate.per_seconds}
        data["duration_seconds"] = plan.duration_seconds(rate)
    return data
