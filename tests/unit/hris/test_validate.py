"""Row rules: what is rejected (every duplicate), what is only warned about, and the report."""

from __future__ import annotations

import pytest

from syncd.hris.roster import ISSUE_COLUMNS

from .kit import COLUMNS, issues, lines, person, read, write

ANN = "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,01/15/2020,Active"


def row(key: str, *, email: str = "", manager: str = "", hired: str = "", status: str = "Active"):
    return f"{key},First{key},Last{key},{email},Sales,Field Sales,{manager},{hired},{status}"


def test_missing_key_is_rejected_with_file_line_column_and_reason(tmp_path):
    path = write(tmp_path, lines(ANN, row(""), row("  ")))
    roster = read(path)
    assert issues(roster) == [
        (3, "Employee ID", "missing_key", ""),
        (4, "Employee ID", "missing_key", ""),
    ]
    first = roster.rejected.iloc[0]
    assert first["file"] == str(path)
    assert first["message"] == "`Employee ID` is empty"
    assert first["raw"]["First Name"] == "First"
    assert list(roster.people["external_id"]) == ["1001"]


def test_every_row_of_a_duplicated_key_is_rejected(tmp_path):
    path = write(tmp_path, lines(row("7"), ANN, row("7"), row(" 7 "), row("8")))
    roster = read(path)
    assert issues(roster) == [
        (2, "Employee ID", "duplicate_key", "7"),
        (4, "Employee ID", "duplicate_key", "7"),
        (5, "Employee ID", "duplicate_key", "7"),
    ]
    assert set(roster.rejected["message"]) == {
        "`7` is the key of 3 rows (lines 2, 4, 5); every one is rejected"
    }
    assert sorted(roster.people["external_id"]) == ["1001", "8"]


def test_duplicates_of_long_keys_are_found_too(tmp_path):
    # Keys of up to 8 bytes take a packed-integer path; longer ones are hashed as strings.
    long_key = "EMP-000000012345"
    path = write(tmp_path, lines(row(long_key), row("EMP-000000012346"), row(long_key)))
    roster = read(path)
    assert [(line, reason) for line, _, reason, _ in issues(roster)] == [
        (2, "duplicate_key"),
        (4, "duplicate_key"),
    ]
    assert list(roster.people["external_id"]) == ["EMP-000000012346"]


def test_keys_differing_only_in_case_are_different_people(tmp_path):
    roster = read(write(tmp_path, lines(row("a1"), row("A1"))))
    assert roster.rejected.empty
    assert len(roster.people) == 2


@pytest.mark.parametrize(
    "email",
    ["ann", "ann@", "@corp.test", "ann@corp", "ann@@corp.test", "ann lee@corp.test", "a@b..test"],
)
def test_invalid_email_is_rejected(tmp_path, email):
    roster = read(write(tmp_path, lines(ANN, row("1002", email=email))))
    assert issues(roster) == [(3, "Email", "invalid_email", "1002")]
    assert roster.rejected["message"][0] == f"`{email}` is not an email address"


@pytest.mark.parametrize("email", ["", "a@b.co", "first.last+tag@mail.corp.test", "zoë@corp.test"])
def test_valid_or_blank_email_is_accepted(tmp_path, email):
    roster = read(write(tmp_path, lines(row("1002", email=email))))
    assert roster.rejected.empty
    assert person(roster, "1002")["email"] == email


def test_unparseable_date_shows_the_value_as_written(tmp_path):
    roster = read(write(tmp_path, lines(ANN, row("1002", hired=" 13/45/19 "))))
    assert issues(roster) == [(3, "Hire Date", "invalid_date", "1002")]
    assert roster.rejected["message"][0].startswith("`13/45/19` is not a date")
    assert roster.rejected["raw"][0]["Hire Date"] == " 13/45/19 "


def test_a_row_with_several_problems_is_reported_for_each_and_counted_once(tmp_path):
    path = write(tmp_path, lines(ANN, row("1001", email="bad", hired="never")))
    roster = read(path)
    assert issues(roster) == [
        (2, "Employee ID", "duplicate_key", "1001"),
        (3, "Employee ID", "duplicate_key", "1001"),
        (3, "Hire Date", "invalid_date", "1001"),
        (3, "Email", "invalid_email", "1001"),
    ]
    assert roster.rows_rejected == 2
    assert roster.rows_accepted == 0


