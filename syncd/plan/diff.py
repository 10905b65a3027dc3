"""Diff: desired state against the mirror, as typed ops in batch form, in execution order.

Users are diffed in ``syncd.plan.users``; here groups, memberships and assignments, and the
final ordering. Membership and assignment sets are compared through one factorisation of
both sides (vectorised; no loop over people). Policies:

- memberships no longer desired are removed for people with a live account when
  ``remove_memberships`` is on; a leaver's memberships and courses are left as they are;
- courses and learning paths no rule gives any more are unassigned only when
  ``unassign_courses`` is on; what the mirror already holds is never assigned again;
- groups are created (or, with a listing, linked) parents first, renamed or moved, never
  deleted.

Ops come out in a fixed order (groups, users, memberships, assignments, deactivations),
sorted by subject inside each kind; every op names the keys of the ops it needs first
(a membership its user and group, an assignment its user, a child group its parent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from syncd.config import DeprovisionConfig
from syncd.plan.desired import Desired
from syncd.plan.hashing import hash_columns
from syncd.plan.model import Listing, Mirror, VendorProfile
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    LinkGroup,
    Op,
    RemoveMember,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
)
from syncd.plan.users import UserDiff, effective_users, isin


@dataclass(frozen=True)
class DiffResult:
    """The ops, the people left out and why, and numbers the safeguards need."""

    ops: tuple[Op, ...]
    skipped: pd.DataFrame
    population: int
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- groups


def _group_ops(
    desired: Desired, mirror: Mirror, listing: Listing | None
) -> tuple[list[Op], dict[str, str]]:
    """Create (or link, or rename) groups parents first; returns group key -> op key."""
    known = {
        key: (name, parent, remote)
        for key, name, parent, remote in zip(
            mirror.groups["key"].astype("str").tolist(),
            mirror.groups["name"].astype("str").tolist(),
            mirror.groups["parent_key"].astype("str").fillna("").tolist(),
            mirror.groups["remote_id"].astype("str").fillna("").tolist(),
            strict=True,
        )
    }
    remote_of = {key: value[2] for key, value in known.items()}
    remote_groups: dict[tuple[str, str], str | None] = {}
    if listing is not None:
        taken = set(remote_of.values())
        for remote_id, name, parent in zip(
            listing.groups["remote_id"].astype("str").tolist(),
            listing.groups["name"].astype("str").tolist(),
            listing.groups["parent_remote_id"].astype("str").fillna("").tolist(),
            strict=True,
        ):
            slot = (name.casefold(), parent)
            usable = remote_id not in taken and slot not in remote_groups
            remote_groups[slot] = remote_id if usable else None
    ops: list[Op] = []
    ready: dict[str, str] = {}
    for key, name, parent in zip(
        desired.groups["key"].tolist(),
        desired.groups["name"].tolist(),
        desired.groups["parent_key"].tolist(),
        strict=True,
    ):
        after = (ready[parent],) if parent in ready else ()
        if key in known:
            old_name, old_parent, _ = known[key]
            if (old_name, old_parent) != (name, parent):
                update = UpdateGroup(group_key=key, name=name, parent_key=parent, depends_on=after)
                ops.append(update)
                ready[key] = update.key
            continue
        parent_remote = remote_of.get(parent, "") if parent else ""
        found = remote_groups.get((name.casefold(), parent_remote))
        if found and (not parent or parent_remote):
            op: Op = LinkGroup(
                group_key=key, name=name, parent_key=parent, remote_id=found, depends_on=after
            )
            remote_of[key] = found
        else:
            op = CreateGroup(group_key=key, name=name, parent_key=parent, depends_on=after)
        ops.append(op)
        ready[key] = op.key
    return ops, ready


# --------------------------------------------------------------------------- sets


def _presence(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each hash of each side, whether it occurs on the other side.

    One hash table over ``right`` answers both directions when its values are distinct
    (the mirror's rows are: the database keeps them unique).
    """
    if not len(left) or not len(right):
        return np.zeros(len(left), dtype=bool), np.zeros(len(right), dtype=bool)
    index = pd.Index(right)
    if not index.is_unique:
        return (
            pd.Series(left).isin(pd.Series(right)).to_numpy(),
            pd.Series(right).isin(pd.Series(left)).to_numpy(),
        )
    found = index.get_indexer(left)
    in_right = found >= 0
    in_left = np.zeros(len(right), dtype=bool)
    in_left[found[in_right]] = True
    return in_right, in_left


def _row_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    if not len(frame):
        return np.zeros(0, dtype=np.uint64)
    return hash_columns(*(frame[c] for c in columns))


def _drop_people(frame: pd.DataFrame, people: pa.Array) -> pd.DataFrame:
    """Rows of ``frame`` whose ``external_id`` is not among ``people``."""
    if not len(frame) or not len(people):
        return frame
    return frame.loc[~isin(frame["external_id"], people)]


def _chunks(items: Sequence[str], size: int | None) -> Iterator[tuple[str, ...]]:
    if not size or size >= len(items):
        yield tuple(items)
        return
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


def _grouped(frame: pd.DataFrame, by: str, values: str) -> Iterator[tuple[str, list[str]]]:
    """(key, sorted distinct values) per key, keys sorted."""
    if not len(frame):
        return
    ordered = frame.drop_duplicates([by, values]).sort_values([by, values], kind="stable")
    keys = ordered[by].tolist()
    items = ordered[values].tolist()
    start = 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or keys[end] != keys[start]:
            yield keys[start], items[start:end]
            start = end


