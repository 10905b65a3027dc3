"""`syncd apply` reads its plan file through the regular-file reader: hostile files give
one line naming the file, never a hang or a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.pipeline.saved import read_plan
from syncd.plan.saved import InvalidPlanFile


def refusal(path: Path) -> str:
    with pytest.raises(InvalidPlanFile) as caught:
        read_plan(path)
    return str(caught.value)


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    assert (
        refusal(fifo)
        == f"{fifo}: is a named pipe (FIFO), not a regular file; name the plan file itself"
    )


def test_json_nested_beyond_any_plan_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert refusal(deep) == f"{deep}: not a syncd plan file: nested deeper than any plan"


def test_not_utf8_and_missing_files_name_the_file(tmp_path: Path) -> None:
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    assert refusal(binary) == f"{binary}: not a syncd plan file (not UTF-8 text)"
    assert refusal(tmp_path / "nope.json").endswith(
        "cannot read the plan file: No such file or directory"
    )
