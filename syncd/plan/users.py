"""The user half of the diff: who is created, linked, updated, (re/de)activated or deleted.

People are paired with their mirror rows by the row hash first: one integer lookup pairs
everyone whose account and attributes are unchanged, so only the rest (usually a small
fraction) is joined on ``external_id`` and compared field by field.

Policies (``DeprovisionConfig``):

- a leaver (inactive in the HRIS) whose grace period is over is deactivated, deleted or left
  alone per ``on_termination``; a synced person missing from the export per ``on_absent``
  once the absence is confirmed (``absent_exports``/``absent_hours``, see
  ``syncd.plan.absence``: pending deactivation until then); a person whose row was rejected
  this run is neither; a person whose key changed (``previous_key``) is not absent;
- a leaver's account is otherwise left as it is (no attribute updates, and no account is
  ever created for a leaver);
- a returning person is reactivated when ``reactivate`` is on (then updated), else left
  inactive and untouched;
- while rejected rows that cannot be tied to a key (a blank key, a record that could not
  be read) are in the export, nobody is deprovisioned for absence: any of those rows may be
  the "absent" person. They are listed in ``skipped`` instead, with a warning; leavers
  whose row says so are still deprovisioned.

Values the vendor would refuse are never sent (``VendorProfile.required_fields`` and
``max_lengths``): a new person with a required field empty (or not mapped at all) or a
value over the documented length is not created, and an update that would send such a
value is not made; both are listed in ``skipped`` with the field. An account already
synced stays live (its memberships and courses are kept up), only its fields wait for the
export to be fixed.

Match values are compared without regard to case. A new person is not created when their
match value is empty, shared with another person of the export, or already used by another
synced account; they are listed in ``skipped`` with the reason instead. With a full
``Listing``, a new person whose match value exists in the LMS is linked (no vendor call),
then updated where the LMS differs from the desired state; and synced people are compared
with what the listing shows (drift) for the fields it shows.

A person whose HRIS key changed (the source's ``previous_key``, on a vendor that can follow
it: ``VendorProfile.rekey``) is paired with the account of their previous key and gets one
RekeyUser, which their other ops wait for, instead of a create and a deactivation
(:func:`_rekey` says when, and what is refused rather than guessed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import DeprovisionConfig
from syncd.plan.absence import AbsenceHistory, Tally
from syncd.plan.desired import Desired
from syncd.plan.hashing import hash_attrs, parse_hashes
from syncd.plan.model import Listing, VendorProfile
from syncd.plan.ops import (
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkUser,
    Op,
    ReactivateUser,
    RekeyUser,
    UpdateUser,
)
from syncd.plan.rules import to_mask
from syncd.plan.sets import arrow_text

Account = tuple[str, bool, dict[str, str]]
"""A remote account from a listing: remote id, active, attrs."""


@dataclass
class UserOps:
    """User-level ops per phase, and the keys each person's later ops must wait for."""

    rekeys: list[RekeyUser] = field(default_factory=list)
    links: list[LinkUser] = field(default_factory=list)
    creates: list[CreateUser] = field(default_factory=list)
    reactivations: list[ReactivateUser] = field(default_factory=list)
    updates: list[UpdateUser] = field(default_factory=list)
    deactivations: list[DeactivateUser] = field(default_factory=list)
    deletions: list[DeleteUser] = field(default_factory=list)
    ready: dict[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    absence: Tally = field(default_factory=lambda: Tally(AbsenceHistory()))
    """Absent people counted this export: who is pending deactivation, what to store."""

    def after(self, external_id: str, op: Op) -> None:
        self.ready[external_id] = (*self.ready.get(external_id, ()), op.key)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


class _NotLoaded:
    """The type of :data:`NOT_LOADED` (one instance, compared by identity)."""

    def __repr__(self) -> str:
        return "NOT_LOADED"


NOT_LOADED: Any = _NotLoaded()
"""A mirror ``attrs`` cell its loader left out: the diff reads ``attrs`` only where the row
hash differs (:func:`attrs_needed`), so ``syncd plan`` fetches those few and marks the rest
with this. Reading one is a bug and raises, rather than being taken for "no fields" (which
would plan an update of every field)."""


def as_attrs(value: Any) -> dict[str, str]:
    """A mirror attrs cell: a dict, or its JSON text (decoded only for rows looked at)."""
    if value is NOT_LOADED:
        raise ValueError("the diff read a mirror attrs cell that was not loaded")
    if isinstance(value, Mapping):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, str) and value:
        return {str(k): _text(v) for k, v in json.loads(value).items()}
    return {}


