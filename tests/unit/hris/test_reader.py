"""Reading the file: encodings, delimiters, quoting, physical line numbers, file-level errors.

Each test writes a real export into ``tmp_path`` and reads it through ``read_roster``; the
file-level tests assert the one error a user sees (``SourceFileError``, exit code 2, the
file named in the message) and that no Roster comes back at all.
"""

from __future__ import annotations

import gzip
import os
import time

import pytest

from syncd.errors import SourceFileError
from syncd.hris import reader

from .kit import lines, person, read, write

ANN = "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,01/15/2020,Active"
BOB = "1002,Bob,Ray,bob@corp.test,Sales,Inside Sales,1001,02/01/2021,Active"


# --------------------------------------------------------------------------- encodings


def named(tmp_path, first: str, last: str, encoding: str = "utf-8"):
    """An export of one person (key 1001) with this name, in this encoding."""
    row = f"1001,{first},{last},ann@corp.test,Sales,Field Sales,,,Active"
    return write(tmp_path, lines(row), encoding=encoding)


def name_of(roster) -> tuple[str, str]:
    got = person(roster, "1001")
    return got["first_name"], got["last_name"]


def rejected_as(roster) -> tuple[str, str, str]:
    """(column, reason, value as decoded) of the one rejection."""
    [row] = roster.rejected[["column", "reason", "value"]].itertuples(index=False, name=None)
    return row


def test_utf8_with_non_ascii_letters(tmp_path):
    roster = read(named(tmp_path, "Zoë", "Núñez"))
    assert roster.source.encoding == "utf-8"
    assert name_of(roster) == ("Zoë", "Núñez")


def test_utf8_bom_is_dropped_so_the_first_header_still_maps(tmp_path):
    path = write(tmp_path, lines(ANN, BOB), bom=True)
    roster = read(path)
    assert roster.source.encoding == "utf-8-sig"
    assert list(roster.people["employee_id"]) == ["1001", "1002"]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_single_byte_exports_are_detected(tmp_path, encoding):
    roster = read(named(tmp_path, "Renée", "Müller", encoding))
    assert roster.source.encoding == "cp1252"
    assert name_of(roster) == ("Renée", "Müller")


def test_cp1252_only_characters_are_decoded_as_cp1252(tmp_path):
    # 0x92 is a right single quote in cp1252 (Excel's apostrophe), a control code in latin-1.
    assert name_of(read(named(tmp_path, "Ann", "O’Brien", "cp1252"))) == ("Ann", "O’Brien")


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    roster = read(named(tmp_path, "Ann", "Lee\x81", "latin-1"))
    assert roster.source.encoding == "latin-1"
    # U+0081 is a C1 control, not a letter: decoded as latin-1, then rejected for it.
    assert rejected_as(roster) == ("Last Name", "control_character", "Lee\x81")


def test_encoding_set_in_config_wins_over_detection(tmp_path):
    # "Ã©" in cp1252 is the bytes C3 A9, which is also valid UTF-8 ("é"): only the config
    # can tell which one the HRIS meant.
    path = named(tmp_path, "AnnÃ©", "Lee", "cp1252")
    assert name_of(read(path)) == ("Anné", "Lee")
    configured = read(path, encoding="cp1252")
    assert configured.source.encoding == "cp1252"
    assert name_of(configured) == ("AnnÃ©", "Lee")


def test_latin1_set_in_config(tmp_path):
    path = named(tmp_path, "Ann", "Lee\x80", "latin-1")
    assert name_of(read(path)) == ("Ann", "Lee€"), "auto reads 0x80 as cp1252"
    latin1 = read(path, encoding="latin-1")
    assert rejected_as(latin1) == ("Last Name", "control_character", "Lee\x80")


def test_utf16_with_bom(tmp_path):
    path = write(tmp_path, lines(ANN, BOB), encoding="utf-16")
    roster = read(path)
    assert roster.source.encoding == "utf-16"
    assert list(roster.people["employee_id"]) == ["1001", "1002"]


