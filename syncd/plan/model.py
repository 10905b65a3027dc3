"""The plain values of the plan: its inputs (mirror, vendor profile, listing) and the Plan.

The inputs besides the Roster and the configuration. They are plain data so
that the plan stays pure: ``syncd.state.mirror`` loads a :class:`Mirror` from the database,
each connector module declares its :class:`VendorProfile`, and a full reconcile turns the
LMS's own listing into a :class:`Listing`. Nothing here imports from state, vendors or http.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pandas as pd

from syncd.plan.absence import Absence
from syncd.plan.drift import Drift
from syncd.plan.hold import REJECTED, Hold
from syncd.plan.ops import OP_TYPES, Op
from syncd.plan.safeguards import SHRINK, SafeguardCheck
from syncd.plan.seats import SeatForecast

MIRROR_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "users": ("external_id", "remote_id", "match_value", "active", "attrs", "attrs_hash"),
    "groups": ("key", "remote_id", "name", "parent_key"),
    "memberships": ("group_key", "external_id"),
    "assignments": ("external_id", "kind", "item_id"),
}
"""Exact columns of each mirror frame; ``syncd.state.mirror`` produces these names."""

MIRROR_LABELS: Mapping[str, tuple[str, ...]] = {
    "memberships": ("group_key",),
    "assignments": ("kind", "item_id"),
}
"""Mirror columns held as pandas categoricals of text: a few groups and courses repeated
over millions of rows, which the database sends once each and the diff compares as codes."""

LISTING_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "users": ("remote_id", "match_value", "active", "attrs"),
    "groups": ("remote_id", "name", "parent_remote_id"),
    "memberships": ("group_remote_id", "user_remote_id"),
    "assignments": ("user_remote_id", "kind", "item_id"),
}

ASSIGNMENT_KINDS = ("course", "learning_path")


def _frame(
    columns: tuple[str, ...], attrs: str = "object", labels: tuple[str, ...] = ()
) -> pd.DataFrame:
    dtypes: dict[str, Any] = {c: "str" for c in columns}
    if "active" in dtypes:
        dtypes["active"] = "bool"
    if "attrs" in dtypes:
        dtypes["attrs"] = attrs
    for column in labels:
        dtypes[column] = label_dtype(())
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in dtypes.items()})


def label_dtype(labels: Iterable[str]) -> pd.CategoricalDtype:
    """The dtype of a :data:`MIRROR_LABELS` column with these distinct labels."""
    return pd.CategoricalDtype(pd.Index(list(labels), dtype="str"))


def label_column(values: Sequence[str] | pd.Series) -> pd.Categorical:
    """Texts as a :data:`MIRROR_LABELS` column (for mirrors built from plain rows)."""
    texts = pd.Series(values, dtype="str")
    return pd.Categorical(texts, dtype=label_dtype(sorted(set(texts.tolist()))))


def _check_columns(owner: str, frames: Mapping[str, pd.DataFrame], spec: Mapping[str, Any]) -> None:
    """A loader that drifts from the contract must fail here, loudly, not deep in a merge."""
    for name, columns in spec.items():
        missing = [c for c in columns if c not in frames[name].columns]
        if missing:
            raise ValueError(f"{owner}.{name} lacks columns {missing} (needs {list(columns)})")


@dataclass(frozen=True)
class Mirror:
    """What one LMS holds, as far as syncd has confirmed it (one connection's state rows).

    ``users.attrs`` is a dict (LMS field -> str) per row; its JSON text is accepted too and
    decoded only for the rows the diff has to look at. ``users.attrs_hash`` must be
    :func:`syncd.plan.hashing.hash_attrs` of the row's ``external_id``, ``match_value`` and
    ``attrs``, recomputed whenever any of them changes: the diff trusts an equal hash to mean
    "unchanged" and only reads ``attrs`` where the hash differs (a stale or missing hash
    costs time, never a wrong op, unless it equals the new hash while the attrs differ).
    The :data:`MIRROR_LABELS` columns come from the database as categoricals; plain text
    columns mean the same to the plan.
    """

    users: pd.DataFrame
    groups: pd.DataFrame
    memberships: pd.DataFrame
    assignments: pd.DataFrame

    def __post_init__(self) -> None:
        _check_columns("Mirror", self.__dict__, MIRROR_COLUMNS)

    @classmethod
    def empty(cls) -> Mirror:
        """The mirror of a connection that has never synced (``attrs`` as JSON text, as
        ``syncd.state.mirror`` loads them)."""
        return cls(
            **{
                name: _frame(cols, attrs="str", labels=MIRROR_LABELS.get(name, ()))
                for name, cols in MIRROR_COLUMNS.items()
            }
        )


@dataclass(frozen=True)
class Listing:
    """Everything the LMS holds right now, from a full reconcile, for adoption and drift.

    ``users``: remote_id, match_value (the account's value of the connection's match key),
    active, attrs (dict LMS field -> str, the fields the listing returned). ``groups``:
    remote_id, name, parent_remote_id ("" at the top). ``memberships`` (group_remote_id,
    user_remote_id) holds the members of the teams in ``member_scope`` as the vendor lists
    them (Litmos: active members only); ``assignments`` (user_remote_id, kind, item_id) the
    holders of the items in ``assignment_scope`` ((kind, item_id) pairs). Outside its scope
    the listing says nothing: a membership or course it does not show is missing only when
    its team or item was listed.
    """

    users: pd.DataFrame
    groups: pd.DataFrame = field(default_factory=lambda: _frame(LISTING_COLUMNS["groups"]))
    memberships: pd.DataFrame = field(
        default_factory=lambda: _frame(LISTING_COLUMNS["memberships"])
    )
    assignments: pd.DataFrame = field(
        default_factory=lambda: _frame(LISTING_COLUMNS["assignments"])
    )
    member_scope: frozenset[str] = frozenset()
    assignment_scope: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        _check_columns("Listing", self.__dict__, LISTING_COLUMNS)


@dataclass(frozen=True)
class VendorProfile:
    """What the plan needs to know about a vendor, as plain data (no vendor imports).

    Each connector module declares one (``PROFILE``); ``syncd.vendors.profile(vendor)``
    returns it.
    """

    vendor: str
    default_fields: Mapping[str, str]
    """LMS field -> template over Roster fields (``"{first_name}"``), in the vendor's write
    order; used when the connection maps no ``fields`` of its own."""
    groups: bool
    """The vendor has teams/groups with members."""
    learning_paths: bool
    """The vendor can assign learning paths (as well as courses)."""
    max_members_per_call: int | None = None
    """Largest member list one add-members call takes (None: no limit)."""
    max_courses_per_call: int | None = None
    """Largest course (or learning path) list one assign call takes (None: no limit)."""
    calls: Mapping[str, int] = field(default_factory=dict)
    """Vendor calls one op of each kind costs (Litmos ``update_user`` = 2: GET then PUT;
    ``link_user`` = 0). A kind not listed costs one call."""
    nested_groups: bool = True
    """Groups can have parent groups (Litmos sub-teams); False flattens the hierarchy."""
    required_fields: tuple[str, ...] = ()
    """LMS fields every account must hold a value in: the vendor refuses a create (or an
    update) that leaves one empty, so the plan skips such a person instead of sending it."""
    max_lengths: Mapping[str, int] = field(default_factory=dict)
    """The vendor's documented longest value (characters) per LMS field; a longer value is
    refused by the vendor, so the plan skips the person instead of sending it."""
    accounts: bool = True
    """The vendor keeps user accounts of its own. False (SCORM Cloud: learners exist only
    through their registrations): the plan still creates and updates users, and the
    connector answers a create without a call."""
    deactivation: bool = True
    """The vendor can deactivate an account; without it a connection may not ask for
    ``deactivate`` (nor a returner's reactivation) in ``deprovision``."""
    complete_updates: bool = False
    """An update overwrites (blanks) every field it does not send: each ``UpdateUser`` then
    carries the complete managed fields in ``attrs``."""
    group_assignment: bool = False
    """Courses can be assigned to a whole group in one call."""
    max_people_per_course_call: int = 1
    """Most people one call can give a course to (``assign_course_people``: SCORM Cloud
    private invitations take a list of addresses). 1: courses go person by person only."""
    membership_replace: bool = False
    """One call can make a person's memberships exactly one group (dropping every other,
    also those made by hand): only a connection that says syncd owns every membership
    turns this on (Enabley ``options.memberships = "replace"``)."""
    signup_links: bool = False
    """The vendor has self-enrollment links a connection may declare (``signup_links``:
    Litmos self-signup tokens, SCORM Cloud public invitations)."""
    signup_link_keys: frozenset[str] = frozenset()
    """The optional keys of a declared signup link this vendor honours besides the common
    ones (``kind`` and ``code`` on Litmos, ``tags`` on SCORM Cloud); another is refused."""
    rekey: Literal["none", "identifier", "mirror"] = "none"
    """What a change of a person's HRIS key (the source's ``previous_key``) can be here.
    ``identifier``: the vendor knows the account by that key and one call changes it
    (Enabley ``identityManagement``); ``mirror``: the vendor knows the account by its own id,
    the key lives in syncd's mirror only, so the rekey is a mirror move with no call
    (Litmos); ``none``: the key cannot change (SCORM Cloud's learner id is in every
    registration), so a changed key stays a new person and a leaver."""

    def calls_for(self, kind: str) -> int:
        """Vendor calls one op of ``kind`` costs."""
        return self.calls.get(kind, 1)


class SourceInfoLike(Protocol):
    """The part of the Roster's source description the plan reads (the shrink safeguard)."""

    @property
    def rows_read(self) -> int: ...


class RosterLike(Protocol):
    """The Roster contract of ``syncd.hris`` as far as the plan uses it."""

    @property
    def people(self) -> pd.DataFrame: ...

    @property
    def groups(self) -> pd.DataFrame: ...

    @property
    def memberships(self) -> pd.DataFrame: ...

    @property
    def rejected(self) -> pd.DataFrame: ...

    @property
    def source(self) -> SourceInfoLike: ...


class RateLike(Protocol):
    """A rate rule: at most ``requests`` calls in any rolling ``per_seconds``."""

    @property
    def requests(self) -> int: ...

    @property
    def per_seconds(self) -> float: ...


@dataclass(frozen=True)
class Plan:
    """Everything one connection's LMS must be told, in order, and whether it may be.

    ``ops`` are in execution order with their dependencies named. ``checks`` are the
    safeguards measured on this plan; ``refusal`` is the tripped one that refuses it (None
    when the plan may be enqueued, also when ``overridden`` by allow-mass-change).
    ``skipped`` lists people (external_id, reason) the plan could not sync: not created or
    not updated (a match value they cannot be told apart by, a field the vendor requires
    empty or too long), or not deactivated (absence held while keyless rows were rejected).
    """

    connection: str
    profile: VendorProfile
    ops: tuple[Op, ...]
    checks: tuple[SafeguardCheck, ...] = ()
    refusal: SafeguardCheck | None = None
    overridden: bool = False
    skipped: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"external_id": [], "reason": []}, dtype="str")
    )
    warnings: tuple[str, ...] = ()
    population: int = 0
    rows_read: int | None = None
    drift: Drift | None = None
    """What a full listing found changed by hand in the LMS (the mirror was corrected to
    it before this plan was made); None without a listing."""
    pending: tuple[tuple[str, str], ...] = ()
    """People missing from the export whose absence is not yet confirmed (external_id,
    reason): no op this run (``syncd.plan.absence``)."""
    absence: Mapping[str, Absence] | None = None
    """The absence history a reconcile stores with this plan's ops (None: keep it)."""
    seats: SeatForecast | None = None
    """The seat budget's forecast (None: no ``seats`` configured)."""
    held: Mapping[str, Hold] = field(default_factory=dict)
    """Op key -> why that op waits for an operator (``syncd.plan.hold``): enqueued
    ``held``, sent only once approved (`syncd held approve`)."""
    reasons: Mapping[str, str] = field(default_factory=dict)
    """Op key -> the setting that planned that unassignment (``leaver_courses``,
    ``mover_courses`` or ``unassign_courses``: ``syncd.plan.learning``)."""

    @property
    def tripped(self) -> tuple[SafeguardCheck, ...]:
        """The limits this plan trips that were not overridden (held ops or a refusal
        follow; either way an operator should look)."""
        if self.overridden:
            return ()
        return tuple(check for check in self.checks if check.tripped)

    @property
    def suspect_export(self) -> bool:
        """The export looks truncated (``min_source_ratio`` tripped, not overridden): its
        safe ops go out, but it is not taken as the next run's baseline, and its absences
        do not count towards confirming anyone's departure."""
        return any(check.limit == SHRINK for check in self.tripped)

    @property
    def held_ops(self) -> tuple[Op, ...]:
        """The ops that wait for an operator, in plan order."""
        return tuple(op for op in self.ops if op.key in self.held)

    @property
    def flowing(self) -> int:
        """Ops that go out now (not held)."""
        return len(self.ops) - len(self.held)

    @property
    def held_by_check(self) -> dict[str, int]:
        """Held ops per check that held them."""
        return dict(Counter(hold.check for hold in self.held.values()))

    @property
    def vendor(self) -> str:
        return self.profile.vendor

    @property
    def refused(self) -> bool:
        return self.refusal is not None

    @property
    def empty(self) -> bool:
        """Nothing to tell the LMS: no ops, or only ones an operator rejected (enqueued all
        the same, so that the outbox keeps them rejected)."""
        if not self.held:
            return not self.ops
        return all(op.key in self.held and self.held[op.key].check == REJECTED for op in self.ops)

    @property
    def counts(self) -> dict[str, int]:
        """Ops per kind, in the fixed order of ``OP_TYPES``; kinds with none left out."""
        found = Counter(op.kind for op in self.ops)
        return {kind: found[kind] for kind in OP_TYPES if found[kind]}

    @property
    def incomplete(self) -> bool:
        """Someone the export wants synced is not (``skipped``): exit 6 when nothing else."""
        return not self.skipped.empty

    @property
    def repairs(self) -> dict[str, int]:
        """How many of the ops repair changes made by hand in the LMS, per kind of repair
        (``syncd.plan.drift.REPAIRS``); empty without drift."""
        return self.drift.repairs(self.ops) if self.drift is not None else {}

    @property
    def calls(self) -> int:
        """Vendor calls the plan needs, by the profile's cost of each op kind."""
        return sum(self.profile.calls_for(kind) * n for kind, n in self.counts.items())

    @property
    def held_calls(self) -> int:
        """Of :attr:`calls`, those of held ops: made only once an operator approves them."""
        return sum(self.profile.calls_for(op.kind) for op in self.held_ops)

    def duration_seconds(self, rate: RateLike) -> float:
        """Least time the calls take under ``rate`` (a burst of ``requests``, then one
        window per further ``requests``), vendor latency not included."""
        if self.calls == 0:
            return 0.0
        return float((self.calls - 1) // rate.requests) * rate.per_seconds

    def summary(self, *, limit: int = 20, rate: RateLike | None = None) -> dict[str, Any]:
        """JSON-able overview: counts, calls, time, safeguards and the first ``limit`` ops."""
        from syncd.plan.summary import summarize

        return summarize(self, limit=limit, rate=rate)
