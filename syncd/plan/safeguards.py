"""Safeguards: limits that refuse a whole plan before anything is enqueued.

The worst thing a sync daemon can do is deactivate half a company because an export was
truncated, so every plan is measured against the connection's limits (with defaults that
protect a user who configured nothing): deactivations per run, absolute and as a share of
the active synced population; removals from groups (as a share of the memberships syncd
holds); course and learning path unassignments (as a share of the assignments it holds);
mass changes of one field, group memberships included (as a share of the active synced
people: a mapping change that moves everyone to another team); total ops; and the export's
size against the last accepted one. One tripped limit refuses the plan; the refusal names
the limit, the op kinds and the numbers. ``allow_mass_change`` (the config flag or
``--allow-mass-change``) still measures every limit, but lets the plan through.

The new percentages apply only from ``mass_change_min_population`` memberships,
assignments or people: in a company of 5, one changed title is 20 % and no accident.

Each check says which ops it measures (:meth:`SafeguardCheck.measures`, from its ``kinds``
and ``field``), so that a later step may hold just the ops a tripped check measured
(:func:`measured_ops`) instead of refusing the whole plan. A check with no ``kinds``
(``max_changes``, ``min_source_ratio``) is about the plan as a whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from syncd.config import SafeguardConfig
from syncd.errors import SafeguardTripped
from syncd.plan.ops import (
    AddMembers,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkUser,
    Op,
    ReactivateUser,
    RemoveMember,
    ReplaceMemberships,
    UnassignCourse,
    UnassignLearningPath,
    UpdateUser,
)

SHRINK = "min_source_ratio"
"""The limit on the export's size against the last accepted one (a truncated file)."""
MEMBERSHIPS = "groups"
"""The ``field`` of the check on people whose group memberships change (moving team)."""

DEACTIVATION_KINDS = frozenset({DeactivateUser.kind, DeleteUser.kind})
REMOVAL_KINDS = frozenset({RemoveMember.kind, ReplaceMemberships.kind})
UNASSIGN_KINDS = frozenset({UnassignCourse.kind, UnassignLearningPath.kind})
MEMBERSHIP_KINDS = frozenset({AddMembers.kind, RemoveMember.kind, ReplaceMemberships.kind})
_JOINING = (CreateUser, LinkUser, ReactivateUser, DeactivateUser, DeleteUser)
"""Ops that take a person into or out of the active synced people: their other changes
are not changes of people already synced (new hires get their groups; leavers are the
deactivation limits' business)."""


@dataclass(frozen=True)
class SafeguardCheck:
    """One limit measured against one plan.

    ``kinds``: the op kinds it counts (empty: the plan as a whole); ``field``: for a field
    change check, the LMS field (or :data:`MEMBERSHIPS`) whose changes it counts.
    """

    limit: str
    value: float
    threshold: float
    tripped: bool
    message: str
    kinds: frozenset[str] = frozenset()
    field: str = ""
    refuses: bool = False
    """Refuses the whole plan even where tripped limits only hold ops (the wrong file)."""

    @property
    def label(self) -> str:
        """The limit, with the field it measured (``max_field_change_percent[title]``)."""
        return f"{self.limit}[{self.field}]" if self.field else self.limit

    def measures(self, op: Op) -> bool:
        """Whether ``op`` is one of the ops this check counted (a kind it measures and,
        for a field check, an update of that field). False for a whole-plan check."""
        if op.kind not in self.kinds:
            return False
        if self.field and isinstance(op, UpdateUser):
            return any(name == self.field for name, _old, _new in op.changes)
        return True

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "limit": self.limit,
            "value": self.value,
            "threshold": self.threshold,
            "tripped": self.tripped,
            "message": self.message,
            "kinds": sorted(self.kinds),
        }
        if self.field:
            data["field"] = self.field
        if self.refuses:
            data["refuses"] = True
        return data


def measured_ops(checks: Iterable[SafeguardCheck], ops: Iterable[Op]) -> tuple[Op, ...]:
    """The ops a tripped per-operation check measured: what "hold only what is risky"
    holds. Whole-plan checks select nothing here."""
    tripped = [check for check in checks if check.tripped and check.kinds]
    return tuple(op for op in ops if any(check.measures(op) for check in tripped))


def _share(count: int, population: int) -> float:
    return 100.0 * count / population if population else (100.0 if count else 0.0)


def _kinds_text(kinds: frozenset[str]) -> str:
    return "/".join(sorted(kinds))