def test_text_that_is_not_the_configured_encoding_names_the_line(tmp_path):
    path = write(tmp_path, lines(ANN, "1002,Renée,Ray,,Sales,,,,Active"), encoding="cp1252")
    with pytest.raises(SourceFileError, match=r"line 3: not valid utf-8 text") as err:
        read(path, encoding="utf-8")
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    header = (
        "Employee ID,First Name,Last Name,Email,Division,Department,Manager ID,Hire Date,Status"
    )
    rows = [
        "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,01/15/2020,Active",
        "1002,Bob,Ray,bob@corp.test,Sales,Inside Sales,1001,02/01/2021,Active",
    ]
    text = lines(*(r.replace(",", delimiter) for r in rows), header=header.replace(",", delimiter))
    roster = read(write(tmp_path, text))
    assert roster.source.delimiter == delimiter
    assert person(roster, "1002")["department"] == "Inside Sales"
    assert person(roster, "1002")["manager_id"] == "1001"


def test_semicolon_file_with_commas_inside_values(tmp_path):
    header = "Employee ID;Name;Department"
    text = lines("1001;Lee, Ann;Sales, North", "1002;Ray, Bob;Sales, South", header=header)
    roster = read(
        write(tmp_path, text),
        columns={"employee_id": "Employee ID", "full_name": "Name", "department": "Department"},
    )
    assert roster.source.delimiter == ";"
    assert person(roster, "1001")["full_name"] == "Lee, Ann"
    assert person(roster, "1002")["department"] == "Sales, South"


def test_comma_file_with_quoted_commas_is_not_mistaken_for_another_delimiter(tmp_path):
    text = lines('1001,"Lee, Ann",Sales', '1002,"Ray, Bob",Support', header="ID,Name,Department")
    roster = read(
        write(tmp_path, text),
        columns={"employee_id": "ID", "full_name": "Name", "department": "Department"},
    )
    assert roster.source.delimiter == ","
    assert person(roster, "1001")["full_name"] == "Lee, Ann"


def test_delimiter_set_in_config_wins_over_sniffing(tmp_path):
    text = lines("1001;x|Ann|Lee", "1002;y|Bob|Ray", header="ID;code|First|Last")
    columns = {"employee_id": "ID;code", "first_name": "First", "last_name": "Last"}
    roster = read(write(tmp_path, text), columns=columns, delimiter="|")
    assert roster.source.delimiter == "|"
    assert list(roster.people["employee_id"]) == ["1001;x", "1002;y"]


def test_tab_may_be_written_as_backslash_t_in_config(tmp_path):
    text = lines("1001\tAnn", "1002\tBob", header="ID\tFirst")
    roster = read(
        write(tmp_path, text), columns={"employee_id": "ID", "first_name": "First"}, delimiter="\\t"
    )
    assert list(roster.people["first_name"]) == ["Ann", "Bob"]


# --------------------------------------------------------------------------- records and lines


def test_crlf_line_endings_leave_no_carriage_return_in_values(tmp_path):
    roster = read(write(tmp_path, lines(ANN, BOB), crlf=True))
    assert list(roster.people["status"]) == ["Active", "Active"]
    assert list(roster.people["line"]) == [2, 3]


def test_last_record_without_a_final_newline(tmp_path):
    roster = read(write(tmp_path, lines(ANN) + BOB))
    assert list(roster.people["line"]) == [2, 3]
    assert person(roster, "1002")["status"] == "Active"


def test_quoted_newlines_keep_physical_line_numbers(tmp_path):
    text = lines(
        '1001,Ann,Lee,ann@corp.test,Sales,"Field\nSales\nEast",,01/15/2020,Active',
        BOB,
        '1003,"Cid\r\nJr",Moe,not-an-email,Sales,Field Sales,,01/15/2020,Active',
        "1004,Dee,Kay,dee@corp.test,Sales,Field Sales,,01/15/2020,Active",
    )
    roster = read(write(tmp_path, text))
    assert dict(zip(roster.people["external_id"], roster.people["line"], strict=True)) == {
        "1001": 2,
        "1002": 5,
        "1004": 8,
    }
    assert person(roster, "1001")["department"] == "Field Sales East"
    (bad,) = roster.rejected.itertuples()
    assert (bad.line, bad.reason, bad.key) == (6, "invalid_email", "1003")


