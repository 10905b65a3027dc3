"""Diff: desired state against the mirror, as typed ops in batch form, in execution order.

Users are diffed in ``syncd.plan.users``; here groups, memberships and assignments, and the
final ordering. Membership and assignment sets are compared as integer pairs
(``syncd.plan.sets``: vectorised, no loop over people, no string per person); only the
pairs that become ops are turned back into text. Policies:

- memberships no longer desired are removed for people with a live account when
  ``remove_memberships`` is on; a leaver's memberships and courses are left as they are;
- courses and learning paths no rule gives any more are unassigned only when
  ``unassign_courses`` is on; what the mirror already holds is never assigned again;
  leavers' and movers' assignments follow ``leaver_courses``/``mover_courses``, and a
  completed one is never unassigned (``syncd.plan.learning``);
- groups are created (or, with a listing, linked) parents first, renamed or moved, never
  deleted; a desired group whose key the mirror holds in another case only ("org:SALES",
  "org:Sales") is that group, renamed under the mirror's key, as the LMS matches team
  names ignoring case.

Ops come out in a fixed order (groups, users, memberships, assignments, deactivations),
sorted by subject inside each kind; every op names the keys of the ops it needs first
(a membership its user and group, an assignment its user, a child group its parent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import partial
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa

from syncd.config import DeprovisionConfig
from syncd.plan import learning, sets
from syncd.plan.absence import AbsenceHistory, Tally
from syncd.plan.batching import chunks
from syncd.plan.course_people import course_people_ops
from syncd.plan.desired import Desired, group_aliases, mirror_twins
from syncd.plan.group_courses import GroupScene, candidates, group_course_ops
from syncd.plan.model import Listing, Mirror, VendorProfile
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    LinkGroup,
    Op,
    RemoveMember,
    ReplaceMemberships,
    UpdateGroup,
)
from syncd.plan.replace_members import replace_ops
from syncd.plan.sets import Pairs, arrow_text, label_codes, rows_of
from syncd.plan.users import Pairing, UserDiff, effective_users, same_texts


@dataclass(frozen=True)
class DiffResult:
    """The ops, the people left out and why, and numbers the safeguards need."""

    ops: tuple[Op, ...]
    skipped: pd.DataFrame
    population: int
    warnings: tuple[str, ...] = ()
    absence: Tally | None = None
    """Who is pending deactivation, and the absence history to store (``syncd.plan.absence``)."""
    reasons: Mapping[str, str] = field(default_factory=dict)
    """Op key -> the setting that planned that unassignment (``syncd.plan.learning``)."""
    present: int = 0
    """Active synced people found in the export (the wrong-file safeguard)."""
    matched: int = 0
    """People of the export that syncd knows, active or not (the same)."""


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
    alias = _aliases(desired, mirror)
    for key, name, parent in zip(
        desired.groups["key"].tolist(),
        desired.groups["name"].tolist(),
        desired.groups["parent_key"].tolist(),
        strict=True,
    ):
        key, parent = alias.get(key, key), alias.get(parent, parent)
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


def _aliases(desired: Desired, mirror: Mirror) -> dict[str, str]:
    """Desired group keys that the mirror holds in another case only -> the mirror's key
    (:func:`syncd.plan.desired.group_aliases`): a case-only rename is the same group."""
    held = mirror.groups["key"].astype("str").tolist()
    return group_aliases(desired.groups["key"].tolist(), held)


# --------------------------------------------------------------------------- sets


@dataclass(frozen=True)
class _Change:
    """(external_id, label) pairs to add and to remove, each pair once; ``added_rows`` the
    desired people's row of each added pair (empty when not worked out)."""

    added: list[tuple[str, Hashable]]
    removed: list[tuple[str, Hashable]]
    added_rows: Sequence[int] = ()


