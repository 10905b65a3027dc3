"""Hostile files met in real use: mixed encodings, giant fields, pipes and devices as sources.

Each test writes the bytes a misbehaving HRIS (or a mistyped path) produces and reads them
through ``read_roster``: a file that mixes UTF-8 and cp1252 must never turn a name into
mojibake, a field too long for the CSV reader must be named for what it is, and a path that
is not a regular file must be refused at once instead of blocking the run.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.errors import SourceFileError
from syncd.hris import ingest, reader

from .kit import HEADER, lines, person, read

ANN = "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,01/15/2020,Active"
BOB = "1002,Bob,Ray,bob@corp.test,Sales,Inside Sales,1001,02/01/2021,Active"
FIELD_LIMIT = 131_072


def row(key: int, first: str, last: str = "Lee", department: str = "Field Sales") -> str:
    return f"{key},{first},{last},p{key}@corp.test,Sales,{department},,01/15/2020,Active"


def export(tmp_path: Path, *parts: bytes) -> Path:
    """A file of the header and then ``parts`` (rows already encoded, one per line)."""
    path = tmp_path / "export.csv"
    path.write_bytes(HEADER.encode() + b"\n" + b"".join(p + b"\n" for p in parts))
    return path


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def cp1252(text: str) -> bytes:
    return text.encode("cp1252")


def every_value(roster) -> str:
    return " ".join(str(v) for v in roster.people.drop(columns=["line"]).to_numpy().ravel())


# --------------------------------------------------------------------------- mixed encodings


def test_a_utf8_file_with_some_cp1252_rows_rejects_those_rows_and_keeps_the_names(tmp_path):
    path = export(
        tmp_path,
        utf8(row(1001, "José", "Núñez")),
        utf8(row(1002, "Zoë")),
        cp1252(row(1003, "Renée", "Müller")),
        utf8(row(1004, "Ann")),
    )
    roster = read(path)
    assert roster.source.encoding == "utf-8"
    assert (person(roster, "1001")["first_name"], person(roster, "1001")["last_name"]) == (
        "José",
        "Núñez",
    )
    assert person(roster, "1002")["first_name"] == "Zoë"
    assert list(roster.people["external_id"]) == ["1001", "1002", "1004"]
    assert "Ã" not in every_value(roster)
    rejected = roster.rejected.iloc[0]
    assert len(roster.rejected) == 1
    assert (rejected.file, rejected.line, rejected.column, rejected.reason, rejected.key) == (
        str(path),
        4,
        "First Name",
        "mixed_encoding",
        "1003",
    )
    assert rejected.value == "Renée", "shown as the cp1252 the bytes most likely are"
    assert "not valid UTF-8" in rejected.message
    assert "the file mixes encodings" in rejected.message
    assert "set `encoding` for this source" in rejected.message


def test_the_file_level_warning_counts_the_rejected_rows(tmp_path):
    path = export(
        tmp_path,
        utf8(row(1001, "José")),
        utf8(row(1002, "Zoë")),
        cp1252(row(1003, "Renée")),
        cp1252(row(1004, "André")),
    )
    roster = read(path)
    assert ingest.file_warnings(roster) == [
        f"{path}: the file mixes encodings: it is read as UTF-8 and 2 row(s) whose bytes are "
        "not valid UTF-8 (they look like cp1252) are rejected; fix them in the HRIS or set "
        "`encoding` for this source"
    ]


def test_no_file_level_warning_for_a_clean_file(tmp_path):
    assert ingest.file_warnings(read(export(tmp_path, utf8(row(1001, "José"))))) == []


def test_a_cp1252_file_with_a_utf8_row_rejects_that_row(tmp_path):
    path = export(
        tmp_path,
        cp1252(row(1001, "Renée", "Müller")),
        utf8(row(1002, "José")),
        cp1252(row(1003, "André", "O’Brien")),
    )
    roster = read(path)
    assert roster.source.encoding == "cp1252"
    assert person(roster, "1001")["last_name"] == "Müller"
    assert person(roster, "1003")["last_name"] == "O’Brien"
    assert "Ã" not in every_value(roster)
    assert [(r.line, r.column, r.reason, r.key, r.value) for r in roster.rejected.itertuples()] == [
        (3, "First Name", "mixed_encoding", "1002", "José")
    ]
    assert "UTF-8" in roster.rejected["message"][0]
    assert "cp1252" in ingest.file_warnings(roster)[0]


def test_a_row_mixing_both_encodings_is_rejected_whatever_the_file_mostly_is(tmp_path):
    path = export(
        tmp_path,
        utf8(row(1001, "José")),
        utf8(row(1002, "Zoë")),
        utf8("1003,José,") + cp1252("Müller") + utf8(",p1003@corp.test,Sales,Field Sales,,,Active"),
    )
    roster = read(path)
    assert list(roster.people["external_id"]) == ["1001", "1002"]
    assert [(r.line, r.column, r.key) for r in roster.rejected.itertuples()] == [
        (4, "Last Name", "1003")
    ]


def test_the_rejected_row_is_reported_on_the_line_its_record_starts(tmp_path):
    multi = (
        utf8('1002,Bob,Ray,bob@corp.test,Sales,"Inside\n') + cp1252("Sälës") + utf8('",,,Active')
    )
    path = export(tmp_path, utf8(row(1001, "José")), multi, utf8(row(1003, "Zoë")))
    roster = read(path)
    assert list(roster.people["external_id"]) == ["1001", "1003"]
    assert list(roster.people["line"]) == [2, 5]
    assert [(r.line, r.column, r.key) for r in roster.rejected.itertuples()] == [
        (3, "Department", "1002")
    ]
    assert roster.rejected["value"][0] == "Inside\nSälës"


def test_a_bad_byte_in_a_column_syncd_does_not_read_still_rejects_the_row(tmp_path):
    header = f"{HEADER},Notes"
    path = tmp_path / "export.csv"
    path.write_bytes(
        utf8(header + "\n" + row(1001, "José") + ",ok\n" + row(1002, "Bob") + ",")
        + cp1252("café")
        + b"\n"
    )
    roster = read(path)
    assert list(roster.people["external_id"]) == ["1001"]
    assert [(r.line, r.column, r.key) for r in roster.rejected.itertuples()] == [
        (3, "Notes", "1002")
    ]


def test_a_utf8_bom_file_with_cp1252_rows_rejects_the_rows_instead_of_the_file(tmp_path):
    path = export(tmp_path, utf8(row(1001, "José")), cp1252(row(1002, "Renée")))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    roster = read(path)
    assert roster.source.encoding == "utf-8-sig"
    assert list(roster.people["external_id"]) == ["1001"]
    assert person(roster, "1001")["first_name"] == "José"
    assert [(r.line, r.reason, r.key, r.value) for r in roster.rejected.itertuples()] == [
        (3, "mixed_encoding", "1002", "Renée")
    ]


def test_a_mixed_file_with_classic_mac_line_endings(tmp_path):
    path = export(tmp_path, utf8(row(1001, "José")), cp1252(row(1002, "Renée")))
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    roster = read(path)
    assert person(roster, "1001")["first_name"] == "José"
    assert [(r.line, r.key) for r in roster.rejected.itertuples()] == [(3, "1002")]


NAMES = ["Ann", "José", "Renée", "Zoë", "Müller", "O’Brien", "Núñez", "André", "Bob"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_whatever_the_mix_no_accepted_name_is_mojibake(tmp_path, people):
    path = export(
        tmp_path,
        *(
            (cp1252 if in_cp1252 else utf8)(row(1001 + n, first, last))
            for n, (first, last, in_cp1252) in enumerate(people)
        ),
    )
    roster = read(path)
    accepted = {r.external_id: (r.first_name, r.last_name) for r in roster.people.itertuples()}
    rejected = set(roster.rejected["key"])
    assert len(accepted) + len(rejected) == len(people)
    for n, (first, last, _) in enumerate(people):
        key = str(1001 + n)
        assert key in rejected or accepted[key] == (first, last)
    assert set(roster.rejected["reason"]) <= {"mixed_encoding"}


def test_an_encoding_set_in_the_config_is_honoured_for_a_mixed_file(tmp_path):
    path = export(tmp_path, utf8(row(1001, "José")), cp1252(row(1002, "Renée")))
    configured = read(path, encoding="cp1252")
    assert configured.rejected.empty
    assert person(configured, "1001")["first_name"] == "JosÃ©", "as configured"
    assert person(configured, "1002")["first_name"] == "Renée"
    with pytest.raises(SourceFileError, match=r"line 3: not valid utf-8 text"):
        read(path, encoding="utf-8")


# --------------------------------------------------------------------------- long fields


def long_field_error(path: Path, **overrides) -> str:
    with pytest.raises(SourceFileError) as err:
        read(path, **overrides)
    return str(err.value)


def test_a_field_over_the_limit_in_the_first_lines_is_named_not_called_a_missing_delimiter(
    tmp_path,
):
    path = export(tmp_path, utf8(ANN), utf8(row(1002, "Bob", department="x" * 200_000)))
    message = long_field_error(path)
    assert "no comma" not in message
    assert message.startswith(f"{path}: line 3, column 6 (`Department`): a field is longer than ")
    assert f"{FIELD_LIMIT:,} characters" in message


def test_a_field_over_the_limit_later_in_the_file_gives_the_same_error(tmp_path):
    rows = [utf8(row(1000 + n, f"P{n}")) for n in range(1, 80)]
    rows.append(utf8(row(2000, "Long", last="y" * (FIELD_LIMIT + 1))))
    message = long_field_error(export(tmp_path, *rows))
    assert "line 81, column 3 (`Last Name`): a field is longer than" in message


def test_an_unclosed_quote_swallowing_the_file_is_named_as_such(tmp_path):
    rows = [utf8(row(1000 + n, f"P{n}")) for n in range(1, 6000)]
    rows[2] = utf8('1003,"Unclosed,Lee,p1003@corp.test,Sales,Field Sales,,01/15/2020,Active')
    message = long_field_error(export(tmp_path, *rows))
    assert "line 4, column 2 (`First Name`): a field is longer than" in message
    assert "opening quote" in message


def test_a_field_at_the_limit_is_read(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(utf8(f"{HEADER},Notes\n{ANN},ok\n{BOB},{'x' * FIELD_LIMIT}\n"))
    assert list(read(path).people["external_id"]) == ["1001", "1002"]


def test_a_giant_header_is_named(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(utf8(HEADER + "," + "h" * 200_000 + "\n" + ANN + ",x\n"))
    message = long_field_error(path)
    assert "line 1" in message and "a field is longer than" in message
    assert "no comma" not in message


# --------------------------------------------------------------------------- not a regular file


@pytest.mark.timeout(30)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: outcome.append(_error_of(fifo)), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        _release(fifo)
        worker.join(5)
        pytest.fail("reading a named pipe blocked waiting for a writer")
    assert str(outcome[0]) == (
        f"{fifo}: is a named pipe (FIFO), not a regular file; point the source's path at the "
        "export file itself"
    )


def test_a_device_is_refused(tmp_path):
    message = str(_error_of(Path("/dev/zero")))
    assert message.startswith("/dev/zero: is a character device, not a regular file")


def test_a_glob_passes_over_a_newer_named_pipe(tmp_path):
    regular = tmp_path / "roster-1.csv"
    regular.write_text(lines(ANN, BOB), encoding="utf-8")
    os.mkfifo(tmp_path / "roster-2.csv")
    assert reader.locate(tmp_path / "roster-*.csv") == regular


def _error_of(path: Path) -> BaseException:
    try:
        read(path)
    except SourceFileError as exc:
        return exc
    raise AssertionError(f"{path} was read as an export")


def _release(fifo: Path) -> None:
    """Open the pipe's writing end once, so a reader blocked on it gets end-of-file."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
