"""Desired state of one connection: what the LMS should hold, from the Roster and config.

Pure and vectorised: every column is computed for the whole roster in one expression.

Users get the LMS attributes of the connection's ``fields`` (or the vendor profile's
defaults), in the vendor's write order. A mapping value is

- a template when it contains ``{`` (``"{first_name} {last_name}"``; ``{{``/``}}`` are
  literal braces); the result is stripped, so an empty part leaves no stray space;
- otherwise the name of a Roster field, or, when no such field exists and the value is not a
  lower-case identifier, a fixed text (``"Learner"``, ``"Pacific Standard Time"``); a
  lower-case identifier that is not a field is a typo and a ConfigError.

A profile default that names a field the export lacks is simply empty (the vendor's
defaults cover many fields an export may not have); the connection's own mapping must name
real fields.

The match value (how a person is found among existing LMS accounts) is the Roster field
named by ``match_key``. Leavers keep their account as it is: the plan only deactivates (or
deletes) it, it never rewrites a leaver's attributes, memberships or courses.

Memberships and assignments are integer pairs over the people rows (``syncd.plan.sets``),
not text: a million people's courses would otherwise be millions of strings to compare.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import ConnectionConfig
from syncd.errors import ConfigError
from syncd.plan.capabilities import refusals, rekey_caution
from syncd.plan.hashing import hash_frame
from syncd.plan.model import RosterLike, VendorProfile
from syncd.plan.rules import RuleResult, day_numbers, evaluate_rules
from syncd.plan.sets import Pairs, arrow_text, member_pairs

_MEMBER_COLS = ("group_key", "external_id")
PREVIOUS = "previous_external_id"
"""The Roster column of the previous keys (``SourceConfig.previous_key``), when configured."""
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Desired:
    """Target state before the mirror is considered (the diff applies the policies).

    ``people``: one row per Roster person: ``external_id``, ``match_value``, ``active`` (in
    the HRIS), ``due`` (a leaver whose grace period is over). ``attrs``: LMS field ->
    values aligned with ``people``, in write order. ``hashes``: ``hash_attrs`` of each row.
    ``groups`` (key, name, parent_key, level); ``memberships`` (labels: group keys) and
    ``assignments`` (labels: (kind, item_id)) are :class:`Pairs` over ``people`` rows and
    cover active people only. ``held``: keys of rejected rows; such people are unknown this
    run, never "absent". ``keyless_rejected``: rejected records whose key is blank or could
    not be read; while there are any, nobody can be called "absent" (the diff holds those).
    """

    people: pd.DataFrame
    attrs: Mapping[str, pa.ChunkedArray]
    hashes: np.ndarray
    groups: pd.DataFrame
    memberships: Pairs
    assignments: Pairs
    held: frozenset[str]
    warnings: tuple[str, ...]
    rules: RuleResult | None = None
    rows_read: int | None = None
    """Data rows of the export this was worked out from (for the source-shrink guard)."""
    keyless_rejected: int = 0
    previous: pd.Series | None = None
    """Each person's previous key (``previous_external_id``, "" for most), aligned with
    ``people``: only when the source names a ``previous_key`` and the vendor can rekey
    (``VendorProfile.rekey``); None otherwise, and the plan treats a changed key as a new
    person (see :func:`syncd.plan.users.pair`)."""

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.attrs)

    @property
    def external_ids(self) -> pa.Array:
        """People's keys as one Arrow array (what mirror keys are looked up in)."""
        return arrow_text(self.people["external_id"]).combine_chunks()

    def membership_frame(self) -> pd.DataFrame:
        """``memberships`` as text (group_key, external_id), for people to read."""
        ids = self.people["external_id"].to_numpy(dtype=object)
        keys = self.memberships.labels
        return pd.DataFrame(
            {
                "group_key": pd.Series(
                    [keys[c] for c in self.memberships.codes.tolist()], dtype="str"
                ),
                "external_id": pd.Series(ids[self.memberships.rows], dtype="str"),
            },
            columns=list(_MEMBER_COLS),
        )


class _Columns:
    """Roster columns as Arrow text, converted once each."""

    def __init__(self, people: pd.DataFrame) -> None:
        self.people = people
        self._cache: dict[str, pa.ChunkedArray] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.people.columns

    def get(self, name: str) -> pa.ChunkedArray:
        if name not in self._cache:
            self._cache[name] = arrow_text(self.people[name])
        return self._cache[name]

    def constant(self, text: str) -> pa.ChunkedArray:
        array = pa.array(np.full(len(self.people), text, dtype=object), pa.large_string())
        return pa.chunked_array([array])


