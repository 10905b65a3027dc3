"""Correct the mirror to a full listing of the LMS: the truth, before the plan is made.

The mirror is what syncd has confirmed the LMS holds; a person working in the LMS by hand
can make it wrong (delete an account or a team, take someone out of a team, remove a
course, deactivate an account, edit a field). A full reconcile lists the LMS
(``syncd.vendors``), :func:`correct` brings the loaded mirror in line with that listing
and names what differed (:class:`~syncd.plan.drift.Drift`), and the pure plan diffs the
desired state against the corrected mirror as always: the repairs are ordinary ops.
:func:`record` writes the same correction to the state database, so that a repair that
fails (a dead op) is planned again by the next plain run instead of being forgotten.

The listing is believed only where it can speak: an account or team the mirror links and
the listing lacks is gone; a membership is missing only when its team's members were
listed and the person's account is active (Litmos lists active members only); a course or
learning path assignment only when its holders were listed and the account is active.
Memberships and courses the LMS holds beyond the mirror (added by hand) are left as they
are: syncd does not take away what an administrator granted as an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import delete

from syncd.plan.drift import Drift
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import Listing, Mirror
from syncd.plan.users import as_attrs_list
from syncd.state import mirror as mirror_rows
from syncd.state import versions
from syncd.state.mirror_query import Db
from syncd.state.models import MirrorGroup, MirrorMembership


@dataclass
class _Users:
    """The users frame corrected, and what differed."""

    frame: pd.DataFrame
    gone: set[str] = field(default_factory=set)
    deactivated: set[str] = field(default_factory=set)
    activated: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    live_remote: dict[str, str] = field(default_factory=dict)
    """external_id -> remote id of the accounts the listing shows active."""


def correct(mirror: Mirror, listing: Listing) -> tuple[Mirror, Drift]:
    """The mirror as the listing shows the LMS, and the drift found (see module docstring)."""
    users = _users(mirror.users, listing)
    groups, groups_gone, renamed = _groups(mirror.groups, listing)
    remote_group = dict(
        zip(groups["key"].astype("str"), groups["remote_id"].astype("str"), strict=True)
    )
    memberships = mirror.memberships
    keep = ~(
        memberships["external_id"].astype("str").isin(users.gone)
        | memberships["group_key"].astype("str").isin(groups_gone)
    ).to_numpy(dtype=bool)
    memberships = memberships[keep]
    listed_members = set(
        zip(
            listing.memberships["group_remote_id"].astype("str"),
            listing.memberships["user_remote_id"].astype("str"),
            strict=True,
        )
    )
    members_gone = {
        (group, person)
        for group, person in zip(
            memberships["group_key"].astype("str"),
            memberships["external_id"].astype("str"),
            strict=True,
        )
        if remote_group.get(group, "") in listing.member_scope
        and person in users.live_remote
        and (remote_group[group], users.live_remote[person]) not in listed_members
    }
    memberships = _without(memberships, ("group_key", "external_id"), members_gone)
    assignments = mirror.assignments
    assignments = assignments[
        ~assignments["external_id"].astype("str").isin(users.gone).to_numpy(dtype=bool)
    ]
    listed_holders = set(
        zip(
            listing.assignments["user_remote_id"].astype("str"),
            listing.assignments["kind"].astype("str"),
            listing.assignments["item_id"].astype("str"),
            strict=True,
        )
    )
    assignments_gone = {
        (person, kind, item)
        for person, kind, item in zip(
            assignments["external_id"].astype("str"),
            assignments["kind"].astype("str"),
            assignments["item_id"].astype("str"),
            strict=True,
        )
        if (kind, item) in listing.assignment_scope
        and person in users.live_remote
        and (users.live_remote[person], kind, item) not in listed_holders
    }
    assignments = _without(assignments, ("external_id", "kind", "item_id"), assignments_gone)
    drift = Drift(
        accounts_gone=frozenset(users.gone),
        deactivated=frozenset(users.deactivated),
        activated=frozenset(users.activated),
        fields=frozenset(users.fields),
        groups_gone=frozenset(groups_gone),
        groups_renamed=frozenset(renamed),
        memberships_gone=frozenset(members_gone),
        assignments_gone=frozenset(assignments_gone),
    )
    if drift.empty:
        return mirror, drift
    return Mirror(users.frame, groups, memberships, assignments), drift


def _users(users: pd.DataFrame, listing: Listing) -> _Users:
    """Accounts gone from the LMS dropped; active flag and managed fields as listed.

    Only the fields the mirror records (those syncd manages) are taken from the listing,
    so the mirror does not fill up with every field the vendor shows.
    """
    listed = listing.users
    present = set(listed["remote_id"].astype("str"))
    unique = listed.drop_duplicates("remote_id", keep=False)
    shown = dict(
        zip(
            unique["remote_id"].astype("str"),
            zip(unique["active"].to_numpy(dtype=bool).tolist(), unique["attrs"], strict=True),
            strict=True,
        )
    )
    found = _Users(users)
    if not len(users):
        return found
    ids = users["external_id"].astype("str").tolist()
    remote_ids = users["remote_id"].astype("str").fillna("").tolist()
    values = users["match_value"].astype("str").fillna("").tolist()
    active = users["active"].to_numpy(dtype=bool, copy=True)
    attrs = users["attrs"].to_numpy(dtype=object, copy=True)
    hashes = users["attrs_hash"].astype(object).to_numpy(copy=True)
    decoded = as_attrs_list(attrs.tolist())
    kept = np.ones(len(users), dtype=bool)
    for row, (external_id, remote_id) in enumerate(zip(ids, remote_ids, strict=True)):
        if not remote_id:
            continue
        if remote_id not in present:
            found.gone.add(external_id)
            kept[row] = False
            continue
        if remote_id not in shown:
            continue
        listed_active, listed_attrs = shown[remote_id]
        if listed_active:
            found.live_remote[external_id] = remote_id
        if listed_active != active[row]:
            (found.activated if listed_active else found.deactivated).add(external_id)
            active[row] = listed_active
        old = decoded[row]
        new = {name: str(listed_attrs.get(name, value)) for name, value in old.items()}
        if new != old:
            found.fields.add(external_id)
            attrs[row] = new
            hashes[row] = hash_attrs(external_id, values[row], new)
    frame = users.assign(
        active=active,
        attrs=pd.Series(attrs, index=users.index, dtype=object),
        attrs_hash=pd.Series(hashes, index=users.index, dtype="str"),
    )
    found.frame = frame[kept].reset_index(drop=True)
    return found


def _groups(groups: pd.DataFrame, listing: Listing) -> tuple[pd.DataFrame, set[str], set[str]]:
    """Teams gone from the LMS dropped, and names as the LMS shows them."""
    names = dict(
        zip(
            listing.groups["remote_id"].astype("str"),
            listing.groups["name"].astype("str"),
            strict=True,
        )
    )
    gone: set[str] = set()
    renamed: set[str] = set()
    corrected = groups["name"].astype("str").tolist()
    for row, (key, remote_id) in enumerate(
        zip(groups["key"].astype("str"), groups["remote_id"].astype("str").fillna(""), strict=True)
    ):
        if not remote_id:
            continue
        if remote_id not in names:
            gone.add(key)
        elif names[remote_id] != corrected[row]:
            renamed.add(key)
            corrected[row] = names[remote_id]
    if not gone and not renamed:
        return groups, gone, renamed
    frame = groups.assign(name=pd.Series(corrected, index=groups.index, dtype="str"))
    kept = ~frame["key"].astype("str").isin(gone).to_numpy(dtype=bool)
    return frame[kept].reset_index(drop=True), gone, renamed


def _without(
    frame: pd.DataFrame, columns: tuple[str, ...], pairs: AbstractSet[tuple[str, ...]]
) -> pd.DataFrame:
    """``frame`` less the rows whose ``columns`` are one of ``pairs``."""
    if not pairs:
        return frame.reset_index(drop=True)
    keys = zip(*(frame[c].astype("str") for c in columns), strict=True)
    kept = np.array([key not in pairs for key in keys], dtype=bool)
    return frame[kept].reset_index(drop=True)


# --------------------------------------------------------------------------- recording


def record(db: Db, connection: str, mirror: Mirror, drift: Drift, *, now: datetime) -> None:
    """Write the correction :func:`correct` made (``mirror`` is its result) to the database.

    Meant for the caller's transaction. Each step is one of the mirror's own idempotent
    changes, so recording twice leaves the same rows.
    """
    users = mirror.users.set_index(mirror.users["external_id"].astype("str"))
    for external_id in sorted(drift.accounts_gone):
        mirror_rows.delete_user(db, connection, external_id)
    for external_id in sorted(drift.deactivated | drift.activated):
        active = bool(users.at[external_id, "active"])
        mirror_rows.set_active(db, connection, external_id, active, now=now)
    for external_id, attrs in zip(
        sorted(drift.fields),
        as_attrs_list(users.loc[sorted(drift.fields), "attrs"].tolist()),
        strict=True,
    ):
        mirror_rows.update_user(db, connection, external_id, attrs=attrs, now=now)
    _forget_groups(db, connection, drift.groups_gone)
    groups = mirror.groups.set_index(mirror.groups["key"].astype("str"))
    for key in sorted(drift.groups_renamed):
        mirror_rows.upsert_group(
            db,
            connection,
            key,
            name=str(groups.at[key, "name"]),
            parent_key=str(groups.at[key, "parent_key"]) or None,
            remote_id=None,
            now=now,
        )
    for group_key, external_id in sorted(drift.memberships_gone):
        mirror_rows.remove_membership(db, connection, group_key, external_id)
    for external_id, kind, item_id in sorted(drift.assignments_gone):
        mirror_rows.remove_assignment(db, connection, external_id, kind, item_id)
    versions.bump(db, connection)


def _forget_groups(db: Db, connection: str, keys: Iterable[str]) -> None:
    """Forget teams deleted from the LMS, with their memberships."""
    chosen = sorted(keys)
    if not chosen:
        return
    for model, column in (
        (MirrorMembership, MirrorMembership.group_key),
        (MirrorGroup, MirrorGroup.key),
    ):
        db.execute(delete(model).where(model.connection == connection, column.in_(chosen)))