@dataclass(frozen=True)
class _Compared:
    """Both sides of one set as integer keys (``row * width + code``), with the pairs each
    side lacks, before anyone's account is known to be live (see :func:`_compare`)."""

    want: np.ndarray
    missing: np.ndarray
    held: np.ndarray
    unwanted: np.ndarray
    width: int
    names: tuple[Hashable, ...]

    def change(self, ids: pd.Series, live: np.ndarray, *, removals: bool) -> _Change:
        """What to add and remove for ``live`` people only.

        People who will hold no active synced account after this plan (leavers, skipped,
        absent, rejected this run) keep whatever they have: their pairs are left out.
        Filtering after comparing gives the same pairs as comparing only live people's:
        both sides of a person's pairs carry the same row.
        """
        width, names = self.width, self.names

        def texts(found: np.ndarray) -> tuple[list[tuple[str, Hashable]], list[int]]:
            rows, codes = np.divmod(np.unique(found), width)
            kept = live[rows]
            picked = ids.iloc[rows[kept]].tolist()
            pairs = [(i, names[c]) for i, c in zip(picked, codes[kept].tolist(), strict=True)]
            return pairs, rows[kept].tolist()

        added, rows = texts(self.want[self.missing])
        removed = texts(self.held[self.unwanted])[0] if removals else []
        return _Change(added, removed, rows)

    def kept(self, ids: pd.Series, chosen: np.ndarray) -> list[tuple[str, Hashable]]:
        """The held pairs still wanted, of the ``chosen`` people only (movers: few)."""
        found = self.held[~self.unwanted]
        rows, codes = np.divmod(np.unique(found), self.width)
        picked = chosen[rows]
        people = ids.iloc[rows[picked]].tolist()
        return [(i, self.names[c]) for i, c in zip(people, codes[picked].tolist(), strict=True)]


