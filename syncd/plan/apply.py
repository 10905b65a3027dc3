"""The mirror a plan leads to once every op is confirmed: the plan side of op effects.

Each op's effect is defined once, in :mod:`syncd.plan.effects`; this module applies those
changes to plain dicts and sets and rebuilds the Mirror frames, and the outbox turns the
very same changes into SQL when the worker records a done op. The property tests use
:func:`apply` to check that a plan leads from the mirror to the desired state, that
planning again then finds nothing to do, and that the worker's mirror is the same.

A create has no remote id until the vendor answers: ``remote_ids`` (keyed by op key) gives
the one it reported; without it a new row has ``""`` and a known row keeps its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from syncd.plan.effects import (
    AddAssignments,
    AddMemberships,
    Change,
    ForgetUser,
    MergeUser,
    MoveUser,
    PutGroup,
    PutUser,
    RemoveAssignment,
    RemoveMembership,
    SetActive,
    effects,
)
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, MIRROR_LABELS, Mirror, Plan, label_column
from syncd.plan.ops import Op


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

    def change(self, change: Change) -> None:
        match change:
            case PutUser():
                known = self.users.get(change.external_id, {}).get("remote_id", "")
                self.users[change.external_id] = {
                    "remote_id": known if change.remote_id is None else change.remote_id,
                    "match_value": change.match_value,
                    "active": change.active,
                    "attrs": dict(change.attrs),
                }
                self.touched.add(change.external_id)
            case MergeUser():
                row = self.users[change.external_id]
                row["attrs"].update(change.attrs)
                if change.match_value is not None:
                    row["match_value"] = change.match_value
                self.touched.add(change.external_id)
            case SetActive():
                self.users[change.external_id]["active"] = change.active
            case ForgetUser():
                ext = change.external_id
                self.users.pop(ext, None)
                self.hashes.pop(ext, None)
                self.members = {m for m in self.members if m[1] != ext}
                self.assigned = {a for a in self.assigned if a[0] != ext}
            case MoveUser():
                self._move(change)
            case PutGroup():
                known = self.groups.get(change.group_key, {}).get("remote_id", "")
                self.groups[change.group_key] = {
                    "remote_id": known if change.remote_id is None else change.remote_id,
                    "name": change.name,
                    "parent_key": change.parent_key,
                }
            case AddMemberships():
                self.members.update((change.group_key, ext) for ext in change.external_ids)
            case RemoveMembership():
                self.members.discard((change.group_key, change.external_id))
            case AddAssignments():
                self.assigned.update((change.external_id, change.kind, i) for i in change.item_ids)
            case RemoveAssignment():
                self.assigned.discard((change.external_id, change.kind, change.item_id))

    def _move(self, change: MoveUser) -> None:
        old, new = change.previous_id, change.external_id
        row = self.users.pop(old, None)
        if row is None or old == new:
            if row is not None:
                self.users[old] = row
            return
        self.hashes.pop(old, None)
        if change.remote_id is not None:
            row["remote_id"] = change.remote_id
        if change.match_value is not None:
            row["match_value"] = change.match_value
        self.users[new] = row
        self.touched.add(new)
        self.members = {(g, new if e == old else e) for g, e in self.members}
        self.assigned = {(new if e == old else e, k, i) for e, k, i in self.assigned}

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
    ids = remote_ids or {}
    state = _State(mirror)
    for op in ops:
        for change in effects(op, remote_id=ids.get(op.key)):
            state.change(change)
    return state.mirror()