def as_attrs_list(values: Sequence[Any]) -> list[dict[str, str]]:
    """:func:`as_attrs` of many cells; JSON texts are decoded in one ``json.loads`` (ten
    thousand small documents one by one take a tenth of a second)."""
    texts = [v for v in values if isinstance(v, str) and v]
    if len(texts) < 2:
        return [as_attrs(v) for v in values]
    documents = json.loads("[" + ",".join(texts) + "]")
    if len(documents) != len(texts) or not all(isinstance(d, dict) for d in documents):
        return [as_attrs(v) for v in values]
    decoded = iter(documents)
    return [
        {str(k): _text(v) for k, v in next(decoded).items()}
        if isinstance(value, str) and value
        else as_attrs(value)
        for value in values
    ]


def fold(values: pd.Series) -> pd.Series:
    """Match values as compared: lower case (Unicode), never NaN; same index."""
    return pd.Series(pc.utf8_lower(arrow_text(values)), dtype="str", index=values.index)


def isin(values: pd.Series, members: pa.Array) -> np.ndarray:
    """``values.isin(members)`` through Arrow's hash lookup."""
    if not len(values) or not len(members):
        return np.zeros(len(values), dtype=bool)
    found = pc.is_in(arrow_text(values), value_set=members.cast(pa.large_string()))
    return to_mask(found)


# --------------------------------------------------------------------------- pairing


@dataclass(frozen=True, eq=False)
class Pairing:
    """Desired row -> mirror row (``-1``: none); ``same``: equal row hash (unchanged).

    Made by :func:`pair` for one desired state and one users frame, whose keys and row
    hashes it keeps: :meth:`fits` tells whether it still pairs a (possibly other) frame
    of the same users, e.g. the same mirror with some fields filled in since.
    """

    mirror_row: np.ndarray
    same: np.ndarray
    unpaired_mirror: np.ndarray
    desired: Desired
    user_keys: tuple[pa.ChunkedArray, pa.ChunkedArray]
    rekeyed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Desired rows paired with the mirror row of their previous key (:func:`_rekey`)."""
    refused: Mapping[int, str] = field(default_factory=dict)
    """Desired rows whose previous key cannot be followed safely -> why; such a person is
    neither rekeyed nor created, and the keys involved are not deprovisioned."""

    def user_rows(self, count: int) -> np.ndarray:
        """Each of the ``count`` mirror users' row among the desired people (-1: none)."""
        rows = np.full(count, -1, dtype=np.int64)
        paired = np.flatnonzero(self.mirror_row >= 0)
        rows[self.mirror_row[paired]] = paired
        return rows

    def fits(self, desired: Desired, users: pd.DataFrame) -> bool:
        """Made for this desired state and users with these keys and hashes, in order."""
        return self.desired is desired and all(
            same_texts(a, b) for a, b in zip(self.user_keys, _user_keys(users), strict=True)
        )


def _user_keys(users: pd.DataFrame) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    if not len(users):
        empty = pa.chunked_array([], pa.large_string())
        return empty, empty
    return arrow_text(users["external_id"]), arrow_text(users["attrs_hash"])