def _pair(
    *,
    kinds: frozenset[str],
    count: int,
    population: int,
    noun: str,
    of: str,
    verb: str,
    limits: tuple[str, str],
    thresholds: tuple[int, float],
    min_population: int,
    field: str = "",
) -> tuple[SafeguardCheck, SafeguardCheck]:
    """A count limit and a percentage limit over one kind of change.

    The messages read "N {noun} {verb}" and "N of P {of} (S%) {verb}".
    """
    count_limit, percent_limit = limits
    most, percent = thresholds
    named = _kinds_text(kinds)
    share = _share(count, population)
    small = population < min_population
    note = f" (not applied below mass_change_min_population = {min_population})" if small else ""
    return (
        SafeguardCheck(
            limit=count_limit,
            value=count,
            threshold=most,
            tripped=count > most,
            message=f"{named}: {count} {noun} {verb}, limit {count_limit} = {most}",
            kinds=kinds,
            field=field,
        ),
        SafeguardCheck(
            limit=percent_limit,
            value=round(share, 2),
            threshold=percent,
            tripped=not small and share > percent,
            message=(
                f"{named}: {count} of {population} {of} ({share:.1f}%) {verb}, limit "
                f"{percent_limit} = {percent:g}%{note}"
            ),
            kinds=kinds,
            field=field,
        ),
    )


def _group_removals(ops: Sequence[Op]) -> int:
    removed = 0
    for op in ops:
        if isinstance(op, RemoveMember):
            removed += 1
        elif isinstance(op, ReplaceMemberships):
            removed += len(op.removed)
    return removed


def _members_of(op: Op) -> Iterator[str]:
    if isinstance(op, AddMembers):
        yield from op.external_ids
    elif isinstance(op, RemoveMember | ReplaceMemberships):
        yield op.external_id


def field_changes(ops: Sequence[Op]) -> Mapping[str, frozenset[str]]:
    """The people already synced whose value of each field changes, per field, in field
    order; :data:`MEMBERSHIPS` (last) for those whose group memberships change."""
    outside = {op.external_id for op in ops if isinstance(op, _JOINING)}
    changed: dict[str, set[str]] = defaultdict(set)
    moved: set[str] = set()
    for op in ops:
        if isinstance(op, UpdateUser) and op.external_id not in outside:
            for name, _old, _new in op.changes:
                changed[name].add(op.external_id)
        elif op.kind in MEMBERSHIP_KINDS:
            moved.update(person for person in _members_of(op) if person not in outside)
    found = {name: frozenset(people) for name, people in sorted(changed.items())}
    if moved:
        found[MEMBERSHIPS] = frozenset(moved)
    return found


def measure(
    ops: Sequence[Op],
    config: SafeguardConfig,
    *,
    population: int,
    rows_read: int | None,
    previous_rows: int | None,
    memberships: int = 0,
    assignments: int = 0,
    present: int | None = None,
    matched: int | None = None,
    exported: int | None = None,
) -> tuple[SafeguardCheck, ...]:
    """Every limit against this plan; ``population`` is the active synced users before it,
    ``memberships`` and ``assignments`` the rows of each the mirror holds before it;
    ``present`` of the active synced users are in the export, whose ``exported`` people
    include
    ``matched`` ones syncd knows (None: not measured)."""
    removals = sum(isinstance(op, DeactivateUser | DeleteUser) for op in ops)
    share = _share(removals, population)
    percent = config.max_deactivation_percent
    checks = [
        SafeguardCheck(
            limit="max_deactivations",
            value=removals,
            threshold=config.max_deactivations,
            tripped=removals > config.max_deactivations,
            message=(
                f"{removals} deactivations/deletions, limit max_deactivations = "
                f"{config.max_deactivations}"
            ),
            kinds=DEACTIVATION_KINDS,
        ),
        SafeguardCheck(
            limit="max_deactivation_percent",
            value=round(share, 2),
            threshold=percent,
            tripped=share > percent,
            message=(
                f"{removals} of {population} active synced users ({share:.1f}%) would be "
                f"deactivated, limit max_deactivation_percent = {percent:g}%"
            ),
            kinds=DEACTIVATION_KINDS,
        ),
    ]
    floor = config.mass_change_min_population
    # Nobody is synced yet on a first run (and its plan is the largest): no one changes.
    changes = field_changes(ops) if population else {}
    for name, people in changes.items():
        moving = name == MEMBERSHIPS
        checks += _pair(
            kinds=MEMBERSHIP_KINDS if moving else frozenset({UpdateUser.kind}),
            count=len(people),
            population=population,
            noun="people",
            of="active synced people",
            verb="change groups" if moving else f"change {name}",
            limits=("max_field_changes", "max_field_change_percent"),
            thresholds=(config.max_field_changes, config.max_field_change_percent),
            min_population=floor,
            field=name,
        )
    checks += _pair(
        kinds=REMOVAL_KINDS,
        count=_group_removals(ops),
        population=memberships,
        noun="group memberships",
        of="group memberships held",
        verb="removed",
        limits=("max_group_removals", "max_group_removal_percent"),
        thresholds=(config.max_group_removals, config.max_group_removal_percent),
        min_population=floor,
    )
    checks += _pair(
        kinds=UNASSIGN_KINDS,
        count=sum(op.kind in UNASSIGN_KINDS for op in ops),
        population=assignments,
        noun="course/learning path assignments",
        of="assignments held",
        verb="removed",
        limits=("max_unassignments", "max_unassignment_percent"),
        thresholds=(config.max_unassignments, config.max_unassignment_percent),
        min_population=floor,
    )
    checks.append(
        SafeguardCheck(
            limit="max_changes",
            value=len(ops),
            threshold=config.max_changes,
            tripped=len(ops) > config.max_changes,
            message=f"{len(ops)} changes, limit max_changes = {config.max_changes}",
        )
    )
    if present is not None and matched is not None and exported is not None:
        checks.append(_known_share(config, population, present, matched, exported))
    if previous_rows and rows_read is not None:
        ratio = rows_read / previous_rows
        checks.append(
            SafeguardCheck(
                limit=SHRINK,
                value=round(ratio, 4),
                threshold=config.min_source_ratio,
                tripped=ratio < config.min_source_ratio,
                message=(
                    f"the export has {rows_read} rows, {ratio:.0%} of the {previous_rows} of the "
                    f"last accepted one, limit min_source_ratio = {config.min_source_ratio:g}"
                ),
            )
        )
    return tuple(checks)