def _needs(ready: Mapping[str, tuple[str, ...]], people: Iterable[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for person in people:
        keys.extend(ready.get(person, ()))
    return tuple(keys)


def _membership_ops(
    desired: Desired,
    mirror: Mirror,
    not_live: pa.Array,
    user_ready: Mapping[str, tuple[str, ...]],
    group_ready: Mapping[str, str],
    profile: VendorProfile,
    policy: DeprovisionConfig,
) -> tuple[list[Op], list[Op]]:
    wanted = desired.memberships
    held = mirror.memberships
    columns = ("group_key", "external_id")
    in_mirror, still_wanted = _presence(_row_hashes(wanted, columns), _row_hashes(held, columns))
    adds = _drop_people(wanted.loc[~in_mirror], not_live)
    add_ops: list[Op] = []
    for group, members in _grouped(adds, "group_key", "external_id"):
        for chunk in _chunks(members, profile.max_members_per_call):
            after = ((group_ready[group],) if group in group_ready else ()) + _needs(
                user_ready, chunk
            )
            add_ops.append(AddMembers(group_key=group, external_ids=chunk, depends_on=after))
    remove_ops: list[Op] = []
    if policy.remove_memberships and len(held):
        gone = _drop_people(held.loc[~still_wanted], not_live)
        gone = gone.sort_values(["group_key", "external_id"], kind="stable")
        for group, person in zip(
            gone["group_key"].tolist(), gone["external_id"].tolist(), strict=True
        ):
            remove_ops.append(RemoveMember(group_key=group, external_id=person))
    return add_ops, remove_ops


def _assignment_ops(
    desired: Desired,
    mirror: Mirror,
    not_live: pa.Array,
    user_ready: Mapping[str, tuple[str, ...]],
    profile: VendorProfile,
    policy: DeprovisionConfig,
) -> tuple[list[Op], list[Op]]:
    wanted = desired.assignments
    held = mirror.assignments
    columns = ("external_id", "kind", "item_id")
    in_mirror, still_wanted = _presence(_row_hashes(wanted, columns), _row_hashes(held, columns))
    new = _drop_people(wanted.loc[~in_mirror], not_live)
    assign_ops: list[Op] = []
    for kind in ("course", "learning_path"):
        part = new.loc[new["kind"] == kind]
        for person, items in _grouped(part, "external_id", "item_id"):
            after = user_ready.get(person, ())
            for chunk in _chunks(items, profile.max_courses_per_call):
                if kind == "course":
                    assign_ops.append(
                        AssignCourses(external_id=person, course_ids=chunk, depends_on=after)
                    )
                else:
                    assign_ops.append(
                        AssignLearningPaths(
                            external_id=person, learning_path_ids=chunk, depends_on=after
                        )
                    )
    unassign_ops: list[Op] = []
    if policy.unassign_courses and len(held):
        gone = _drop_people(held.loc[~still_wanted], not_live)
        gone = gone.sort_values(["external_id", "kind", "item_id"], kind="stable")
        for person, kind, item in zip(
            gone["external_id"].tolist(),
            gone["kind"].tolist(),
            gone["item_id"].tolist(),
            strict=True,
        ):
            if kind == "course":
                unassign_ops.append(UnassignCourse(external_id=person, course_id=item))
            else:
                unassign_ops.append(UnassignLearningPath(external_id=person, learning_path_id=item))
    return assign_ops, unassign_ops


# --------------------------------------------------------------------------- entry


def _by_subject(ops: Iterable[Op]) -> list[Op]:
    return sorted(ops, key=lambda op: op.subject)


def diff(
    desired: Desired,
    mirror: Mirror,
    policy: DeprovisionConfig,
    profile: VendorProfile,
    *,
    listing: Listing | None = None,
) -> DiffResult:
    """Every op that brings the LMS from ``mirror`` to ``desired``, in execution order."""
    users, warnings = effective_users(mirror.users, listing)
    population = int(users["active"].to_numpy(dtype=bool).sum()) if len(users) else 0
    worker = UserDiff(desired, users, policy, listing)
    user_ops = worker.run()
    group_ops, group_ready = _group_ops(desired, mirror, listing)
    not_live = worker.not_live_ids()
    add_ops, remove_ops = _membership_ops(
        desired, mirror, not_live, user_ops.ready, group_ready, profile, policy
    )
    assign_ops, unassign_ops = _assignment_ops(
        desired, mirror, not_live, user_ops.ready, profile, policy
    )
    ops: list[Op] = [
        *group_ops,
        *_by_subject(user_ops.links),
        *_by_subject(user_ops.creates),
        *_by_subject(user_ops.reactivations),
        *_by_subject(user_ops.updates),
        *add_ops,
        *remove_ops,
        *assign_ops,
        *unassign_ops,
        *_by_subject(user_ops.deactivations),
        *_by_subject(user_ops.deletions),
    ]
    skipped = pd.DataFrame(sorted(user_ops.skipped), columns=["external_id", "reason"], dtype="str")
    return DiffResult(
        ops=tuple(ops),
        skipped=skipped,
        population=population,
        warnings=(*desired.warnings, *warnings),
    )


def group_by_kind(ops: Iterable[Op]) -> dict[str, list[Op]]:
    """Ops by kind, in plan order (for counts and display)."""
    found: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        found[op.kind].append(op)
    return dict(found)