def checked_pairing(pairing: Pairing | None, desired: Desired, users: pd.DataFrame) -> Pairing:
    """``pairing`` when it was made for ``desired`` and ``users``, a new one when None."""
    if pairing is None:
        return pair(desired, users)
    if not pairing.fits(desired, users):
        raise ValueError("the pairing was made for another desired state or other users")
    return pairing


def same_texts(left: pa.ChunkedArray | pa.Array, right: pa.ChunkedArray | pa.Array) -> bool:
    """Same texts in the same order (no nulls: ``arrow_text`` filled them in)."""
    if left is right:
        return True
    if len(left) != len(right):
        return False
    return not len(left) or bool(pc.all(pc.equal(left, right)).as_py())


def pair(desired: Desired, users: pd.DataFrame) -> Pairing:
    """Pair people with mirror rows: by row hash, then the rest by ``external_id``.

    Pairing a million people takes a tenth of a second: a pipeline that pairs them once
    to choose which fields to load passes the result on to the diff.
    """
    count = len(desired.people)
    mirror_row = np.full(count, -1, dtype=np.int64)
    same = np.zeros(count, dtype=bool)
    if len(users):
        stored = parse_hashes(users["attrs_hash"])
        usable = np.flatnonzero(stored != 0)
        index = pd.Index(stored[usable])
        if index.is_unique:
            found = index.get_indexer(desired.hashes)
            same = found >= 0
            mirror_row[same] = usable[found[same]]
    paired = np.zeros(len(users), dtype=bool)
    paired[mirror_row[same]] = True
    rest_d = np.flatnonzero(~same)
    rest_m = np.flatnonzero(~paired)
    if len(rest_d) and len(rest_m):
        lookup = pd.Index(users["external_id"].iloc[rest_m].astype("str").to_numpy(dtype=object))
        wanted = desired.people["external_id"].iloc[rest_d].to_numpy(dtype=object)
        found = lookup.get_indexer(wanted)
        hit = found >= 0
        mirror_row[rest_d[hit]] = rest_m[found[hit]]
        paired[rest_m[found[hit]]] = True
    rekeyed, refused, held = _rekey(desired, users, mirror_row, paired)
    same &= mirror_row >= 0
    unpaired = np.flatnonzero(~paired & ~held)
    return Pairing(mirror_row, same, unpaired, desired, _user_keys(users), rekeyed, refused)