def _template(template: str, columns: _Columns, *, strict: bool, where: str) -> pa.ChunkedArray:
    if "{" not in template and "}" not in template:
        if template in columns:
            return columns.get(template)
        if _IDENTIFIER.fullmatch(template):
            if strict:
                raise ConfigError(f"{where}: the export has no field `{template}`")
            return columns.constant("")
        return columns.constant(template)
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ConfigError(f"{where}: invalid template {template!r}: {exc}") from None
    parts: list[pa.ChunkedArray | pa.Scalar] = []
    for literal, name, spec, conversion in parsed:
        if literal:
            parts.append(pa.scalar(literal, pa.large_string()))
        if name is None:
            continue
        if spec or conversion or not name:
            raise ConfigError(f"{where}: only plain {{field}} placeholders are allowed")
        if name in columns:
            parts.append(columns.get(name))
        elif strict:
            raise ConfigError(f"{where}: the export has no field `{name}`")
    if not parts:
        return columns.constant("")
    if len(parts) == 1 and isinstance(parts[0], pa.ChunkedArray):
        return parts[0]
    if not any(isinstance(p, pa.ChunkedArray) for p in parts):
        text = "".join(p.as_py() for p in parts)
        return columns.constant(text.strip())
    joined = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
    return pc.utf8_trim_whitespace(joined)


def field_order(connection: ConnectionConfig, profile: VendorProfile) -> list[tuple[str, str]]:
    """(LMS field, mapping) pairs: the vendor's write order first, then the connection's."""
    if not connection.fields:
        return list(profile.default_fields.items())
    known = list(profile.default_fields)
    ordered = sorted(
        connection.fields.items(),
        key=lambda item: known.index(item[0]) if item[0] in known else len(known),
    )
    return ordered


def _match_values(
    people: pd.DataFrame, columns: _Columns, match_key: str, where: str
) -> pa.ChunkedArray:
    if match_key in columns:
        return pc.utf8_trim_whitespace(columns.get(match_key))
    if match_key == "employee_id":
        return columns.get("external_id")
    raise ConfigError(
        f"{where}.match_key: the export has no field `{match_key}` to match accounts by"
    )


def _due(people: pd.DataFrame, termination_field: str, grace_days: int, today: date) -> np.ndarray:
    """Leavers whose deactivation is due: no termination date, or date + grace reached."""
    leaving = ~people["active"].to_numpy(dtype=bool)
    if grace_days == 0 or termination_field not in people.columns:
        return np.asarray(leaving)
    ended = day_numbers(people[termination_field])
    deadline = (today - timedelta(days=grace_days) - date(1970, 1, 1)).days
    with np.errstate(invalid="ignore"):
        reached = (ended <= deadline) | np.isnan(ended)
    return np.asarray(leaving & reached)


def _groups(
    roster: RosterLike,
    connection: ConnectionConfig,
    profile: VendorProfile,
    members: Pairs,
    active: np.ndarray,
) -> tuple[pd.DataFrame, Pairs]:
    """Groups with an active member somewhere below them, and active people's memberships."""
    wanted = list(connection.groups)
    group_cols = ["key", "name", "parent_key", "level"]
    if not wanted:
        groups = pd.DataFrame({c: pd.Series([], dtype="str") for c in group_cols})
        groups["level"] = groups["level"].astype("int64")
        return groups, Pairs.empty()
    grouping_of = dict(
        zip(roster.groups["key"].tolist(), roster.groups["grouping"].tolist(), strict=True)
    )
    pushed = [c for c, key in enumerate(members.labels) if grouping_of.get(str(key)) in wanted]
    keep = np.isin(members.codes, pushed) & active[members.rows]
    pairs = Pairs(members.rows[keep], members.codes[keep], members.labels)
    frame = roster.groups
    parent_of: dict[str, str] = {}
    name_of: dict[str, str] = {}
    for key, name, parent, grouping_name in zip(
        frame["key"].tolist(),
        frame["name"].tolist(),
        frame["parent_key"].tolist(),
        frame["grouping"].tolist(),
        strict=True,
    ):
        if grouping_name in wanted:
            parent_of[key] = (parent or "") if profile.nested_groups else ""
            name_of[key] = name
    needed: set[str] = set()
    for code in np.unique(pairs.codes).tolist():
        key = str(pairs.labels[code])
        while key and key not in needed and key in name_of:
            needed.add(key)
            key = parent_of[key]
    depth: dict[str, int] = {}

    def level(key: str) -> int:
        if key not in depth:
            parent = parent_of.get(key, "")
            depth[key] = 0 if not parent else level(parent) + 1
        return depth[key]

    ordered = sorted(needed, key=lambda k: (level(k), k))
    chosen = pd.DataFrame(
        {
            "key": pd.Series(ordered, dtype="str"),
            "name": pd.Series([name_of[k] for k in ordered], dtype="str"),
            "parent_key": pd.Series([parent_of[k] for k in ordered], dtype="str"),
            "level": pd.Series([depth[k] for k in ordered], dtype="int64"),
        }
    )
    return chosen, pairs