def _moved(members: _Compared, live: np.ndarray) -> np.ndarray:
    """Live people the export puts in a pushed group they are not in and out of one they
    are in: movers (``syncd.plan.learning``)."""
    gained = np.zeros(len(live), dtype=bool)
    lost = np.zeros(len(live), dtype=bool)
    gained[members.want[members.missing] // members.width] = True
    lost[members.held[members.unwanted] // members.width] = True
    return live & gained & lost


def _compare(wanted: Pairs, held_labels: sets.Labels, rows: np.ndarray) -> _Compared:
    """The desired pairs against the mirror's, for everyone in this export.

    ``held_labels`` are the mirror's labels, ``rows`` its people's rows among the desired
    people (-1: not in this export, never compared). Only integer and Arrow work, no
    pandas, so that it may run in another thread while the user diff runs.
    """
    labels: dict[Hashable, int] = {label: code for code, label in enumerate(wanted.labels)}
    codes = label_codes(held_labels, labels)
    width = max(len(labels), 1)
    want = sets.keys(wanted.rows, wanted.codes, width)
    ours = rows >= 0
    held = sets.keys(rows[ours], codes[ours], width)
    missing, unwanted = sets.compare(want, held)
    return _Compared(want, missing, held, unwanted, width, tuple(labels))


def _grouped(pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(key, sorted distinct values) per key, keys sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for key, value in pairs:
        found[key].add(value)
    for key in sorted(found):
        yield key, sorted(found[key])


def _needs(ready: Mapping[str, tuple[str, ...]], people: Iterable[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for person in people:
        keys.extend(ready.get(person, ()))
    return tuple(keys)


def _membership_ops(
    change: _Change,
    user_ready: Mapping[str, tuple[str, ...]],
    group_ready: Mapping[str, str],
    profile: VendorProfile,
) -> tuple[list[Op], list[Op]]:
    add_ops: list[Op] = []
    adds = ((str(group), person) for person, group in change.added)
    for group, members in _grouped(adds):
        for chunk in chunks(members, profile.max_members_per_call):
            after = ((group_ready[group],) if group in group_ready else ()) + _needs(
                user_ready, chunk
            )
            add_ops.append(AddMembers(group_key=group, external_ids=chunk, depends_on=after))
    gone = sorted((str(group), person) for person, group in change.removed)
    remove_ops: list[Op] = [
        RemoveMember(group_key=group, external_id=person, depends_on=_needs(user_ready, [person]))
        for group, person in gone
    ]
    return add_ops, remove_ops


def _items(pairs: Iterable[tuple[str, Hashable]]) -> Iterator[tuple[str, tuple[str, str]]]:
    """Assignment pairs with their (kind, item_id) label typed as such."""
    for person, label in pairs:
        yield person, cast(tuple[str, str], label)


def _assignment_ops(
    change: _Change, user_ready: Mapping[str, tuple[str, ...]], profile: VendorProfile
) -> list[Op]:
    assign_ops: list[Op] = []
    for kind in ("course", "learning_path"):
        chosen = ((p, item) for p, (of_kind, item) in _items(change.added) if of_kind == kind)
        for person, items in _grouped(chosen):
            after = user_ready.get(person, ())
            for chunk in chunks(items, profile.max_courses_per_call):
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
    return assign_ops


def _group_scene(
    desired: Desired,
    mirror: Mirror,
    change: _Change,
    membership_ops: Iterable[Op],
    group_ready: Mapping[str, str],
) -> GroupScene:
    """The groups as this plan leaves them, for :func:`group_course_ops` (keys as the
    plan's membership ops name them); members are worked out per question, for the few
    groups a rule is about, not for every membership of the mirror."""
    alias = _aliases(desired, mirror)
    tree = [
        (alias.get(key, key), alias.get(parent, parent))
        for key, parent in zip(
            desired.groups["key"].tolist(), desired.groups["parent_key"].tolist(), strict=True
        )
    ]
    added: dict[str, set[str]] = defaultdict(set)
    removed: dict[str, set[str]] = defaultdict(set)
    for person, group in change.added:
        added[str(group)].add(person)
    for person, group in change.removed:
        removed[str(group)].add(person)

    def members_after(groups: set[str]) -> set[str]:
        held = mirror.memberships[mirror.memberships["group_key"].isin(list(groups))]
        found: set[str] = set()
        for group, rows in held.groupby("group_key", observed=True)["external_id"]:
            found |= set(rows.astype("str").tolist()) - removed[str(group)]
        for group in groups:
            found |= added[group]
        return found

    waits: dict[str, list[str]] = defaultdict(list)
    for group, key in group_ready.items():
        waits[group].append(key)
    for op in membership_ops:
        if isinstance(op, AddMembers | RemoveMember):
            waits[op.group_key].append(op.key)
        if isinstance(op, ReplaceMemberships):
            for group in (op.group_key, *op.removed):
                waits[group].append(op.key)
    return GroupScene(
        members_after=members_after,
        groups=tree,
        waits_for={group: tuple(found) for group, found in waits.items()},
    )


# --------------------------------------------------------------------------- entry


def _wanted_per_row(members: _Compared, people: int, profile: VendorProfile) -> np.ndarray:
    """How many groups the export wants each desired person in (only worked out where a
    membership may be replaced: it sorts every wanted membership)."""
    if not profile.membership_replace:
        return np.zeros(people, dtype=np.int64)
    rows = np.unique(members.want) // members.width
    return np.bincount(rows, minlength=people)


def _by_subject(ops: Iterable[Op]) -> list[Op]:
    return sorted(ops, key=lambda op: op.subject)


def diff(
    desired: Desired,
    mirror: Mirror,
    policy: DeprovisionConfig,
    profile: VendorProfile,
    *,
    listing: Listing | None = None,
    index: MirrorIndex | None = None,
    pairing: Pairing | None = None,
    compared: Future[ComparedSets] | None = None,
    executor: Executor | None = None,
    absence: AbsenceHistory | None = None,
    completions: learning.Completions = learning.NOTHING_COMPLETED,
) -> DiffResult:
    """Every op that brings the LMS from ``mirror`` to ``desired``, in execution order.

    ``absence``: how long each absent person has been missing (none known when None: an
    absence then counts as the first). ``completions``: what the results say was finished
    (never unassigned; unknown: nothing is unassigned, see ``syncd.plan.learning``).

    What a caller worked out ahead may be passed in, and must be of these very inputs (a
    mismatch raises ValueError rather than planning from stale values): ``index``
    (:func:`index_mirror` of ``mirror``), ``pairing`` (:func:`~syncd.plan.users.pair` of
    ``desired`` and the users the diff compares), ``compared`` (:func:`compare_sets` of
    them, running or done). With ``executor`` the set comparison runs there while the
    user diff runs here; without, one after the other.
    """
    users, warnings = effective_users(mirror.users, listing)
    population = int(users["active"].to_numpy(dtype=bool).sum()) if len(users) else 0
    worker = UserDiff(desired, users, policy, listing, profile, pairing=pairing, absence=absence)
    group_ops, group_ready = _group_ops(desired, mirror, listing)
    index = _checked_index(index, mirror)
    known = worker.rows_of_users()
    # The set comparisons need the users' rows but not the user diff's outcome (who ends
    # up live filters them afterwards), so they may run meanwhile.
    if compared is None and executor is not None:
        compared = executor.submit(compare_sets, desired, mirror, index, known)
    if compared is None:
        sets_done = compare_sets(desired, mirror, index, known)
        user_ops = worker.run()
    else:
        user_ops = worker.run()
        sets_done = compared.result()
        sets_done.check(desired, index, known)
    ids, live = desired.people["external_id"], worker.live
    member_change = sets_done.members.change(ids, live, removals=policy.remove_memberships)
    replaced, adds, drops = replace_ops(
        member_change.added,
        member_change.added_rows,
        member_change.removed,
        _wanted_per_row(sets_done.members, len(ids), profile),
        user_ops.ready,
        group_ready,
        profile,
    )
    add_ops, remove_ops = _membership_ops(
        _Change(adds, drops), user_ops.ready, group_ready, profile
    )
    add_ops = [*add_ops, *replaced]
    assignments = sets_done.assignments.change(ids, live, removals=policy.unassign_courses)
    moved = _moved(sets_done.members, live)
    unwanted = list(_items(assignments.removed))
    if not policy.unassign_courses and policy.mover_courses != "keep" and moved.any():
        unwanted = list(_items(sets_done.assignments.change(ids, moved, removals=True).removed))
    deactivated = [op.external_id for op in user_ops.deactivations]
    decision = learning.decide(
        policy,
        completions,
        leavers=learning.held_items(mirror.assignments, deactivated)
        if policy.leaver_courses != "keep"
        else {},
        movers=frozenset(ids[moved].tolist()),
        unwanted=unwanted,
        still_given=_items(sets_done.assignments.kept(ids, moved))
        if policy.mover_courses == "reassign"
        else (),
    )
    scene = None
    if policy.remove_memberships and candidates(desired.rules, profile):
        scene = partial(
            _group_scene, desired, mirror, member_change, [*add_ops, *remove_ops], group_ready
        )
    group_assign_ops, one_by_one = group_course_ops(
        assignments.added,
        assignments.added_rows,
        desired.rules,
        ids,
        live,
        scene,
        user_ops.ready,
        profile,
    )
    people_ops, one_by_one = course_people_ops(one_by_one, user_ops.ready, profile)
    assign_ops = _assignment_ops(_Change(one_by_one, []), user_ops.ready, profile)
    assign_ops = [*group_assign_ops, *people_ops, *assign_ops]
    unassign_ops, reasons = learning.unassign_ops(decision, user_ops.ready)
    reassigned = learning.reassign_ops(
        decision, unassign_ops, user_ops.ready, profile.max_courses_per_call
    )
    deactivations = learning.after_unassignments(user_ops.deactivations, unassign_ops)
    ops: list[Op] = [
        *group_ops,
        *_by_subject(user_ops.rekeys),
        *_by_subject(user_ops.links),
        *_by_subject(user_ops.creates),
        *_by_subject(user_ops.reactivations),
        *_by_subject(user_ops.updates),
        *add_ops,
        *remove_ops,
        *assign_ops,
        *unassign_ops,
        *reassigned,
        *_by_subject(deactivations),
        *_by_subject(user_ops.deletions),
    ]
    skipped = pd.DataFrame(sorted(user_ops.skipped), columns=["external_id", "reason"], dtype="str")
    return DiffResult(
        ops=tuple(ops),
        skipped=skipped,
        population=population,
        warnings=(*desired.warnings, *warnings, *user_ops.warnings, *decision.warnings),
        absence=user_ops.absence,
        reasons=reasons,
        present=int(((known >= 0) & users["active"].to_numpy(dtype=bool)).sum()),
        matched=int((known >= 0).sum()),
    )


@dataclass(frozen=True, eq=False)
class MirrorIndex:
    """What the diff works out from a mirror alone, before any desired state is known.

    The person columns' runs (positions among the mirror's users) and the label codes of
    the memberships and assignments: a pipeline can make it while the export is still
    being read. It holds the frames it was made from, and :meth:`fits` a mirror only with
    those very frames and the same users in the same order (their fields may have been
    filled in since: the index never reads them), so a changed mirror cannot meet it.
    """

    groups: pd.DataFrame
    memberships: pd.DataFrame
    assignments: pd.DataFrame
    user_keys: pa.Array
    member_runs: sets.Runs
    member_labels: sets.Labels
    assignment_runs: sets.Runs
    assignment_labels: sets.Labels

    def fits(self, mirror: Mirror) -> bool:
        """Made from this mirror's groups, memberships and assignments, and its users."""
        return (
            self.groups is mirror.groups
            and self.memberships is mirror.memberships
            and self.assignments is mirror.assignments
            and same_texts(self.user_keys, _user_keys(mirror))
        )


def _user_keys(mirror: Mirror) -> pa.Array:
    return arrow_text(mirror.users["external_id"]).combine_chunks()


def index_mirror(mirror: Mirror) -> MirrorIndex:
    """The :class:`MirrorIndex` of ``mirror`` (pure; a fifth of a second at a million
    people's memberships and courses)."""
    users = _user_keys(mirror)
    return MirrorIndex(
        mirror.groups,
        mirror.memberships,
        mirror.assignments,
        users,
        sets.runs_of(arrow_text(mirror.memberships["external_id"]), users),
        sets.encode_labels([sets.label_array(mirror.memberships["group_key"])]),
        sets.runs_of(arrow_text(mirror.assignments["external_id"]), users),
        sets.encode_labels([sets.label_array(mirror.assignments[c]) for c in ("kind", "item_id")]),
    )


def _checked_index(index: MirrorIndex | None, mirror: Mirror) -> MirrorIndex:
    if index is None:
        return index_mirror(mirror)
    if not index.fits(mirror):
        raise ValueError("the mirror index was made from another mirror")
    return index


@dataclass(frozen=True, eq=False)
class ComparedSets:
    """Memberships and assignments compared (:func:`compare_sets`), with what they were
    compared from, so that a diff of other inputs refuses them (:meth:`check`)."""

    desired: Desired
    index: MirrorIndex
    known: np.ndarray
    members: _Compared
    assignments: _Compared

    def check(self, desired: Desired, index: MirrorIndex, known: np.ndarray) -> None:
        if self.desired is not desired or self.index is not index:
            raise ValueError("the set comparison was made for another desired state or mirror")
        if not np.array_equal(self.known, known):
            raise ValueError("the set comparison was made for another pairing of people")


def compare_sets(
    desired: Desired, mirror: Mirror, index: MirrorIndex, known: np.ndarray
) -> ComparedSets:
    """The desired memberships and assignments against the mirror's (see :func:`_compare`).

    ``known``: each mirror user's row among the desired people
    (:meth:`~syncd.plan.users.Pairing.user_rows`); the users' fields are not needed, so a
    pipeline may run this while it fetches them. Integer and Arrow work only.
    """
    if not index.fits(mirror):
        raise ValueError("the mirror index was made from another mirror")
    members = sets.relabel(desired.memberships, _aliases(desired, mirror))
    member_labels = index.member_labels
    twins = mirror_twins(desired.groups["key"].tolist(), mirror.groups["key"].astype("str"))
    if twins:
        named = tuple(twins.get(str(label), label) for label in member_labels.distinct)
        member_labels = sets.Labels(member_labels.codes, named)
    member_rows, assignment_rows = rows_of(
        [index.member_runs, index.assignment_runs], desired.external_ids, known=known
    )
    return ComparedSets(
        desired,
        index,
        known,
        _compare(members, member_labels, member_rows),
        _compare(desired.assignments, index.assignment_labels, assignment_rows),
    )


def group_by_kind(ops: Iterable[Op]) -> dict[str, list[Op]]:
    """Ops by kind, in plan order (for counts and display)."""
    found: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        found[op.kind].append(op)
    return dict(found)
