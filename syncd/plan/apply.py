"""What the mirror looks like once a plan's ops are confirmed: the reference semantics.

The worker applies each confirmed op to the state database with these same meanings; the
property tests use :func:`apply` to check that a plan leads from the mirror to the desired
state and that planning again then finds nothing to do.

- users: create/link insert a row (create has no remote id until the vendor answers: ``""``
  here, or the id from ``remote_ids`` keyed by op key); update sets the changed fields and
  the new match value; (de/re)activate flip ``active``; delete removes the row with its
  memberships and assignments. ``attrs_hash`` is recomputed for every row touched.
- groups: create/link insert, update renames or moves; members and assignments are sets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, MIRROR_LABELS, Mirror, Plan, label_column
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RemoveMember,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)


def _attrs(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, str) and value:
        return {str(k): "" if v is None else str(v) for k, v in json.loads(value).items()}
    return {}


class _State:
    """The mirror as plain dicts and sets while ops are applied."""

    def __init__(self, mirror: Mirror) -> None:
        u = mirror.users
        self.users: dict[str, dict[str, Any]] = {
            ext: {"remote_id": rid, "match_value": mv, "active": bool(act), "attrs": _attrs(at)}
            for ext, rid, mv, act, at in zip(
                u["external_id"].tolist(),
                u["remote_id"].astype("str").fillna("").tolist(),
                u["match_value"].astype("str").fillna("").tolist(),
                u["active"].tolist(),
                u["attrs"].tolist(),
                strict=True,
            )
        }
        self.hashes = dict(zip(u["external_id"].tolist(), u["attrs_hash"].tolist(), strict=True))
        g = mirror.groups
        self.groups: dict[str, dict[str, str]] = {
            key: {"remote_id": rid, "name": name, "parent_key": parent}
            for key, rid, name, parent in zip(
                g["key"].tolist(),
                g["remote_id"].astype("str").fillna("").tolist(),
                g["name"].tolist(),
                g["parent_key"].astype("str").fillna("").tolist(),
                strict=True,
            )
        }
        m = mirror.memberships
        self.members = set(zip(m["group_key"].tolist(), m["external_id"].tolist(), strict=True))
        a = mirror.assignments
        self.assigned = set(
            zip(a["external_id"].tolist(), a["kind"].tolist(), a["item_id"].tolist(), strict=True)
        )
        self.touched: set[str] = set()

    def user(self, ext: str, remote_id: str, match_value: str, active: bool, attrs: Any) -> None:
        self.users[ext] = {
            "remote_id": remote_id,
            "match_value": match_value,
            "active": active,
            "attrs": dict(attrs),
        }
        self.touched.add(ext)

    def apply(self, op: Op, remote_ids: Mapping[str, str]) -> None:
        match op:
            case CreateUser():
                remote = remote_ids.get(op.key, "")
                self.user(op.external_id, remote, op.match_value, op.active, op.attrs)
            case LinkUser():
                self.user(op.external_id, op.remote_id, op.match_value, op.active, op.attrs)
            case UpdateUser():
                row = self.users[op.external_id]
                for name, _old, new in op.changes:
                    row["attrs"][name] = new
                if op.match_value is not None:
                    row["match_value"] = op.match_value
                self.touched.add(op.external_id)
            case DeactivateUser():
                self.users[op.external_id]["active"] = False
            case ReactivateUser():
                self.users[op.external_id]["active"] = True
            case DeleteUser():
                self.users.pop(op.external_id, None)
                self.hashes.pop(op.external_id, None)
                self.members = {m for m in self.members if m[1] != op.external_id}
                self.assigned = {a for a in self.assigned if a[0] != op.external_id}
            case CreateGroup():
                remote = remote_ids.get(op.key, "")
                self.groups[op.group_key] = {
                    "remote_id": remote,
                    "name": op.name,
                    "parent_key": op.parent_key,
                }
            case LinkGroup():
                self.groups[op.group_key] = {
                    "remote_id": op.remote_id,
                    "name": op.name,
                    "parent_key": op.parent_key,
                }
            case UpdateGroup():
                self.groups[op.group_key].update(name=op.name, parent_key=op.parent_key)
            case AddMembers():
                self.members.update((op.group_key, ext) for ext in op.external_ids)
            case RemoveMember():
                self.members.discard((op.group_key, op.external_id))
            case AssignCourses():
                self.assigned.update((op.external_id, "course", c) for c in op.course_ids)
            case AssignLearningPaths():
                self.assigned.update(
                    (op.external_id, "learning_path", p) for p in op.learning_path_ids
                )
            case UnassignCourse():
                self.assigned.discard((op.external_id, "course", op.course_id))
            case UnassignLearningPath():
                self.assigned.discard((op.external_id, "learning_path", op.learning_path_id))
            case _:
                raise TypeError(f"apply() does not know op kind {op.kind!r}")

    def mirror(self) -> Mirror:
        for ext in self.touched:
            if ext in self.users:
                row = self.users[ext]
                self.hashes[ext] = hash_attrs(ext, row["match_value"], row["attrs"])
        ids = sorted(self.users)
        users = pd.DataFrame(
            {
                "external_id": pd.Series(ids, dtype="str"),
                "remote_id": pd.Series([self.users[e]["remote_id"] for e in ids], dtype="str"),
                "match_value": pd.Series([self.users[e]["match_value"] for e in ids], dtype="str"),
                "active": pd.Series([self.users[e]["active"] for e in ids], dtype="bool"),
                "attrs": pd.Series([self.users[e]["attrs"] for e in ids], dtype="object"),
                "attrs_hash": pd.Series([self.hashes[e] for e in ids], dtype="str"),
            }
        )
        keys = sorted(self.groups)
        groups = pd.DataFrame(
            {
                "key": pd.Series(keys, dtype="str"),
                **{
                    col: pd.Series([self.groups[k][col] for k in keys], dtype="str")
                    for col in ("remote_id", "name", "parent_key")
                },
            }
        )
        return Mirror(
            users=users,
            groups=groups[list(MIRROR_COLUMNS["groups"])],
            memberships=_frame(sorted(self.members), "memberships"),
            assignments=_frame(sorted(self.assigned), "assignments"),
        )


def _frame(rows: list[tuple[str, ...]], name: str) -> pd.DataFrame:
    labels = MIRROR_LABELS[name]
    columns = {}
    for at, column in enumerate(MIRROR_COLUMNS[name]):
        values = [r[at] for r in rows]
        columns[column] = pd.Series(
            label_column(values) if column in labels else pd.Series(values, dtype="str")
        )
    return pd.DataFrame(columns)


def apply(
    plan: Plan | Iterable[Op], mirror: Mirror, *, remote_ids: Mapping[str, str] | None = None
) -> Mirror:
    """The mirror after every op of ``plan`` is confirmed, in order (pure: a new Mirror)."""
    ops = plan.ops if isinstance(plan, Plan) else tuple(plan)
    state = _State(mirror)
    for op in ops:
        state.apply(op, remote_ids or {})
    return state.mirror()