def test_quoted_newlines_in_a_crlf_file(tmp_path):
    text = lines('1001,Ann,Lee,ann@corp.test,Sales,"Field\nSales",,,Active', BOB)
    roster = read(write(tmp_path, text, crlf=True))
    assert list(roster.people["line"]) == [2, 4]
    assert person(roster, "1001")["department"] == "Field Sales"


def test_blank_lines_are_skipped_but_still_counted_as_lines(tmp_path):
    text = lines("", ANN, "", "   ", BOB, ",,,,,,,,", "")
    roster = read(write(tmp_path, text))
    assert list(roster.people["line"]) == [3, 6]
    assert roster.source.rows_read == 2
    assert roster.rejected.empty


def test_quoted_delimiters_and_doubled_quotes(tmp_path):
    text = lines('1001,"Ann ""Annie""",Lee,ann@corp.test,"Sales, North",Field Sales,,,Active')
    roster = read(write(tmp_path, text))
    assert person(roster, "1001")["first_name"] == 'Ann "Annie"'
    assert person(roster, "1001")["division"] == "Sales, North"


@pytest.mark.parametrize("stray", [1, 2], ids=["odd-quote-count", "even-quote-count"])
def test_stray_quotes_inside_unquoted_values_still_give_the_right_lines(tmp_path, stray):
    # A literal quote in an unquoted field (5" display) confuses quote counting; the reader
    # must notice and still report every record at its physical line.
    third = '7" Tablets' if stray == 2 else "Tablets"
    text = lines(
        '1001,Ann,Lee,ann@corp.test,Sales,5" Displays,,,Active',
        BOB,
        f"1003,Cid,Moe,cid@corp.test,Sales,{third},,,Active",
        "1004,Dee,Kay,bad-email,Sales,Field Sales,,,Active",
    )
    roster = read(write(tmp_path, text))
    assert person(roster, "1001")["department"] == '5" Displays'
    assert person(roster, "1003")["department"] == third
    assert list(roster.people["line"]) == [2, 3, 4]
    assert [(r.line, r.reason) for r in roster.rejected.itertuples()] == [(5, "invalid_email")]


def test_a_record_with_the_wrong_number_of_fields_is_rejected_with_its_line(tmp_path):
    text = lines(
        ANN, "1002,Bob,Ray,bob@corp.test,Sales", "1003,Cid,Moe,,Sales,Support,,,Active,extra"
    )
    roster = read(write(tmp_path, text))
    assert list(roster.people["external_id"]) == ["1001"]
    assert [(r.line, r.reason, r.key) for r in roster.rejected.itertuples()] == [
        (3, "bad_field_count", "1002"),
        (4, "bad_field_count", "1003"),
    ]
    assert roster.rejected["message"][0] == "5 fields where the header has 9"
    assert roster.source.rows_read == 3
    assert roster.rows_rejected == 2


def test_source_info_describes_the_file(tmp_path):
    path = write(tmp_path, lines(ANN, BOB))
    info = read(path).source
    assert info.path == path
    assert info.size == path.stat().st_size
    assert len(info.sha256) == 64
    assert info.rows_read == 2
    assert info.mtime.tzinfo is not None


def test_a_glob_reads_the_newest_matching_file(tmp_path):
    old = write(tmp_path, lines(ANN), name="roster-2025-01.csv")
    new = write(tmp_path, lines(ANN, BOB), name="roster-2025-02.csv")
    past = time.time() - 3600
    os.utime(old, (past, past))
    roster = read(tmp_path / "roster-*.csv")
    assert roster.source.path == new
    assert roster.source.rows_read == 2


# --------------------------------------------------------------------------- file-level errors


def file_error(path, **overrides) -> str:
    """The message of the SourceFileError reading ``path`` raises (it must raise one)."""
    with pytest.raises(SourceFileError) as err:
        read(path, **overrides)
    return str(err.value)


def test_missing_file(tmp_path):
    message = file_error(tmp_path / "nope.csv")
    assert message == f"{tmp_path / 'nope.csv'}: file not found"


def test_glob_without_a_match(tmp_path):
    assert "no file matches this pattern" in file_error(tmp_path / "roster-*.csv")


def test_a_directory_is_not_an_export(tmp_path):
    assert "is a directory" in file_error(tmp_path)