def _rekey(
    desired: Desired, users: pd.DataFrame, mirror_row: np.ndarray, paired: np.ndarray
) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
    """Pair people whose key changed with the account of their previous key (in place).

    A person whose key is not in the mirror is paired with the mirror row of their
    previous key when that key is synced, unpaired, and in no row of this export (a
    previous key still in the file is another person: two people, no rekey). What cannot
    be followed safely is refused rather than guessed: two people naming the same
    previous key, and chains (one person takes the key another moves away from in the same
    export: the order of the renames is not known), each refused person listed with the
    reason and the synced keys involved held from deprovisioning. A blank previous key,
    one equal to the person's own, or one the mirror does not hold changes nothing.

    Returns the rekeyed desired rows, the refused rows with why, and a mask of the mirror
    rows held.
    """
    held = np.zeros(len(users), dtype=bool)
    previous = desired.previous
    none = np.zeros(0, dtype=np.int64)
    if previous is None or not len(users):
        return none, {}, held
    ids = desired.people["external_id"].astype("str").to_numpy(dtype=object)
    prev = previous.to_numpy(dtype=object)
    named = np.flatnonzero((prev != "") & (prev != ids))
    if not len(named):
        return none, {}, held
    naming: dict[str, list[int]] = {}
    for row in named.tolist():
        naming.setdefault(str(prev[row]), []).append(row)
    # Only the few named keys are looked up, never a set of every key.
    wanted = pd.Index(sorted(naming), dtype=object)
    found = pd.Index(users["external_id"].astype("str").to_numpy(dtype=object)).get_indexer(wanted)
    at = {
        key: int(row) for key, row in zip(wanted.tolist(), found.tolist(), strict=True) if row >= 0
    }
    in_file = set(wanted[wanted.isin(ids)].tolist()) | (set(naming) & desired.held)

    def movable(key: str) -> bool:
        """A synced key nobody holds now, whose account may follow its person."""
        return key in at and not paired[at[key]] and key not in in_file

    refused: dict[int, str] = {}
    for key, rows in naming.items():
        if len(rows) > 1 and movable(key):
            # Only those who would take the account are refused: someone synced under
            # their own key keeps it, whatever previous key their row still carries.
            for row in (r for r in rows if mirror_row[r] < 0):
                refused[row] = (
                    f"previous key {key} is named by {len(rows)} people of this export: "
                    "not rekeyed, not created"
                )
    # A chain starts at a synced person who says they moved from a synced key while
    # someone else says they moved away from this person's key.
    chained = [
        row
        for row in named.tolist()
        if mirror_row[row] >= 0 and movable(str(prev[row])) and str(ids[row]) in naming
    ]
    why = "key changes chained in one export (a key is both taken and given up)"
    while chained:
        row = chained.pop()
        if row in refused and refused[row].startswith("key changes"):
            continue
        refused[row] = f"{why}: not rekeyed, not created; change one key per export"
        chained.extend(naming.get(str(ids[row]), ()))
    moves: list[int] = []
    for row in named.tolist():
        key = str(prev[row])
        if row in refused:
            if key in at and key not in in_file:
                held[at[key]] = True
            if mirror_row[row] >= 0:
                held[mirror_row[row]] = True
                paired[mirror_row[row]] = False
                mirror_row[row] = -1
            continue
        if mirror_row[row] < 0 and movable(key):
            mirror_row[row] = at[key]
            paired[at[key]] = True
            moves.append(row)
    return np.array(moves, dtype=np.int64), refused, held


def effective_users(users: pd.DataFrame, listing: Listing | None) -> tuple[pd.DataFrame, list[str]]:
    """With a full listing, synced accounts as the LMS shows them now (drift).

    The listing's values replace the mirror's for the fields the listing has; fields it
    does not show keep what the mirror knows.
    """
    if listing is None or not len(users):
        return users, []
    remote = listing.users.drop_duplicates("remote_id", keep=False).set_index("remote_id")
    remote_ids = users["remote_id"].astype("str").fillna("")
    seen = remote_ids.isin(remote.index).to_numpy(dtype=bool)
    warnings = []
    missing = int(((remote_ids != "").to_numpy(dtype=bool) & ~seen).sum())
    if missing:
        warnings.append(f"{missing} synced account(s) are missing from the LMS listing")
    if not seen.any():
        return users, warnings
    users = users.copy()
    rows = np.flatnonzero(seen)
    fresh = remote.loc[remote_ids.iloc[rows].tolist()]
    ids = users["external_id"].iloc[rows].tolist()
    values = users["match_value"].iloc[rows].tolist()
    attrs = users["attrs"].astype(object).to_numpy(copy=True)
    hashes = users["attrs_hash"].astype(object).to_numpy(copy=True)
    for i, (row, shown) in enumerate(zip(rows.tolist(), fresh["attrs"].tolist(), strict=True)):
        merged = {**as_attrs(attrs[row]), **as_attrs(shown)}
        attrs[row] = merged
        hashes[row] = hash_attrs(ids[i], values[i], merged)
    active = users["active"].to_numpy(dtype=bool, copy=True)
    active[rows] = fresh["active"].to_numpy(dtype=bool)
    users["attrs"] = pd.Series(attrs, index=users.index, dtype=object)
    users["attrs_hash"] = pd.Series(hashes, index=users.index, dtype="str")
    users["active"] = active
    return users, warnings