def test_the_rest_of_the_file_proceeds(tmp_path):
    rows = [row(str(1000 + n), email=f"p{n}@corp.test") for n in range(50)]
    rows[10] = row("1010", email="nope")
    rows[20] = row("")
    roster = read(write(tmp_path, lines(*rows)))
    assert roster.rows_accepted == 48
    assert roster.rows_rejected == 2
    assert roster.source.rows_read == 50


def test_report_columns_and_types(tmp_path):
    roster = read(write(tmp_path, lines(ANN, row(""))))
    assert list(roster.rejected.columns) == ISSUE_COLUMNS
    assert list(roster.warnings.columns) == ISSUE_COLUMNS
    assert roster.rejected["line"].dtype == "int64"
    clean = read(write(tmp_path, lines(ANN), name="clean.csv"))
    assert list(clean.rejected.columns) == ISSUE_COLUMNS
    assert clean.rejected["line"].dtype == "int64"
    assert clean.rows_rejected == 0


# --------------------------------------------------------------------------- managers


def test_unknown_manager_is_a_warning_and_the_row_is_kept(tmp_path):
    path = write(tmp_path, lines(ANN, row("1002", manager="1001"), row("1003", manager="9999")))
    roster = read(path)
    assert roster.rejected.empty
    assert sorted(roster.people["external_id"]) == ["1001", "1002", "1003"]
    assert issues(roster, "warnings") == [(4, "Manager ID", "unknown_manager", "1003")]
    assert roster.warnings["message"][0] == (
        "manager `9999` is not an accepted person in this export"
    )


def test_a_rejected_manager_is_not_a_valid_reference(tmp_path):
    path = write(tmp_path, lines(row("1001", email="bad"), row("1002", manager="1001")))
    roster = read(path)
    assert issues(roster) == [(2, "Email", "invalid_email", "1001")]
    assert issues(roster, "warnings") == [(3, "Manager ID", "unknown_manager", "1002")]


def test_blank_manager_is_fine_and_warnings_skip_rejected_rows(tmp_path):
    path = write(tmp_path, lines(row("1001", manager="  "), row("", manager="4242")))
    roster = read(path)
    assert roster.warnings.empty
    assert person(roster, "1001")["manager_id"] == ""


def test_manager_check_with_long_keys(tmp_path):
    boss = "MGR-0000000000001"
    path = write(
        tmp_path,
        lines(
            row(boss), row("E-00000000000002", manager=boss), row("x", manager="MGR-0000000000009")
        ),
    )
    roster = read(path)
    assert issues(roster, "warnings") == [(4, "Manager ID", "unknown_manager", "x")]


def test_no_manager_check_when_turned_off(tmp_path):
    roster = read(write(tmp_path, lines(row("1002", manager="9999"))), manager=None)
    assert roster.warnings.empty


def test_manager_mapping_may_be_absent_from_the_config(tmp_path):
    columns = {k: v for k, v in COLUMNS.items() if k != "manager_id"}
    roster = read(write(tmp_path, lines(row("1002", manager="9999"))), columns=columns)
    assert roster.warnings.empty
    assert "manager_id" not in roster.people.columns


def test_the_value_column_holds_what_the_file_says(tmp_path):
    header = "Employee ID,First,Last,Hire Date"
    text = lines("1001,Ann,Lee, 13/45/19 ", "1002,Bob Jr,Ray,", header=header)
    roster = read(
        write(tmp_path, text),
        columns={
            "employee_id": "Employee ID",
            "first_name": "First",
            "last_name": "Last",
            "hire_date": "Hire Date",
        },
        derived={"email": "{first_name}.{last_name}@corp.test"},
    )
    assert [(r.line, r.column, r.value) for r in roster.rejected.itertuples()] == [
        (2, "Hire Date", " 13/45/19 "),
        (3, "email", "Bob Jr.Ray@corp.test"),
    ]
