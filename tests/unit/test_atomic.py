"""Files written whole or not at all, with the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat

import pytest

from syncd.atomic import replacing


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_not_owner_only(tmp_path):
    previous = os.umask(0o027)
    try:
        target = tmp_path / "results.csv"
        with replacing(target, "w") as handle:
            handle.write("a,b\n")
    finally:
        os.umask(previous)
    assert target.read_text() == "a,b\n"
    assert mode(target) == 0o640


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old")
    target.chmod(0o604)
    with replacing(target, "w") as handle:
        handle.write("new")
    assert target.read_text() == "new" and mode(target) == 0o604


def test_a_failure_leaves_the_target_and_no_partial_file(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("disk gone")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]