def group_aliases(desired_keys: Iterable[str], mirror_keys: Iterable[str]) -> dict[str, str]:
    """Desired group key -> the mirror's key of the same group, where the two differ in case.

    The LMS matches team names ignoring case, so "org:SALES" in the export is the team the
    mirror knows as "org:Sales": the mirror's key stays its identity (its memberships and
    children are recorded under it) and only the name changes. Keys the mirror holds as
    they are, and keys that two desired groups share ignoring case, are not aliased; among
    several mirror keys of one spelling-insensitive key (two spellings recorded by an older
    syncd), the first in sorted order is taken, so that the plan is the same every time.
    """
    held = sorted(set(mirror_keys))
    exact = set(held)
    wanted = list(dict.fromkeys(desired_keys))
    folds: dict[str, int] = {}
    for key in wanted:
        folds[key.casefold()] = folds.get(key.casefold(), 0) + 1
    by_fold: dict[str, str] = {}
    for key in held:
        by_fold.setdefault(key.casefold(), key)
    return {
        key: by_fold[key.casefold()]
        for key in wanted
        if key not in exact and folds[key.casefold()] == 1 and key.casefold() in by_fold
    }


def mirror_twins(desired_keys: Iterable[str], mirror_keys: Iterable[str]) -> dict[str, str]:
    """Mirror group keys that another mirror key of the same group (ignoring case) stands
    for this run -> that key (the desired key's own, or its :func:`group_aliases` target).

    An older syncd recorded a case-only rename as a second group on the same team; its
    memberships are the team's, and removing them as "no longer desired" would take
    people out of the team they belong to.
    """
    held = sorted(set(mirror_keys))
    wanted = list(dict.fromkeys(desired_keys))
    aliases = group_aliases(wanted, held)
    exact = set(held)
    identity: dict[str, str] = {}
    doubled: set[str] = set()
    for key in wanted:
        fold = key.casefold()
        if fold in identity:
            doubled.add(fold)
        identity[fold] = key if key in exact else aliases.get(key, "")
    return {
        key: identity[key.casefold()]
        for key in held
        if key.casefold() in identity
        and key.casefold() not in doubled
        and identity[key.casefold()] not in ("", key)
    }


def build_desired(
    roster: RosterLike,
    connection: ConnectionConfig,
    profile: VendorProfile,
    *,
    today: date,
    where: str = "connection",
    termination_field: str = "termination_date",
    hire_field: str = "hire_date",
    executor: Executor | None = None,
) -> Desired:
    """The connection's desired state from one Roster (pure: ``today`` is passed in; an
    ``executor`` only lets independent parts of the work overlap)."""
    for problem in refusals(connection, profile, where):
        raise ConfigError(problem)
    people = roster.people
    columns = _Columns(people)
    strict = bool(connection.fields)
    attrs = {
        name: _template(mapping, columns, strict=strict, where=f"{where}.fields.{name}")
        for name, mapping in field_order(connection, profile)
    }
    external_id = columns.get("external_id")
    match_value = _match_values(people, columns, connection.match_key, where)
    # The row hashes are a third of this function's time on a large roster, in Arrow and
    # pandas' hashing: given an executor, they are computed there while the rules are
    # evaluated here.
    hashing = executor.submit(hash_frame, external_id, match_value, attrs) if executor else None
    frame = pd.DataFrame(
        {
            "external_id": people["external_id"].astype("str"),
            "match_value": pd.Series(match_value.to_pandas(), dtype="str", index=people.index),
            "active": people["active"].to_numpy(dtype=bool),
            "due": _due(people, termination_field, connection.deprovision.grace_days, today),
        }
    )
    members = member_pairs(roster.memberships, external_id.combine_chunks())
    groups, memberships = _groups(
        roster, connection, profile, members, frame["active"].to_numpy(dtype=bool)
    )
    rules = evaluate_rules(
        connection.rules,
        people,
        roster.groups,
        roster.memberships,
        today=today,
        where=f"{where}.rules",
        hire_field=hire_field,
        members=members,
    )
    hashes = hashing.result() if hashing else hash_frame(external_id, match_value, attrs)
    held, keyless = _rejected_keys(roster.rejected)
    previous, cautions = _previous_keys(people, profile, where)
    return Desired(
        people=frame,
        attrs=attrs,
        hashes=hashes,
        groups=groups,
        memberships=memberships,
        assignments=rules.pairs,
        held=held,
        warnings=(*rules.warnings, *cautions),
        rules=rules,
        rows_read=getattr(roster.source, "rows_read", None),
        keyless_rejected=keyless,
        previous=previous,
    )


def _previous_keys(
    people: pd.DataFrame, profile: VendorProfile, where: str
) -> tuple[pd.Series | None, tuple[str, ...]]:
    """The people's previous keys when the source carries them and the vendor can rekey;
    a warning instead when it cannot."""
    if PREVIOUS not in people.columns:
        return None, ()
    if profile.rekey == "none":
        return None, (rekey_caution(profile, where),)
    values = people[PREVIOUS].fillna("").astype("str").str.strip()
    return values.reset_index(drop=True), ()


def _rejected_keys(rejected: pd.DataFrame) -> tuple[frozenset[str], int]:
    """Keys of the rejected records, and how many rejected records have none (a record
    with several problems is one record: counted by line)."""
    if not len(rejected):
        return frozenset(), 0
    if "key" not in rejected.columns:
        return frozenset(), int(rejected["line"].nunique())
    keys = rejected["key"].fillna("").astype("str").str.strip()
    keyless = int(rejected.loc[(keys == "").to_numpy(dtype=bool), "line"].nunique())
    return frozenset(k for k in keys.tolist() if k), keyless
