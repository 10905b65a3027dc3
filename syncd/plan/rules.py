"""Assignment rules, evaluated over the whole roster at once.

A rule's conditions become boolean masks over the people frame (one Arrow compute
expression each, never a loop over people); a rule applies where all its masks hold. Only
people who are active in the HRIS are considered: leavers are never given new courses.

Text tests (``equals``, ``in``, ``not``) ignore case (Unicode lower case) and surrounding
spaces, as the config promises; ``regex`` is searched in the value as it is, case-sensitive
unless the pattern says ``(?i)`` (run by Arrow's RE2 when it accepts the pattern, which
covers the usual syntax, else by Python's ``re``). ``hired_within_days`` holds for a hire
date at most N days before ``today``, including future hire dates (people starting soon get
their onboarding early); an empty or unparsable date never matches. ``member_of`` holds for
members of the group with that key or of any group below it, in any grouping of the source;
a key the roster does not have matches nobody and is reported as a warning (a department can
empty out between exports without breaking the sync).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import Condition, Rule
from syncd.errors import ConfigError

ASSIGNMENT_COLUMNS = ("external_id", "kind", "item_id", "rule")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class RuleResult:
    """Every (person, course or learning path) the rules give, and what looked wrong.

    ``assignments`` may name the same item for a person twice when two rules give it (the
    diff removes repeats among the few rows it acts on, instead of over the whole roster).
    """

    assignments: pd.DataFrame
    warnings: tuple[str, ...]


def arrow_text(column: pd.Series) -> pa.ChunkedArray:
    """A text column as Arrow large_string with "" for missing values (no copy when it
    already is Arrow text, as the Roster's columns are)."""
    if column.dtype != "str":
        column = column.astype("str")
    array = pa.array(column)
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array], type=array.type)
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    return pc.fill_null(array, "") if array.null_count else array


def to_mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow boolean result as a numpy mask (null counts as False)."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)


def day_numbers(column: pd.Series) -> np.ndarray:
    """ISO dates as days since 1970-01-01 (float, NaN where empty or invalid)."""
    parsed = pc.strptime(arrow_text(column), format="%Y-%m-%d", unit="s", error_is_null=True)
    days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32())
    return days.to_numpy(zero_copy_only=False).astype(float)


def _folded(values: Sequence[str]) -> pa.Array:
    return pa.array([v.strip().lower() for v in values], pa.large_string())


def descendants(groups: pd.DataFrame, key: str) -> set[str]:
    """The group ``key`` and every group below it."""
    children: dict[str, list[str]] = {}
    for child, parent in zip(groups["key"].tolist(), groups["parent_key"].tolist(), strict=True):
        children.setdefault(parent, []).append(child)
    found = {key}
    stack = [key]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


