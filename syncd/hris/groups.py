"""Groups and memberships from configured columns, hierarchies included.

A grouping such as ``org = [division, department]`` makes one group per distinct path of
values: ``org:Sales`` and its child ``org:Sales/Field Sales``. Keys are built from names, so
the same export always yields the same keys and the plan can diff them run after run. A
``/`` or ``%`` inside a name is escaped (``%2F``, ``%25``) so that ``A/B`` as one department
and ``B`` under ``A`` stay two different keys.

Memberships come grouping by grouping, people in file order; groups are sorted by key, which
puts every parent before its children.

Each person is a member of the leaf of each grouping: the deepest level before the first
empty value. A person whose department is empty but whose division is set belongs to the
division; with an empty top level, to no group of that grouping (a blank division is not a
group called "").

Values of one column that differ only in case ("Sales", "SALES") are one group, as the LMS
has it (Litmos matches team names case-insensitively): named by the spelling most rows use,
the first in the file on a tie. Two spellings as two groups would be two keys for one team,
and whatever one of them removed the other would lose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import GroupSpec
from syncd.hris.mapping import TEXT

GROUP_COLUMNS = ["key", "name", "parent_key", "grouping", "level"]
MEMBERSHIP_COLUMNS = ["grouping", "group_key", "external_id"]


def _escape(values: pa.Array) -> pa.Array:
    return pc.replace_substring(pc.replace_substring(values, "%", "%25"), "/", "%2F")


def _join(*parts: pa.Array | str) -> pa.Array:
    pieces = [pa.scalar(p, TEXT) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*pieces, pa.scalar("", TEXT))


def build(
    specs: Sequence[GroupSpec], values: dict[str, pa.Array], external_id: pa.Array
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(groups, memberships) for the given people."""
    group_parts: list[pd.DataFrame] = []
    member_parts: list[pd.DataFrame] = []
    for spec in specs:
        levels, leaf = _levels(spec, values, len(external_id))
        if not levels:
            continue
        group_parts.extend(level.to_pandas() for level in levels)
        members = np.flatnonzero(leaf >= 0)
        all_keys = pa.concat_arrays([level.column("key").combine_chunks() for level in levels])
        member_parts.append(
            pa.table(
                {
                    "grouping": pa.repeat(pa.scalar(spec.name, TEXT), len(members)),
                    "group_key": all_keys.take(pa.array(leaf[members], pa.int64())),
                    "external_id": external_id.take(pa.array(members, pa.int64())),
                }
            ).to_pandas()
        )
    groups = (
        pd.concat(group_parts, ignore_index=True).sort_values("key", ignore_index=True)
        if group_parts
        else _empty(GROUP_COLUMNS, level=True)
    )
    memberships = (
        pd.concat(member_parts, ignore_index=True) if member_parts else _empty(MEMBERSHIP_COLUMNS)
    )
    return groups, memberships


def _levels(
    spec: GroupSpec, values: dict[str, pa.Array], rows: int
) -> tuple[list[pa.Table], np.ndarray]:
    """One table of distinct groups per level, and each row's leaf as a position in them.

    Each level's path is an integer code: (code of the parent path, code of this level's
    value) factorised again, so only the distinct paths (a few hundred, usually) ever
    become strings.
    """
    levels: list[pa.Table] = []
    leaf = np.full(rows, -1, dtype=np.int64)
    present = np.ones(rows, dtype=bool)
    code = np.zeros(rows, dtype=np.int64)
    parent_keys: pa.Array | None = None
    offset = 0
    for depth, column in enumerate(spec.columns):
        encoded = pc.dictionary_encode(values[column])
        names, index = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
        index = _one_spelling(names, index)
        present &= pc.not_equal(names, "").to_numpy(zero_copy_only=False)[index]
        where = np.flatnonzero(present)
        if not len(where):
            break
        width = len(names)
        codes, distinct = pd.factorize(code[where] * width + index[where])
        level_names = names.take(pa.array(distinct % width, pa.int64()))
        if parent_keys is None:
            keys = _join(f"{spec.name}:", _escape(level_names))
            parents = pa.repeat(pa.scalar("", TEXT), len(distinct))
        else:
            parents = parent_keys.take(pa.array(distinct // width, pa.int64()))
            keys = _join(parents, "/", _escape(level_names))
        levels.append(
            pa.table(
                {
                    "key": keys,
                    "name": level_names,
                    "parent_key": parents,
                    "grouping": pa.repeat(pa.scalar(spec.name, TEXT), len(distinct)),
                    "level": pa.repeat(pa.scalar(depth, pa.int64()), len(distinct)),
                }
            )
        )
        code[where] = codes
        leaf[where] = codes + offset
        offset += len(distinct)
        parent_keys = keys
    return levels, leaf


def _one_spelling(names: pa.Array, index: np.ndarray) -> np.ndarray:
    """``index`` with every value pointing at the chosen spelling of its case-folded form.

    ``names`` is a dictionary in order of first appearance (Arrow's dictionary encoding),
    so the lowest position among equally common spellings is the first in the file.
    """
    folded = [str(name).casefold() for name in names.to_pylist()]
    if len(set(folded)) == len(folded):
        return index
    counts = np.bincount(index, minlength=len(folded))
    chosen: dict[str, int] = {}
    for position, key in enumerate(folded):
        if key not in chosen or counts[position] > counts[chosen[key]]:
            chosen[key] = position
    spelling = np.array([chosen[key] for key in folded], dtype=index.dtype)
    return spelling[index]


def _empty(columns: list[str], *, level: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in columns})
    if level:
        frame["level"] = frame["level"].astype("int64")
    return frame
