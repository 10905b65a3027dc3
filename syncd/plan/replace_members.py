"""A mover's memberships replaced in one call, where the vendor can make a person's
memberships exactly one group and the connection lets it (``VendorProfile.membership_replace``:
Enabley ``POST /api/v1/groups/{g}/users/{u}?replace=true``).

Such a call drops every membership the vendor holds for the person, so it fits exactly the
people whose memberships after this plan are the one group the plan adds them to: one
addition, no membership kept, at least one removal. It is used only when it takes fewer
calls than the removals and the addition one by one. Pure: the membership change in, the
replace ops and the additions and removals still to make one by one out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from syncd.plan.model import VendorProfile
from syncd.plan.ops import AddMembers, Op, RemoveMember, ReplaceMemberships

Pair = tuple[str, Hashable]
"""(external_id, group_key) as the set comparison gives it."""


def replace_ops(
    added: Sequence[Pair],
    added_rows: Sequence[int],
    removed: Sequence[Pair],
    wanted_per_row: np.ndarray,
    user_ready: Mapping[str, tuple[str, ...]],
    group_ready: Mapping[str, str],
    profile: VendorProfile,
) -> tuple[list[Op], list[Pair], list[Pair]]:
    """(replace ops, additions left, removals left).

    ``added_rows`` is each added pair's person row among the desired people, and
    ``wanted_per_row`` how many groups the export wants each of those rows in: a person
    whose one added group is all they want keeps no other membership.
    """
    if not profile.membership_replace or not added or not removed:
        return [], list(added), list(removed)
    adds: Counter[str] = Counter(person for person, _ in added)
    drops: dict[str, list[str]] = defaultdict(list)
    for person, group in removed:
        drops[person].append(str(group))
    cost = profile.calls_for(ReplaceMemberships.kind)
    chosen: dict[str, str] = {}
    for (person, group), row in zip(added, added_rows, strict=True):
        sole = adds[person] == 1 and int(wanted_per_row[row]) == 1
        if sole and person in drops and _saving(len(drops[person]), profile) > cost:
            chosen[person] = str(group)
    ops: list[Op] = []
    for person in sorted(chosen):
        group = chosen[person]
        after = ((group_ready[group],) if group in group_ready else ()) + tuple(
            user_ready.get(person, ())
        )
        ops.append(
            ReplaceMemberships(
                external_id=person,
                group_key=group,
                removed=tuple(sorted(drops[person])),
                depends_on=after,
            )
        )
    return (
        ops,
        [(p, g) for p, g in added if p not in chosen],
        [(p, g) for p, g in removed if p not in chosen],
    )


def _saving(removals: int, profile: VendorProfile) -> int:
    """Calls the one-by-one form of a mover takes: each removal, and the addition when it
    is a call of its own (a vendor adding many members per call may add them anyway)."""
    addition = profile.calls_for(AddMembers.kind) if profile.max_members_per_call == 1 else 0
    return removals * profile.calls_for(RemoveMember.kind) + addition