class _Evaluator:
    """Masks over one people frame, with the group tree and today fixed."""

    def __init__(
        self,
        people: pd.DataFrame,
        groups: pd.DataFrame,
        memberships: pd.DataFrame,
        today: date,
        hire_field: str,
    ) -> None:
        self.people = people
        self.groups = groups
        self.memberships = memberships
        self.today = today
        self.hire_field = hire_field
        self.warnings: list[str] = []
        self._raw: dict[str, pa.ChunkedArray] = {}
        self._folded: dict[str, pa.ChunkedArray] = {}

    def _column(self, field: str, where: str) -> pd.Series:
        if field not in self.people.columns:
            known = ", ".join(c for c in self.people.columns if c not in ("line", "active"))
            raise ConfigError(f"{where}: the export has no field `{field}` (fields: {known})")
        return self.people[field]

    def raw(self, field: str, where: str) -> pa.ChunkedArray:
        if field not in self._raw:
            self._raw[field] = arrow_text(self._column(field, where))
        return self._raw[field]

    def folded(self, field: str, where: str) -> pa.ChunkedArray:
        if field not in self._folded:
            self._folded[field] = pc.utf8_lower(pc.utf8_trim_whitespace(self.raw(field, where)))
        return self._folded[field]

    def condition(self, cond: Condition, where: str) -> np.ndarray:
        if cond.member_of is not None:
            return self._member_of(cond.member_of, where)
        if cond.hired_within_days is not None:
            return self._hired_within(cond.field or self.hire_field, cond.hired_within_days, where)
        assert cond.field is not None
        if cond.regex is not None:
            return _regex(self.raw(cond.field, where), cond.regex)
        values = self.folded(cond.field, where)
        if cond.equals is not None:
            return to_mask(pc.equal(values, _folded([cond.equals])[0]))
        if cond.in_ is not None:
            return to_mask(pc.is_in(values, value_set=_folded(cond.in_)))
        assert cond.not_ is not None
        excluded = [cond.not_] if isinstance(cond.not_, str) else cond.not_
        return ~to_mask(pc.is_in(values, value_set=_folded(excluded)))

    def _hired_within(self, field: str, days: int, where: str) -> np.ndarray:
        hired = day_numbers(self._column(field, where))
        age = (self.today - _EPOCH).days - hired
        with np.errstate(invalid="ignore"):
            return np.asarray(age <= days, dtype=bool)

    def _member_of(self, key: str, where: str) -> np.ndarray:
        if key not in set(self.groups["key"].tolist()):
            self.warnings.append(f"{where}: no group `{key}` in this export; it matches nobody")
            return np.zeros(len(self.people), dtype=bool)
        inside = pa.array(sorted(descendants(self.groups, key)), pa.large_string())
        keys = arrow_text(self.memberships["group_key"])
        members = arrow_text(self.memberships["external_id"]).filter(pc.is_in(keys, inside))
        ids = arrow_text(self.people["external_id"])
        return to_mask(pc.is_in(ids, value_set=pc.unique(members)))


def _regex(values: pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Python regex semantics: Arrow's RE2 runs it when it accepts the pattern."""
    try:
        return to_mask(pc.match_substring_regex(values, pattern))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        compiled = re.compile(pattern)
        return np.fromiter(
            (compiled.search(v) is not None for v in values.to_pylist()),
            dtype=bool,
            count=len(values),
        )


def evaluate_rules(
    rules: Sequence[Rule],
    people: pd.DataFrame,
    groups: pd.DataFrame,
    memberships: pd.DataFrame,
    *,
    today: date,
    where: str = "rules",
    hire_field: str = "hire_date",
) -> RuleResult:
    """Every assignment the rules give to the active people of ``people``.

    One row per (external_id, kind, item_id, rule) in rule order, then people order.
    """
    active = people["active"].to_numpy(dtype=bool)
    evaluator = _Evaluator(people, groups, memberships, today, hire_field)
    ids = arrow_text(people["external_id"])
    pieces: list[pa.Table] = []
    for number, rule in enumerate(rules):
        at = f"{where}[{number}] ({rule.name})"
        mask = active.copy()
        for index, cond in enumerate(rule.when):
            if not mask.any():
                break
            mask &= evaluator.condition(cond, f"{at}.when[{index}]")
        chosen = ids.filter(pa.array(mask))
        given = (("course", rule.assign.courses), ("learning_path", rule.assign.learning_paths))
        for kind, items in given:
            for item in dict.fromkeys(items):
                pieces.append(
                    pa.table(
                        {
                            "external_id": chosen,
                            "kind": pa.repeat(pa.scalar(kind, pa.large_string()), len(chosen)),
                            "item_id": pa.repeat(pa.scalar(item, pa.large_string()), len(chosen)),
                            "rule": pa.repeat(pa.scalar(rule.name, pa.large_string()), len(chosen)),
                        }
                    )
                )
    if not pieces:
        frame = pd.DataFrame({c: pd.Series([], dtype="str") for c in ASSIGNMENT_COLUMNS})
    else:
        table = pa.concat_tables(pieces)
        frame = pd.DataFrame({c: pd.Series(table[c], dtype="str") for c in ASSIGNMENT_COLUMNS})
    return RuleResult(frame, tuple(evaluator.warnings))