def attrs_needed(
    desired: Desired,
    users: pd.DataFrame,
    listing: Listing | None,
    pairing: Pairing | None = None,
) -> np.ndarray:
    """Mirror user rows (positions) whose ``attrs`` the diff may read; the rest it never does.

    The diff reads a mirror user's ``attrs`` only when no desired person has the same row
    hash (:func:`pair`: an equal hash means unchanged; one that differs is paired by
    ``external_id`` and its fields compared), or for every row when a listing is merged
    (:func:`effective_users`). This is :func:`pair`'s own rule, so it cannot drift from
    what the diff does, and a cell left out is :data:`NOT_LOADED`, which raises if read.
    A million people with 1 % churn need some ten thousand of them, which saves loading
    (and keeping) the rest: the largest part of the mirror.
    """
    if listing is not None:
        return np.arange(len(users), dtype=np.int64)
    pairing = checked_pairing(pairing, desired, users)
    by_hash = np.zeros(len(users), dtype=bool)
    by_hash[pairing.mirror_row[pairing.same]] = True
    return np.flatnonzero(~by_hash)


# --------------------------------------------------------------------------- ops


def _changes(
    fields: Sequence[str], old: Mapping[str, str], new: Sequence[str]
) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (name, old.get(name, ""), value)
        for name, value in zip(fields, new, strict=True)
        if old.get(name, "") != value
    )


def _note(
    problems: list[dict[str, str]], mask: pa.Array | pa.ChunkedArray, name: str, why: str
) -> None:
    """Record ``why`` against ``name`` for the rows ``mask`` marks (a missing value counts)."""
    marked = pc.fill_null(mask, True).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(marked).tolist():
        problems[i].setdefault(name, why)


def _refusal(verb: str, problems: Mapping[str, str]) -> str:
    return f"not {verb}: " + "; ".join(problems.values())


