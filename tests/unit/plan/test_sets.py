"""Integer pairs for memberships and assignments: lookups, labels and set comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from syncd.plan.sets import compare, isin, keys, label_codes, member_pairs, rows_of, runs_of

PEOPLE = pa.array(["E3", "E1", "E2", "E9"], pa.large_string())


def test_rows_of_looks_every_column_up_in_one_table() -> None:
    sorted_runs = pa.array(["E1", "E1", "E2", "E2", "E2", "E7", "E9"])
    scattered = pa.array(["E9", "E7", "E3", "E1"])
    runs, loose = rows_of([sorted_runs, scattered], PEOPLE)
    assert runs.tolist() == [1, 1, 2, 2, 2, -1, 3]
    assert loose.tolist() == [3, -1, 0, 1]


def test_rows_of_shortcuts_agree_with_the_lookup() -> None:
    (same,) = rows_of([PEOPLE], PEOPLE)
    assert same.tolist() == [0, 1, 2, 3]
    users = pa.array(["E1", "E2", "E3"])
    user_rows = np.array([1, 2, 0])
    column = pa.array(["E1", "E1", "E2", "E3", "E3"])
    (known,) = rows_of([runs_of(column, users)], PEOPLE, known=user_rows)
    (looked_up,) = rows_of([column], PEOPLE)
    assert known.tolist() == looked_up.tolist() == [1, 1, 2, 0, 0]
    (empty,) = rows_of([pa.array([], pa.string())], PEOPLE)
    assert empty.tolist() == []
    (nobody,) = rows_of([pa.array(["E1"])], pa.array([], pa.string()))
    assert nobody.tolist() == [-1]


@pytest.mark.parametrize("prefix", ["E", ""], ids=["text", "numbers"])
def test_rows_gathered_through_the_mirror_users_equal_the_lookup(prefix: str) -> None:
    """Values whose positions among the mirror's users are known are gathered; the others
    (a holder missing from the users, in the export or not) are still looked up."""

    def texts(*numbers: int) -> pa.Array:
        return pa.array([f"{prefix}{n}" for n in numbers], pa.large_string())

    people = texts(3, 1, 2, 9)
    users = texts(1, 2, 3, 4)
    user_rows = np.array([1, 2, 0, -1])
    for column in (texts(1, 1, 2, 9, 9, 7, 4, 3), texts(9, 1, 7, 3, 2, 4, 1, 9)):
        runs = runs_of(column, users)
        assert runs.users is not None
        (gathered,) = rows_of([runs], people, known=user_rows)
        (looked_up,) = rows_of([column], people)
        assert gathered.tolist() == looked_up.tolist()
        (other_users,) = rows_of([runs], people, known=np.array([1, 2, 0]))
        assert other_users.tolist() == looked_up.tolist(), "positions of other users unused"


def test_rows_of_refuses_people_that_repeat() -> None:
    with pytest.raises(ValueError, match="must not repeat"):
        rows_of([pa.array(["E1", "E1", "E2", "E1"])], pa.array(["E1", "E2", "E1"]))


def test_rows_of_numeric_keys_match_as_texts() -> None:
    """Decimal ids are looked up as integers; only canonical texts may take that path."""
    people = pa.array(["30", "10", "20", "90"], pa.large_string())
    scattered = pa.array(["90", "70", "30", "10", "10"])
    (rows,) = rows_of([scattered], people)
    assert rows.tolist() == [3, -1, 0, 1, 1]
    (padded,) = rows_of([pa.array(["010", "10", "+20", " 20"])], people)
    assert padded.tolist() == [-1, 1, -1, -1]
    (hexed,) = rows_of([pa.array(["0x1E", "0x5A", "3e1", "90", "0"])], people)
    assert hexed.tolist() == [-1, -1, -1, 3, -1], "same value, other text: no match"
    huge = pa.array(["1" * 19, "1" * 18], pa.large_string())
    (long_ids,) = rows_of([pa.array(["1" * 18, "1" * 19])], huge)
    assert long_ids.tolist() == [1, 0], "beyond 18 digits they match as texts"
    far = pa.array(["5", str(2**62), "-3"], pa.large_string())
    (sparse,) = rows_of([pa.array(["-3", str(2**62), "4", "5"])], far)
    assert sparse.tolist() == [2, 1, -1, 0]
    with pytest.raises(ValueError, match="must not repeat"):
        rows_of([pa.array(["1", "2", "1", "3"])], pa.array(["1", "2", "1"]))
    with pytest.raises(ValueError, match="must not repeat"):
        rows_of([pa.array(["1", "2"])], pa.array(["5", str(2**62), "5"]))


def test_label_codes_extend_the_labels_in_order_of_first_appearance() -> None:
    labels: dict[object, int] = {("course", "C1"): 0}
    kinds = pa.array(["learning_path", "course", "course", "learning_path"])
    items = pa.array(["LP", "C2", "C1", "LP"])
    codes = label_codes([kinds, items], labels)
    assert [list(labels)[c] for c in codes.tolist()] == [
        ("learning_path", "LP"),
        ("course", "C2"),
        ("course", "C1"),
        ("learning_path", "LP"),
    ]
    assert labels[("course", "C1")] == 0
    single: dict[object, int] = {}
    assert label_codes([pa.array(["g:B", "g:A", "g:B"])], single).tolist() == [0, 1, 0]
    assert list(single) == ["g:B", "g:A"]
    assert label_codes([pa.array([], pa.string())], single).tolist() == []


def test_compare_finds_both_differences_by_table_and_by_hash() -> None:
    wanted = keys(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]), 3)
    held = keys(np.array([0, 2, 2]), np.array([1, 0, 2]), 3)
    missing, unwanted = compare(wanted, held)
    assert wanted[missing].tolist() == [0 * 3 + 0, 1 * 3 + 1]
    assert held[unwanted].tolist() == [2 * 3 + 2]
    far = np.array([5, 10**15, 7], dtype=np.int64)
    assert isin(far, np.array([10**15, 3], dtype=np.int64)).tolist() == [False, True, False]
    assert isin(far, np.zeros(0, dtype=np.int64)).tolist() == [False, False, False]


def test_member_pairs_cover_every_grouping_and_skip_unknown_people() -> None:
    memberships = pd.DataFrame(
        {
            "grouping": ["org", "org", "site", "org"],
            "group_key": ["org:A", "org:B", "site:X", "org:A"],
            "external_id": ["E1", "E2", "E1", "E5"],
        },
        dtype="str",
    )
    pairs = member_pairs(memberships, PEOPLE)
    rows, codes = pairs.rows.tolist(), pairs.codes.tolist()
    found = {(PEOPLE[r].as_py(), pairs.labels[c]) for r, c in zip(rows, codes, strict=True)}
    assert found == {("E1", "org:A"), ("E2", "org:B"), ("E1", "site:X")}