def _known_share(
    config: SafeguardConfig, population: int, present: int, matched: int, people: int
) -> SafeguardCheck:
    """Another company's (or another system's) file: few of the synced people are in it
    and few of its people are known. A truncated export keeps the second share high, a
    merger the first, so neither trips it."""
    floor = config.mass_change_min_population
    least = config.min_known_share
    kept = present / population if population else 1.0
    known = matched / people if people else 1.0
    applies = population >= max(floor, 1) and people > 0
    return SafeguardCheck(
        limit="min_known_share",
        value=round(min(kept, known), 4),
        threshold=least,
        tripped=applies and kept < least and known < least,
        message=(
            f"only {present} of the {population} active synced people ({kept:.0%}) are in "
            f"the export, and only {matched} of its {people} people ({known:.0%}) are known: "
            f"is it another company's or another system's file? limit min_known_share = "
            f"{least:g}"
        ),
        refuses=True,
    )


def listed_share(config: SafeguardConfig, synced: int, gone: int) -> SafeguardCheck:
    """A ``--full`` listing of another LMS account (a wrong key or URL): most accounts
    syncd synced are missing from it. Correcting the mirror to it would plan everyone's
    account again in the wrong LMS, so it refuses the plan like the wrong file does (the
    same ``min_known_share``, from ``mass_change_min_population`` synced accounts)."""
    least = config.min_known_share
    share = (synced - gone) / synced if synced else 1.0
    applies = synced >= max(config.mass_change_min_population, 1)
    return SafeguardCheck(
        limit="min_known_share",
        field="listing",
        value=round(share, 4),
        threshold=least,
        tripped=applies and share < least,
        message=(
            f"only {synced - gone} of the {synced} accounts syncd synced ({share:.0%}) are in "
            f"the LMS's listing: is the connection pointed at another account? limit "
            f"min_known_share = {least:g}"
        ),
        refuses=True,
    )


def refusal(
    checks: Sequence[SafeguardCheck], *, overridden: bool, hold: bool = False
) -> SafeguardCheck | None:
    """The tripped limit that refuses the plan: with ``hold`` only one that always refuses
    (the others hold ops instead); none when a mass change was allowed."""
    if overridden:
        return None
    return next((check for check in checks if check.tripped and (check.refuses or not hold)), None)


def raise_if_refused(check: SafeguardCheck | None, *, connection: str = "") -> None:
    """``SafeguardTripped`` naming the limit and the numbers, when there is a refusal."""
    if check is None:
        return
    where = f"connection `{connection}`: " if connection else ""
    raise SafeguardTripped(
        f"{where}plan refused by safeguard {check.limit}: {check.message} "
        "(use --allow-mass-change for a deliberate large change)",
        limit=check.limit,
        value=check.value,
        threshold=check.threshold,
        connection=connection,
    )
