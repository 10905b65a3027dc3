"""Memberships and assignments as integer pairs, so that a million people diff in milliseconds.

A membership is (person, group key) and an assignment (person, (kind, item id)). Held as
strings, a million people's courses are millions of Python-visible strings to hash, join
and compare. Here a set of such pairs is two integer arrays: ``rows`` (the person's row in
the desired people frame) and ``codes`` (an index into ``labels``, the few distinct groups
or courses). Comparing the desired set with the mirror's is then one integer membership
test each way (:func:`compare`); strings come back only for the pairs that become ops.

The mirror's side is translated once per plan: its person keys are located among the
mirror's own users ahead (:func:`runs_of`, while the export is still being read), so the
diff only gathers each user's row among the export's people (:func:`rows_of`); its labels
come as categoricals' codes (:func:`label_array`, :func:`label_codes`). A mirror pair
whose person is not in the export gets row -1: such a person holds no live account this
run (absent, or their row was rejected), and the diff never touches their memberships or
courses.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Pairs:
    """A set of (person row, label) pairs; ``rows[i]`` has ``labels[codes[i]]``.

    Pairs may repeat (two rules giving the same course); ``compare`` and ``unique`` treat
    the arrays as a set.
    """

    rows: np.ndarray
    codes: np.ndarray
    labels: tuple[Hashable, ...]

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def empty(cls, labels: Sequence[Hashable] = ()) -> Pairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), tuple(labels))


@dataclass(frozen=True)
class Runs:
    """A person column as its runs of equal neighbours, worked out without the export.

    ``values``: the column itself (``lengths`` None) when runs would not save anything, else
    one value per run and ``lengths`` its run lengths; ``numbers``: the values as integers,
    when they are canonical decimals; ``users``: each value's position among the mirror's
    users (-1: not one of them), when worked out against them (:func:`runs_of`; there
    were ``user_count``), which leaves the diff a gather instead of a lookup per row.
    """

    size: int
    values: pa.Array
    lengths: np.ndarray | None
    numbers: np.ndarray | None
    users: np.ndarray | None = None
    user_count: int = 0


def runs_of(column: pa.ChunkedArray | pa.Array, users: pa.Array | None = None) -> Runs:
    """``column`` as :class:`Runs` (``users``: the mirror users' keys, in their order)."""
    flat = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    flat = flat.cast(pa.large_string())
    if not len(flat):
        runs = Runs(0, flat, None, None)
    else:
        encoded = pc.run_end_encode(flat, run_end_type=pa.int64())
        if len(encoded.values) * 2 > len(flat):
            runs = Runs(len(flat), flat, None, _decimal(flat))
        else:
            lengths = np.diff(encoded.run_ends.to_numpy(), prepend=0)
            runs = Runs(len(flat), encoded.values, lengths, _decimal(encoded.values))
    if users is None:
        return runs
    (positions,) = _value_rows([runs], users.cast(pa.large_string()))
    return replace(runs, users=positions, user_count=len(users))


def rows_of(
    columns: Sequence[pa.ChunkedArray | pa.Array | Runs],
    people: pa.Array,
    known: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Row among ``people`` (-1 where absent) of each value of each column, as int64.

    One hash table serves every column (a dictionary encoding of ``people`` followed by
    the columns' values), and equal neighbours are looked up once (run-end encoding,
    :func:`runs_of`; a column may come encoded already), so a person-sorted column costs
    little. ``known``: each mirror user's row among ``people``; a column whose values'
    positions among the mirror's users are known (:attr:`Runs.users`) then takes its rows
    from there, and only values that are no mirror user's are looked up. ``people`` must
    not repeat a value (a Roster's keys never do).
    """
    people = people.cast(pa.large_string())
    encoded = [c if isinstance(c, Runs) else runs_of(c) for c in columns]
    per_value: list[np.ndarray | None] = [None] * len(encoded)
    lookups: list[tuple[int, np.ndarray | None, Runs]] = []
    for index, runs in enumerate(encoded):
        if runs.users is not None and known is not None and len(known) == runs.user_count:
            rows = np.append(known.astype(np.int64, copy=False), -1)[runs.users]
            others = np.flatnonzero(runs.users < 0)
            per_value[index] = rows
            if len(others):
                picked = pa.array(others, pa.int64())
                numbers = None if runs.numbers is None else runs.numbers[others]
                lookups.append(
                    (index, others, Runs(len(others), runs.values.take(picked), None, numbers))
                )
        else:
            lookups.append((index, None, runs))
    found = _value_rows([runs for _, _, runs in lookups], people)
    for (index, strangers, _), looked_up in zip(lookups, found, strict=True):
        if strangers is None:
            per_value[index] = looked_up
        else:
            target = per_value[index]
            assert target is not None
            target[strangers] = looked_up
    result = []
    for runs, value_rows in zip(encoded, per_value, strict=True):
        assert value_rows is not None
        result.append(value_rows if runs.lengths is None else np.repeat(value_rows, runs.lengths))
    return result


def _value_rows(columns: Sequence[Runs], people: pa.Array) -> list[np.ndarray]:
    """Row among ``people`` (large_string, no repeats) of each of the columns' values
    (one per run, not expanded), -1 where absent."""
    count = len(people)
    found: list[np.ndarray | None] = [None] * len(columns)
    heads: list[tuple[int, Runs]] = []
    for index, runs in enumerate(columns):
        if not len(runs.values) or not count:
            found[index] = np.full(len(runs.values), -1, np.int64)
        elif _same(runs.values, people):
            found[index] = np.arange(count, dtype=np.int64)
        else:
            heads.append((index, runs))
    if heads and _by_number(people, heads, found):
        heads = []
    if heads:
        together = pa.chunked_array([people, *(runs.values for _, runs in heads)])
        codes = together.dictionary_encode()
        indices = np.concatenate(
            [chunk.indices.to_numpy(zero_copy_only=False) for chunk in codes.chunks]
        ).astype(np.int64)
        if not np.array_equal(indices[:count], np.arange(count)):
            raise ValueError("rows_of: people must not repeat a value")
        start = count
        for index, runs in heads:
            part = indices[start : start + len(runs.values)]
            start += len(runs.values)
            found[index] = np.where(part < count, part, -1)
    return [f if f is not None else np.zeros(0, np.int64) for f in found]


def _decimal(values: pa.Array) -> np.ndarray | None:
    """The values as int64 when every one is a canonical decimal integer, else None.

    Employee ids are mostly numbers: looked up as integers they cost a tenth of what
    hashing their texts does (:func:`rows_of` on a million people). Canonical means the
    number prints back as the very same text (digits only, no leading zero), so two texts
    are equal exactly when their numbers are. Checked on the bytes (all digits, each
    value as long as its number's digits) rather than by printing the numbers back,
    which would cost as much as the lookup saves.
    """
    if not len(values) or values.null_count:
        return None
    if values.type not in (pa.string(), pa.large_string()):
        values = values.cast(pa.large_string())
    _, offsets_buffer, data_buffer = values.buffers()
    width = np.int64 if values.type == pa.large_string() else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[
        values.offset : values.offset + len(values) + 1
    ]
    sizes = np.diff(offsets)
    if sizes.min() < 1 or sizes.max() > len(_POWERS):
        return None
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    if bool(((data - np.uint8(ord("0"))) > 9).any()):
        return None
    numbers = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    digits = 1 + np.searchsorted(_POWERS, numbers, side="right")
    if not np.array_equal(digits, sizes):
        return None
    return np.asarray(numbers)


_POWERS = np.array([10**k for k in range(1, 19)], dtype=np.int64)
"""10 to 10**18: a number's digit count is one more than how many of these it reaches
(18 digits at most, so every value fits an int64)."""


def _by_number(
    people: pa.Array, heads: Sequence[tuple[int, Runs]], found: list[np.ndarray | None]
) -> bool:
    """:func:`_value_rows`' lookups as integers, when ``people`` and every looked-up value
    are decimal numbers (:func:`_decimal`); False (nothing filled in) otherwise."""
    if any(runs.numbers is None for _, runs in heads):
        return False
    numbers = _decimal(people)
    if numbers is None:
        return False
    for index, runs in heads:
        assert runs.numbers is not None
        found[index] = _lookup(numbers, runs.numbers)
    return True


def _lookup(people: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in ``people`` (distinct integers), -1 where absent.

    A direct table when the numbers span a range not much larger than their count (as
    employee ids do), else a hash index.
    """
    if not len(values):
        return np.zeros(0, np.int64)
    low = min(int(people.min()), int(values.min()))
    high = max(int(people.max()), int(values.max()))
    if high - low <= 8 * (len(people) + len(values)) + (1 << 20):
        table = np.full(high - low + 1, -1, np.int64)
        positions = np.arange(len(people), dtype=np.int64)
        table[people - low] = positions
        if not np.array_equal(table[people - low], positions):
            raise ValueError("rows_of: people must not repeat a value")
        return np.asarray(table[values - low])
    index = pd.Index(people)
    if not index.is_unique:
        raise ValueError("rows_of: people must not repeat a value")
    return np.asarray(index.get_indexer(values), dtype=np.int64)


def _same(left: pa.Array, right: pa.Array) -> bool:
    """Equal text arrays, value by value (a comparison, no hashing)."""
    if len(left) != len(right):
        return False
    return bool(pc.all(pc.equal(left, right.cast(left.type))).as_py())


@dataclass(frozen=True)
class Labels:
    """Label columns encoded without the export: each row's index into ``distinct``."""

    codes: np.ndarray
    distinct: tuple[Hashable, ...]


def encode_labels(columns: Sequence[pa.ChunkedArray | pa.Array]) -> Labels:
    """The rows' labels (one column: its text; several: the tuple of texts) as codes over
    the distinct labels, in order of first appearance.

    A column that comes dictionary-encoded (:func:`label_array` of a categorical) is taken
    as it is; its dictionary must not repeat a value, as a categorical's never does.
    """
    parts = []
    for column in columns:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if not isinstance(column, pa.DictionaryArray):
            column = column.dictionary_encode()
        indices = column.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        parts.append((indices, column.dictionary))
    if not parts or not len(parts[0][0]):
        return Labels(np.zeros(0, np.int64), ())
    combined = np.zeros(len(parts[0][0]), np.int64)
    for indices, dictionary in parts:
        combined = combined * len(dictionary) + indices
    codes, seen = pd.factorize(combined)
    texts = [dictionary.to_pylist() for _, dictionary in parts]
    distinct: list[Hashable] = []
    for value in seen.tolist():
        rest = int(value)
        picked = []
        for names in reversed(texts):
            rest, at = divmod(rest, len(names))
            picked.append(names[at])
        distinct.append(picked[0] if len(picked) == 1 else tuple(reversed(picked)))
    return Labels(codes.astype(np.int64, copy=False), tuple(distinct))


def label_array(column: pd.Series) -> pa.Array:
    """A label column for :func:`encode_labels`: a categorical as its codes and categories
    (nothing hashed), any other as Arrow text."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pa.array(column)
    return arrow_text(column).combine_chunks()


def label_codes(
    columns: Sequence[pa.ChunkedArray | pa.Array] | Labels, labels: dict[Hashable, int]
) -> np.ndarray:
    """The code of each row's label (see :func:`encode_labels`; the columns may come
    encoded already).

    ``labels`` (label -> code) is extended with labels not seen before, in order of first
    appearance among the distinct values.
    """
    encoded = columns if isinstance(columns, Labels) else encode_labels(columns)
    if not len(encoded.codes):
        return np.zeros(0, np.int64)
    table = np.array(
        [labels.setdefault(label, len(labels)) for label in encoded.distinct], dtype=np.int64
    )
    return np.asarray(table[encoded.codes])


def relabel(pairs: Pairs, names: Mapping[Any, Hashable]) -> Pairs:
    """``pairs`` with labels renamed by ``names`` (the same object when none applies).

    ``names`` must not give two labels of ``pairs`` one name: codes stay as they are.
    """
    if not any(label in names for label in pairs.labels):
        return pairs
    return replace(pairs, labels=tuple(names.get(label, label) for label in pairs.labels))


def member_pairs(memberships: pd.DataFrame, people: pa.Array) -> Pairs:
    """A Roster's memberships (every grouping) as pairs over ``people``; labels: group keys.

    Rows whose person is not among ``people`` are left out.
    """
    if not len(memberships):
        return Pairs.empty()
    (rows,) = rows_of([arrow_text(memberships["external_id"])], people)
    labels: dict[Hashable, int] = {}
    codes = label_codes([arrow_text(memberships["group_key"])], labels)
    found = rows >= 0
    return Pairs(rows[found], codes[found], tuple(labels))


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


def keys(rows: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """One int64 per pair (``row * width + code``), comparable across both sides."""
    found = rows.astype(np.int64, copy=False) * max(width, 1)
    found += codes.astype(np.int64, copy=False)
    return found


def isin(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin`` by a lookup table when the key range is small, else by hashing."""
    if not len(values) or not len(members):
        return np.zeros(len(values), dtype=bool)
    low = min(int(values.min()), int(members.min()))
    high = max(int(values.max()), int(members.max()))
    if high - low <= 32 * (len(values) + len(members)) + (1 << 24):
        return np.isin(values, members, kind="table")
    return np.asarray(pd.Series(values).isin(members).to_numpy(), dtype=bool)


def compare(wanted: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(wanted keys missing from ``held``, held keys no longer ``wanted``) as masks."""
    return ~isin(wanted, held), ~isin(held, wanted)