@pytest.mark.parametrize("content", [b"", b"   \n\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    assert file_error(path) == f"{path}: the file is empty"


@pytest.mark.parametrize("tail", ["", "\n", "\n\n\n", "\n,,,,,,,,\n"])
def test_header_only(tmp_path, tail):
    path = tmp_path / "export.csv"
    path.write_text(lines().rstrip("\n") + tail, encoding="utf-8")
    message = file_error(path)
    assert "has a header but no rows" in message
    assert "Employee ID" in message


def test_required_column_absent_names_it_and_lists_the_headers(tmp_path):
    path = write(tmp_path, lines("1001,Ann", header="Employee ID,First Name"))
    message = file_error(path, columns={"employee_id": "Employee ID", "email": "E-mail"})
    assert "required column `E-mail` (for `email`) not found" in message
    assert "`Employee ID`, `First Name`" in message


def test_optional_column_may_be_absent(tmp_path):
    path = write(tmp_path, lines("1001,Ann", header="Employee ID,First Name"))
    roster = read(
        path,
        columns={"employee_id": "Employee ID", "first_name": "First Name", "email": "E-mail"},
        optional_columns=["email"],
    )
    assert person(roster, "1001")["email"] == ""


def test_a_header_twice_is_ambiguous(tmp_path):
    path = write(tmp_path, lines("1001,a@x.test,b@x.test", header="Employee ID,Email,EMAIL"))
    message = file_error(path, columns={"employee_id": "Employee ID", "email": "Email"})
    assert "header `Email` (for `email`) appears more than once (columns 2 and 3)" in message


def test_plain_text_is_not_a_csv(tmp_path):
    path = write(tmp_path, "Dear HR team\nplease find attached the export\nthanks\n")
    assert "not a CSV file: no comma, semicolon, tab or pipe" in file_error(path)


def test_binary_data_is_refused(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(lines(ANN).encode() + b"\x00\x01\x02\xff" * 10)
    assert "not a CSV file: it contains binary data" in file_error(path)


@pytest.mark.parametrize(
    "data, what",
    [
        (b"PK\x03\x04" + b"\x00" * 40, "ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "Excel .xls workbook"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
        (gzip.compress(b"Employee ID,Email\n1,a@b.c\n"), "gzip archive"),
    ],
)
def test_known_binary_formats_are_named(tmp_path, data, what):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    assert what in file_error(path)


def test_open_export_does_not_guess_a_delimiter_for_one_column_files(tmp_path):
    path = write(tmp_path, "Employee ID\n1001\n1002\n")
    export = reader.open_export(path, min_columns=1)
    assert export.headers == ["Employee ID"]
    with pytest.raises(SourceFileError, match="not a CSV file"):
        reader.open_export(path, min_columns=2)


def test_classic_mac_line_endings(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(lines(ANN, BOB).replace("\n", "\r").encode())
    roster = read(path)
    assert list(roster.people["line"]) == [2, 3]
    assert person(roster, "1002")["status"] == "Active"


def test_utf16_without_bom_is_recognised_and_can_be_configured(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(lines(ANN, BOB).encode("utf-16-le"))
    assert 'set `encoding = "utf-16-le"`' in file_error(path)
    roster = read(path, encoding="utf-16-le")
    assert list(roster.people["employee_id"]) == ["1001", "1002"]


def test_quoted_newlines_and_a_malformed_record_together(tmp_path):
    text = lines(
        '1001,Ann,Lee,ann@corp.test,Sales,"Field\nSales",,,Active',
        "1002,Bob,Ray",
        '1003,Cid,Moe,cid@corp.test,Sales,"Inside\n\nSales",,,Active',
        "1004,Dee,Kay,dee@corp.test,Sales,Field Sales,,,Active,,",
        "1005,Eve,Fox,eve@corp.test,Sales,Field Sales,,,Active",
    )
    roster = read(write(tmp_path, text))
    assert list(roster.people["line"]) == [2, 5, 9]
    assert [(r.line, r.reason, r.key) for r in roster.rejected.itertuples()] == [
        (4, "bad_field_count", "1002"),
        (8, "bad_field_count", "1004"),
    ]
    assert roster.rejected["value"][0] == "1002,Bob,Ray"
