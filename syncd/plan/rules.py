"""Assignment rules, evaluated over the whole roster at once.

A rule's conditions become boolean masks over the people frame (Arrow and numpy over whole
columns, never a loop over people); a rule applies where all its masks hold. Text tests run
on a column's distinct values and are spread back by its dictionary codes: departments,
titles and sites repeat, so a million people are a few dozen comparisons. Only people who
are active in the HRIS are considered: leavers are never given new courses.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import Condition, Rule
from syncd.errors import ConfigError
from syncd.plan.sets import Pairs, arrow_text, member_pairs

ASSIGNMENT_COLUMNS = ("external_id", "kind", "item_id", "rule")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class RuleResult:
    """Every (person, course or learning path) the rules give, and what looked wrong.

    ``pairs`` rows index the people frame, labels are ``(kind, item_id)``; ``rules`` holds,
    per pair, the index of the rule that gave it. A person may get the same item from two
    rules (the diff treats pairs as a set).
    """

    pairs: Pairs
    rules: np.ndarray
    names: tuple[str, ...]
    warnings: tuple[str, ...]
    groups: tuple[str | None, ...] = ()
    """Per rule, the group it is about when its only condition is ``member_of`` (the
    group's key as this export spells it; the rule gives its items to exactly the active
    people in that group and the groups below it), else None: what a vendor that assigns
    courses to a whole group may do in one call."""

    def frame(self, external_ids: pd.Series) -> pd.DataFrame:
        """The pairs as text (external_id, kind, item_id, rule), for people to read."""
        ids = external_ids.to_numpy(dtype=object)
        labels = self.pairs.labels
        return pd.DataFrame(
            {
                "external_id": pd.Series(ids[self.pairs.rows], dtype="str"),
                "kind": pd.Series([labels[c][0] for c in self.pairs.codes.tolist()], dtype="str"),
                "item_id": pd.Series(
                    [labels[c][1] for c in self.pairs.codes.tolist()], dtype="str"
                ),
                "rule": pd.Series([self.names[r] for r in self.rules.tolist()], dtype="str"),
            },
            columns=list(ASSIGNMENT_COLUMNS),
        )


def to_mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow boolean result as a numpy mask (null counts as False)."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def day_numbers(column: pd.Series) -> np.ndarray:
    """ISO dates as days since 1970-01-01 (float, NaN where empty or invalid)."""
    parsed = pc.strptime(arrow_text(column), format="%Y-%m-%d", unit="s", error_is_null=True)
    days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32())
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype=float)


def _folded(values: Sequence[str]) -> pa.Array:
    return pa.array([v.strip().lower() for v in values], pa.large_string())


def descendants(groups: Iterable[tuple[str, str]], key: str) -> set[str]:
    """The group ``key`` and every group below it, given (key, parent_key) pairs."""
    children: dict[str, list[str]] = {}
    for child, parent in groups:
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
        members: Pairs | None,
    ) -> None:
        self.people = people
        self.groups = groups
        self.memberships = memberships
        self.members = members
        self.today = today
        self.hire_field = hire_field
        self.warnings: list[str] = []
        self._raw: dict[str, pa.ChunkedArray] = {}
        self._encoded: dict[str, pa.DictionaryArray] = {}

    def _column(self, field: str, where: str) -> pd.Series:
        if field not in self.people.columns:
            known = ", ".join(c for c in self.people.columns if c not in ("line", "active"))
            raise ConfigError(f"{where}: the export has no field `{field}` (fields: {known})")
        return self.people[field]

    def raw(self, field: str, where: str) -> pa.ChunkedArray:
        if field not in self._raw:
            self._raw[field] = arrow_text(self._column(field, where))
        return self._raw[field]

    def encoded(self, field: str, where: str) -> pa.DictionaryArray:
        """The column dictionary-encoded: a text test runs on its few distinct values."""
        if field not in self._encoded:
            self._encoded[field] = self.raw(field, where).combine_chunks().dictionary_encode()
        return self._encoded[field]

    def _one_of(self, field: str, values: Sequence[str], where: str) -> np.ndarray:
        """Whose value is one of ``values``, ignoring case and surrounding spaces.

        Folding (lower case, trim) the distinct values only, then spreading the answer by
        the codes, beats folding a million texts: departments, titles and sites repeat.
        """
        encoded = self.encoded(field, where)
        folded = pc.utf8_lower(pc.utf8_trim_whitespace(encoded.dictionary))
        hit = pc.is_in(folded, value_set=_folded(values))
        return to_mask(pc.take(hit, encoded.indices))

    def condition(self, cond: Condition, where: str) -> np.ndarray:
        if cond.member_of is not None:
            return self._member_of(cond.member_of, where)
        if cond.hired_within_days is not None:
            return self._hired_within(cond.field or self.hire_field, cond.hired_within_days, where)
        assert cond.field is not None
        if cond.regex is not None:
            encoded = self.encoded(cond.field, where)
            hit = _regex(encoded.dictionary, cond.regex)
            return np.asarray(hit[encoded.indices.to_numpy(zero_copy_only=False)])
        if cond.equals is not None:
            return self._one_of(cond.field, [cond.equals], where)
        if cond.in_ is not None:
            return self._one_of(cond.field, cond.in_, where)
        assert cond.not_ is not None
        excluded = [cond.not_] if isinstance(cond.not_, str) else cond.not_
        return ~self._one_of(cond.field, excluded, where)

    def _hired_within(self, field: str, days: int, where: str) -> np.ndarray:
        hired = day_numbers(self._column(field, where))
        age = (self.today - _EPOCH).days - hired
        with np.errstate(invalid="ignore"):
            return np.asarray(age <= days, dtype=bool)

    def group_key(self, written: str) -> str | None:
        """The export's key of the group a rule names. Group identity ignores case
        (hris.groups keeps one spelling per group), so a rule written "org:Sales" still
        holds after the export starts spelling it "SALES"."""
        keys = {key.casefold(): key for key in self.groups["key"].tolist()}
        return keys.get(written.casefold())

    def _member_of(self, written: str, where: str) -> np.ndarray:
        found = np.zeros(len(self.people), dtype=bool)
        key = self.group_key(written)
        if key is None:
            self.warnings.append(f"{where}: no group `{written}` in this export; it matches nobody")
            return found
        if self.members is None:
            people = arrow_text(self.people["external_id"]).combine_chunks()
            self.members = member_pairs(self.memberships, people)
        tree = zip(self.groups["key"].tolist(), self.groups["parent_key"].tolist(), strict=True)
        inside = descendants(tree, key)
        codes = [code for code, label in enumerate(self.members.labels) if label in inside]
        found[self.members.rows[np.isin(self.members.codes, codes)]] = True
        return found


def _regex(values: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
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
    members: Pairs | None = None,
) -> RuleResult:
    """Every assignment the rules give to the active people of ``people``, in rule order,
    then people order (no strings per person: see :class:`RuleResult`).

    ``members``: ``memberships`` as pairs over ``people`` (``sets.member_pairs``), when the
    caller has them already.
    """
    active = people["active"].to_numpy(dtype=bool)
    evaluator = _Evaluator(people, groups, memberships, today, hire_field, members)
    labels: dict[tuple[str, str], int] = {}
    rows: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    given_by: list[np.ndarray] = []
    for number, rule in enumerate(rules):
        at = f"{where}[{number}] ({rule.name})"
        mask = active.copy()
        for index, cond in enumerate(rule.when):
            if not mask.any():
                break
            mask &= evaluator.condition(cond, f"{at}.when[{index}]")
        chosen = np.flatnonzero(mask)
        items = [("course", c) for c in rule.assign.courses]
        items += [("learning_path", p) for p in rule.assign.learning_paths]
        for item in dict.fromkeys(items):
            code = labels.setdefault(item, len(labels))
            rows.append(chosen)
            codes.append(np.full(len(chosen), code, np.int64))
            given_by.append(np.full(len(chosen), number, np.int32))
    if not rows:
        pairs, by = Pairs.empty(tuple(labels)), np.zeros(0, np.int32)
    else:
        pairs = Pairs(np.concatenate(rows), np.concatenate(codes), tuple(labels))
        by = np.concatenate(given_by)
    names = tuple(rule.name for rule in rules)
    groups = tuple(
        evaluator.group_key(rule.when[0].member_of)
        if len(rule.when) == 1 and rule.when[0].member_of is not None
        else None
        for rule in rules
    )
    return RuleResult(pairs, by, names, tuple(evaluator.warnings), groups)