class UserDiff:
    """Works out every user-level op; remembers who ends up with a live account."""

    def __init__(
        self,
        desired: Desired,
        users: pd.DataFrame,
        policy: DeprovisionConfig,
        listing: Listing | None,
        profile: VendorProfile | None = None,
        *,
        pairing: Pairing | None = None,
        absence: AbsenceHistory | None = None,
    ) -> None:
        self.desired = desired
        self.users = users
        self.policy = policy
        self.listing = listing
        self.profile = profile
        self.ops = UserOps(absence=Tally(absence or AbsenceHistory()))
        self.pairing = checked_pairing(pairing, desired, users)
        people = desired.people
        self.ids = people["external_id"]
        self.values = people["match_value"]
        self.hr_active = people["active"].to_numpy(dtype=bool)
        self.due = people["due"].to_numpy(dtype=bool)
        row = self.pairing.mirror_row
        self.in_mirror = row >= 0
        mirror_active = users["active"].to_numpy(dtype=bool) if len(users) else np.zeros(0, bool)
        self.was_active = np.zeros(len(people), dtype=bool)
        self.was_active[self.in_mirror] = mirror_active[row[self.in_mirror]]
        self.live = np.zeros(len(people), dtype=bool)
        self.moved_match: dict[int, str] = {}
        """Rekeyed rows whose match value was the key: the rekey records the new one."""

    def run(self) -> UserOps:
        self._rekeys()
        self._existing()
        self._new()
        self._absent()
        return self.ops

    def rows_of_users(self) -> np.ndarray:
        """Each mirror user's row among the desired people (-1: not in this export)."""
        return self.pairing.user_rows(len(self.users))

    # ------------------------------------------------------------------ helpers

    def _desired_attrs(self, rows: np.ndarray) -> list[list[str]]:
        """Desired attribute values of ``rows``, row by row, in write order."""
        taken = pa.array(rows, pa.int64())
        columns = [pc.take(self.desired.attrs[f], taken).to_pylist() for f in self.desired.fields]
        if not columns:
            return [[] for _ in range(len(rows))]
        return [list(values) for values in zip(*columns, strict=True)]

    def _ids(self, rows: np.ndarray) -> list[str]:
        ids: list[str] = self.ids.iloc[rows].tolist()
        return ids

    def _values(self, rows: np.ndarray) -> list[str]:
        values: list[str] = self.values.iloc[rows].tolist()
        return values

    def _skip(self, row: int, reason: str) -> None:
        self.ops.skipped.append((self._ids(np.array([row]))[0], reason))

    def _refused(self, rows: np.ndarray, *, create: bool) -> list[dict[str, str]]:
        """Per row, the fields whose desired value the vendor would refuse, and why.

        Checked on the rows about to be sent only (new and changed people, a small share
        of a large export), with Arrow over just those rows. A required field the
        connection does not map is empty in a new account; an update leaves it as the LMS
        holds it, so it counts against creates only.
        """
        problems: list[dict[str, str]] = [{} for _ in range(len(rows))]
        profile = self.profile
        if profile is None or not len(rows):
            return problems
        vendor, attrs = profile.vendor, self.desired.attrs
        taken = pa.array(rows, pa.int64())
        for name in profile.required_fields:
            if name in attrs:
                values = pc.utf8_trim_whitespace(pc.take(attrs[name], taken))
                _note(
                    problems, pc.equal(values, ""), name, f"{name} is empty ({vendor} requires it)"
                )
            elif create:
                unmapped = pa.array(np.ones(len(rows), dtype=bool))
                why = f"{name} is not mapped in the connection's fields ({vendor} requires it)"
                _note(problems, unmapped, name, why)
        for name, limit in profile.max_lengths.items():
            if name in attrs:
                lengths = pc.utf8_length(pc.take(attrs[name], taken))
                why = f"{name} is longer than {vendor}'s {limit} characters"
                _note(problems, pc.greater(lengths, limit), name, why)
        return problems

    def _deprovision(self, external_id: str, active: bool, action: str, reason: str) -> None:
        after = self.ops.ready.get(external_id, ())
        if action == "deactivate" and active:
            self.ops.deactivations.append(
                DeactivateUser(external_id=external_id, reason=reason, depends_on=after)
            )
        elif action == "delete":
            self.ops.deletions.append(
                DeleteUser(external_id=external_id, reason=reason, depends_on=after)
            )

    def _reactivate(self, external_id: str) -> None:
        op = ReactivateUser(external_id=external_id, depends_on=self.ops.ready.get(external_id, ()))
        self.ops.reactivations.append(op)
        self.ops.after(external_id, op)

    def _update(
        self, rows: np.ndarray, before: Sequence[dict[str, str]], stored: Sequence[str | None]
    ) -> None:
        """UpdateUser for each row whose attrs (or match value) differ from ``before``."""
        fields = self.desired.fields
        wanted = self._desired_attrs(rows)
        refused = self._refused(rows, create=False)
        complete = self.profile is not None and self.profile.complete_updates
        for i, (external_id, value) in enumerate(
            zip(self._ids(rows), self._values(rows), strict=True)
        ):
            match_value = value if stored[i] is not None and stored[i] != value else None
            changes = _changes(fields, before[i], wanted[i])
            sent = {name: refused[i][name] for name, _, _ in changes if name in refused[i]}
            if sent:
                self.ops.skipped.append((external_id, _refusal("updated", sent)))
            elif changes or match_value is not None:
                self.ops.updates.append(
                    UpdateUser(
                        external_id=external_id,
                        changes=changes,
                        match_value=match_value,
                        attrs=tuple(zip(fields, wanted[i], strict=True)) if complete else (),
                        depends_on=self.ops.ready.get(external_id, ()),
                    )
                )

    # ------------------------------------------------------------------ phases

    def _existing(self) -> None:
        """People with a mirror row: keep, update, reactivate, deactivate or delete."""
        stays = self.hr_active & self.in_mirror & self.was_active
        returns = self.hr_active & self.in_mirror & ~self.was_active
        if self.policy.reactivate:
            for external_id in self._ids(np.flatnonzero(returns)):
                self._reactivate(external_id)
            self.live |= returns
        self.live |= stays
        rows = np.flatnonzero(self.live & ~self.pairing.same)
        if len(rows):
            mirror_rows = self.pairing.mirror_row[rows]
            before = as_attrs_list(self.users["attrs"].iloc[mirror_rows].tolist())
            stored = self.users["match_value"].iloc[mirror_rows].astype("str").fillna("").tolist()
            if self.moved_match:
                pairs = zip(rows.tolist(), stored, strict=True)
                stored = [self.moved_match.get(row, value) for row, value in pairs]
            self._update(rows, before, stored)
        leaving = np.flatnonzero(~self.hr_active & self.in_mirror & self.due)
        for external_id, active in zip(
            self._ids(leaving), self.was_active[leaving].tolist(), strict=True
        ):
            self._deprovision(external_id, active, self.policy.on_termination, "terminated")

    def _rekeys(self) -> None:
        """A RekeyUser per person paired by their previous key (:func:`_rekey`); their other
        ops wait for it. When the match value was the key itself, it moves with it."""
        rows = self.pairing.rekeyed
        if not len(rows):
            return
        mirror_rows = self.pairing.mirror_row[rows]
        old_ids = self.users["external_id"].iloc[mirror_rows].astype("str").tolist()
        stored = self.users["match_value"].iloc[mirror_rows].astype("str").fillna("").tolist()
        for row, new, old, value, was in zip(
            rows.tolist(), self._ids(rows), old_ids, self._values(rows), stored, strict=True
        ):
            moved = value if (was, value) == (old, new) else None
            if moved is not None:
                self.moved_match[row] = moved
            op = RekeyUser(external_id=new, previous_id=old, match_value=moved)
            self.ops.rekeys.append(op)
            self.ops.after(new, op)

    def _new(self) -> None:
        """People without a mirror row: link (with a listing), create, or skip."""
        refused = self.pairing.refused
        for row, why in sorted(refused.items()):
            if self.hr_active[row]:
                self._skip(row, why)
        newcomers = ~self.in_mirror & (self.hr_active | (self.listing is not None))
        if refused:
            newcomers[list(refused)] = False
        rows = np.flatnonzero(newcomers)
        if not len(rows):
            return
        folded = fold(self.values)
        mine = folded.iloc[rows]
        empty = (mine == "").to_numpy(dtype=bool)
        for row in rows[empty & self.hr_active[rows]].tolist():
            self._skip(row, "empty match value")
        rows, mine = rows[~empty], mine[~empty]
        lookup = pa.array(mine.unique(), pa.large_string())
        # Test every person and keep the few hits, rather than cutting out the candidates
        # (nearly everyone: a copy of a million texts) and testing those.
        candidates = self.hr_active | self.in_mirror | newcomers
        shared = folded[isin(folded, lookup) & candidates]
        doubled = set(shared[shared.duplicated(keep=False)].tolist())
        synced = fold(self.users["match_value"]) if len(self.users) else folded.iloc[0:0]
        taken = set(synced[isin(synced, lookup)].tolist())
        remote = self._remote_accounts(lookup)
        creates: list[int] = []
        for row, value in zip(rows.tolist(), mine.tolist(), strict=True):
            active = bool(self.hr_active[row])
            if value in doubled or value in taken:
                if active:
                    why = "shared with another person" if value in doubled else "already synced"
                    self._skip(row, f"match value {why}")
            elif value in remote:
                self._link(row, remote[value])
            elif active:
                creates.append(row)
        self._create(np.array(creates, dtype=np.int64))

    def _remote_accounts(self, wanted: pa.Array) -> dict[str, Account | None]:
        """Listing accounts by folded match value; ambiguous or linked ones map to None."""
        if self.listing is None or not len(self.listing.users):
            return {}
        frame = self.listing.users
        values = fold(frame["match_value"])
        frame, values = frame.loc[isin(values, wanted)], values[isin(values, wanted)]
        linked = set(self.users["remote_id"].astype("str").tolist()) if len(self.users) else set()
        accounts: dict[str, Account | None] = {}
        for remote_id, value, active, attrs in zip(
            frame["remote_id"].astype("str").tolist(),
            values.tolist(),
            frame["active"].to_numpy(dtype=bool).tolist(),
            frame["attrs"].tolist(),
            strict=True,
        ):
            usable = remote_id not in linked and value not in accounts
            accounts[value] = (remote_id, bool(active), as_attrs(attrs)) if usable else None
        return accounts

    def _create(self, rows: np.ndarray) -> None:
        refused = self._refused(rows, create=True)
        if any(refused):
            for row, problems in zip(rows.tolist(), refused, strict=True):
                if problems:
                    self._skip(row, _refusal("created", problems))
            rows = rows[np.array([not problems for problems in refused], dtype=bool)]
        if not len(rows):
            return
        fields = self.desired.fields
        for external_id, match_value, values in zip(
            self._ids(rows), self._values(rows), self._desired_attrs(rows), strict=True
        ):
            op = CreateUser(
                external_id=external_id,
                match_value=match_value,
                attrs=tuple(zip(fields, values, strict=True)),
                active=True,
            )
            self.ops.creates.append(op)
            self.ops.after(external_id, op)
        self.live[rows] = True

    def _link(self, row: int, account: Account | None) -> None:
        """Adopt an existing account; it holds the managed fields the listing showed."""
        if account is None:
            if self.hr_active[row]:
                self._skip(row, "several LMS accounts, or an already linked one, match")
            return
        external_id = self._ids(np.array([row]))[0]
        remote_id, active, shown = account
        known = {name: shown.get(name, "") for name in self.desired.fields}
        link = LinkUser(
            external_id=external_id,
            match_value=self._values(np.array([row]))[0],
            remote_id=remote_id,
            attrs=tuple(known.items()),
            active=active,
        )
        self.ops.links.append(link)
        self.ops.after(external_id, link)
        if not self.hr_active[row]:
            if self.due[row]:
                self._deprovision(external_id, active, self.policy.on_termination, "terminated")
            return
        if not active:
            if not self.policy.reactivate:
                return
            self._reactivate(external_id)
        self.live[row] = True
        self._update(np.array([row]), [known], [None])

    def _absent(self) -> None:
        """Synced people missing from the export (and not merely rejected this run).

        While rows without a key were rejected, absence proves nothing (the "absent"
        person may be one of them): who would be deprovisioned is held and listed instead,
        and the export neither counts towards anyone's confirmation nor resets it. Otherwise
        an absence deprovisions only once confirmed (:mod:`syncd.plan.absence`); until then
        the person is pending deactivation. Rekeyed people are paired, never absent.
        """
        action = self.policy.on_absent
        rows = self.pairing.unpaired_mirror
        tally = self.ops.absence
        if action == "ignore" or not len(rows):
            return
        ids = self.users["external_id"].iloc[rows].astype("str").tolist()
        active = self.users["active"].to_numpy(dtype=bool)[rows].tolist()
        keyless = self.desired.keyless_rejected
        verb = "deleted" if action == "delete" else "deactivated"
        reason = (
            f"absent from export, not {verb}: {keyless} rejected row(s) have no key, "
            "and this person may be one of them"
        )
        held = 0
        if keyless:
            tally.unprovable()
        for external_id, was_active in zip(ids, active, strict=True):
            if external_id in self.desired.held or not (was_active or action == "delete"):
                continue
            if keyless:
                self.ops.skipped.append((external_id, reason))
                held += 1
                continue
            if tally.confirm(external_id, self.policy):
                self._deprovision(external_id, was_active, action, "absent from export")
        if held:
            self.ops.warnings.append(
                f"{keyless} row(s) without a key were rejected: {held} absent people are "
                f"not {verb} this run; fix the rows (syncd validate lists them)"
            )
