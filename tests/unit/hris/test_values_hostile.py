"""Values that are legal CSV but wrong or hostile for an LMS: one-word names, two-digit
years, implausible dates, over-long emails and control characters (issue 11, items 1, 8, 9).

Every test reads a real file through ``read_roster`` (kit.read) and looks at the people,
the rejections and the warnings it produces.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from syncd.hris import mapping

from .kit import TODAY, issues, lines, person, read, source, write

NAMES = "Employee ID,Name,Email"
NAME_COLUMNS = {"employee_id": "Employee ID", "full_name": "Name", "email": "Email"}


def names(tmp_path, *rows: str, **split: str):
    path = write(tmp_path, lines(*rows, header=NAMES))
    return read(path, columns=NAME_COLUMNS, name_split={"column": "full_name", **split})


# --------------------------------------------------------------------------- item 1: one word


@pytest.mark.parametrize(
    "full, fmt",
    [
        ("Suharto", "last_first"),
        ("Cher", "first_last"),
        ("Suharto,", "last_first"),
        (", Suharto", "last_first"),
    ],
)
def test_a_one_word_name_is_both_first_and_last_name_with_a_warning(tmp_path, full, fmt):
    roster = names(tmp_path, f'1001,"{full}",s@corp.test', "1002,Ann Lee,a@corp.test", format=fmt)
    got = person(roster, "1001")
    word = full.strip(", ")
    assert (got["first_name"], got["middle_name"], got["last_name"]) == (word, "", word)
    assert issues(roster, "warnings") == [(2, "Name", "single_word_name", "1001")]
    message = roster.warnings["message"][0]
    assert message == f"`{word}` is a single word: used as both first and last name"
    assert roster.rejected.empty
    assert person(roster, "1002")["first_name"] == "Ann"


def test_a_one_word_name_may_be_rejected_instead(tmp_path):
    roster = names(tmp_path, "1001,Suharto,s@corp.test", single_word="reject")
    assert issues(roster) == [(2, "Name", "single_word_name", "1001")]
    assert roster.rejected["message"][0] == (
        "`Suharto` is a single word: no first name (name_split.single_word = reject)"
    )
    assert roster.people.empty


def test_a_name_given_in_its_own_column_is_not_a_one_word_name(tmp_path):
    header = "Employee ID,Name,Given"
    path = write(tmp_path, lines("1001,Cher,Cherilyn", header=header))
    columns = {"employee_id": "Employee ID", "full_name": "Name", "first_name": "Given"}
    roster = read(path, columns=columns, name_split={"column": "full_name"})
    assert (person(roster, "1001")["first_name"], person(roster, "1001")["last_name"]) == (
        "Cherilyn",
        "Cher",
    )
    assert roster.warnings.empty


def test_an_empty_name_is_not_a_one_word_name(tmp_path):
    roster = names(tmp_path, "1001,,s@corp.test")
    assert roster.warnings.empty and roster.rejected.empty


def test_single_word_accepts_only_its_two_choices():
    with pytest.raises(ValueError, match="single_word"):
        source(name_split={"column": "first_name", "single_word": "placeholder"})


# --------------------------------------------------------------------------- item 8: dates

BIRTHS = "Employee ID,First Name,Last Name,Birth Date,Hire Date,Termination Date,Status"
BIRTH_COLUMNS = {
    "employee_id": "Employee ID",
    "first_name": "First Name",
    "last_name": "Last Name",
    "birth_date": "Birth Date",
    "hire_date": "Hire Date",
    "termination_date": "Termination Date",
    "status": "Status",
}
DATES = ["birth_date", "hire_date", "termination_date"]


def births(tmp_path, *rows: str, **overrides):
    path = write(tmp_path, lines(*rows, header=BIRTHS))
    settings = {"columns": BIRTH_COLUMNS, "date_fields": DATES, "date_formats": ["%m/%d/%y"]}
    return read(path, **{**settings, **overrides})


def test_a_two_digit_birth_year_is_never_in_the_future(tmp_path):
    roster = births(
        tmp_path,
        "1001,Ann,Lee,05/01/51,01/15/20,,Active",
        "1002,Bob,Ray,12/31/68,01/15/20,,Active",
        "1003,Cid,Moe,01/02/03,01/15/20,,Active",
        "1004,Dee,Kay,06/01/25,01/15/20,,Active",  # TODAY itself is not the future
    )
    got = {k: person(roster, k)["birth_date"] for k in ("1001", "1002", "1003", "1004")}
    assert got == {
        "1001": "1951-05-01",
        "1002": "1968-12-31",
        "1003": "2003-01-02",
        "1004": "2025-06-01",
    }
    assert roster.warnings.empty
    assert person(roster, "1001")["hire_date"] == "2020-01-15"


def test_without_the_past_only_rule_the_pivot_decides(tmp_path):
    rows = ["1001,Ann,Lee,05/01/51,01/15/20,,Active", "1002,Bob,Ray,05/01/75,01/15/20,,Active"]
    default = births(tmp_path, *rows, past_only_dates=[])
    assert [person(default, k)["birth_date"] for k in ("1001", "1002")] == [
        "2051-05-01",
        "1975-05-01",
    ]
    assert default.warnings.empty, "no field is said to be always in the past"
    pivot = births(tmp_path, *rows, past_only_dates=[], two_digit_year_pivot=50)
    assert [person(pivot, k)["birth_date"] for k in ("1001", "1002")] == [
        "1951-05-01",
        "1975-05-01",
    ]


def test_the_pivot_applies_to_every_date_field(tmp_path):
    roster = births(tmp_path, "1001,Ann,Lee,,01/15/30,,Active", two_digit_year_pivot=30)
    assert person(roster, "1001")["hire_date"] == "1930-01-15"
    roster = births(tmp_path, "1001,Ann,Lee,,01/15/30,,Active", two_digit_year_pivot=31)
    assert person(roster, "1001")["hire_date"] == "2030-01-15"


def test_four_digit_years_are_never_moved(tmp_path):
    roster = births(
        tmp_path,
        "1001,Ann,Lee,05/01/2051,01/15/2020,,Active",
        date_formats=["%m/%d/%Y"],
    )
    assert person(roster, "1001")["birth_date"] == "2051-05-01"
    assert issues(roster, "warnings") == [(2, "Birth Date", "future_date", "1001")]
    assert roster.warnings["message"][0] == (
        "`05/01/2051` is 2051-05-01, in the future; `birth_date` is always in the past"
    )


def test_a_leap_day_moved_to_a_century_without_one_is_rejected_not_shifted():
    values = pa.array(["02/29/00", "02/29/96"], mapping.TEXT)
    parsed = mapping.parse_dates(values, ["%m/%d/%y"], pivot=0, not_after=TODAY)
    # 00 with pivot 0 is 1900, which has no 29 February.
    assert parsed.iso.to_pylist() == ["", "1996-02-29"]
    assert parsed.invalid.tolist() == [True, False]


def test_a_hire_date_far_in_the_future_is_a_warning(tmp_path):
    roster = births(
        tmp_path,
        "1001,Ann,Lee,,12/31/9999,,Active",
        "1002,Bob,Ray,,06/01/2026,,Active",  # exactly 365 days ahead: fine
        "1003,Cid,Moe,,06/03/2026,,Active",
        date_formats=["%m/%d/%Y"],
    )
    assert issues(roster, "warnings") == [
        (2, "Hire Date", "far_future_date", "1001"),
        (4, "Hire Date", "far_future_date", "1003"),
    ]
    assert roster.warnings["message"][0] == "`12/31/9999` is 9999-12-31, more than 366 days ahead"
    assert person(roster, "1001")["active"], "the row is kept as it is"


def test_the_far_future_limit_is_configurable_per_field(tmp_path):
    rows = ["1001,Ann,Lee,,06/30/25,12/31/25,Active"]
    roster = births(tmp_path, *rows, max_days_ahead={"hire_date": 10})
    assert issues(roster, "warnings") == [(2, "Hire Date", "far_future_date", "1001")]
    roster = births(tmp_path, *rows, max_days_ahead={"hire_date": 30, "termination_date": 200})
    assert issues(roster, "warnings") == [(2, "Termination Date", "far_future_date", "1001")]
    assert births(tmp_path, *rows, max_days_ahead={}).warnings.empty


def test_an_active_row_with_a_past_termination_date_is_a_warning(tmp_path):
    roster = births(
        tmp_path,
        "1001,Ann,Lee,,01/15/20,03/31/25,Active",
        "1002,Bob,Ray,,01/15/20,03/31/25,Terminated",
        "1003,Cid,Moe,,01/15/20,12/31/25,Active",
        "1004,Dee,Kay,,01/15/20,06/01/25,Active",  # ends today: still a warning
    )
    assert issues(roster, "warnings") == [
        (2, "Termination Date", "active_after_termination", "1001"),
        (5, "Termination Date", "active_after_termination", "1004"),
    ]
    assert roster.warnings["message"][0] == (
        "status `Active` but the termination date `03/31/25` (2025-03-31) has passed; "
        "kept as active"
    )
    assert person(roster, "1001")["active"], "the status still decides, as before"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"past_only_dates": ["birth_dat"]}, "past_only_dates: `birth_dat` is not a date field"),
        ({"max_days_ahead": {"hire": 5}}, "max_days_ahead: `hire` is not a date field"),
        ({"two_digit_year_pivot": 101}, "less than or equal to 100"),
        ({"max_days_ahead": {"hire_date": -1}}, "greater than or equal to 0"),
    ],
)
def test_date_settings_naming_unknown_fields_are_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        source(**overrides)


# --------------------------------------------------------------------------- item 9: limits

EMAILS = "Employee ID,First Name,Last Name,Email"
EMAIL_COLUMNS = {
    "employee_id": "Employee ID",
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email",
}


def emails(tmp_path, *rows: str):
    return read(write(tmp_path, lines(*rows, header=EMAILS)), columns=EMAIL_COLUMNS)


def test_emails_over_the_rfc_limits_are_rejected(tmp_path):
    domain = ".".join(["d" * 60, "e" * 60, "f" * 60, "test"])  # 187 characters
    too_long = "b" * 64 + "@" + "x" * 10 + domain  # 262
    at_limit = "c" * 64 + "@" + "yy" + domain  # 254: the most allowed
    roster = emails(
        tmp_path,
        f"1001,Ann,Lee,{'a' * 65}@corp.test",
        f"1002,Bob,Ray,{too_long}",
        f"1003,Cid,Moe,{'c' * 64}@corp.test",
        f"1004,Dee,Kay,{at_limit}",
    )
    assert issues(roster) == [
        (2, "Email", "invalid_email", "1001"),
        (3, "Email", "invalid_email", "1002"),
    ]
    assert roster.rejected["message"].tolist() == [
        "the part before @ is 65 characters; at most 64 are allowed",
        "262 characters; an email address has at most 254",
    ]
    assert sorted(roster.people["external_id"]) == ["1003", "1004"]


@pytest.mark.parametrize(
    "value, code",
    [
        ("Ann\u202eeeL", "U+202E"),
        ("Ann\u202dLee", "U+202D"),
        ("Ann\u2066Lee", "U+2066"),
        ("Ann\x1b[31mLee", "U+001B"),
        ("Ann\x07", "U+0007"),
        ("Ann\x7fLee", "U+007F"),
        ("Ann\u0085\u009bLee", "U+009B"),
    ],
)
def test_control_characters_reject_the_row_naming_the_column(tmp_path, value, code):
    roster = emails(tmp_path, f"1001,{value},Lee,ann@corp.test", "1002,Bob,Ray,bob@corp.test")
    assert issues(roster) == [(2, "First Name", "control_character", "1001")]
    message = roster.rejected["message"][0]
    assert message.startswith(f"contains {code}")
    assert message.endswith(", a control character, not text: fix the value in the HRIS")
    assert value not in message, "the hostile text itself is never echoed"
    assert list(roster.people["external_id"]) == ["1002"]


def test_a_stray_bom_or_zero_width_space_is_removed_with_a_warning(tmp_path):
    roster = emails(
        tmp_path,
        "1001\ufeff,Ann\u200b,Lee\u2060,ann@corp.test\ufeff",
        "1002,Bob,Ray,bob@corp.test",
    )
    ann = person(roster, "1001")
    assert (ann["first_name"], ann["last_name"], ann["email"]) == ("Ann", "Lee", "ann@corp.test")
    assert issues(roster, "warnings") == [
        (2, "Employee ID", "invisible_character", "1001"),
        (2, "First Name", "invisible_character", "1001"),
        (2, "Last Name", "invisible_character", "1001"),
        (2, "Email", "invisible_character", "1001"),
    ]
    assert roster.warnings["message"][1] == (
        "removed an invisible character (U+200B ZERO WIDTH SPACE)"
    )
    assert roster.rejected.empty


@pytest.mark.parametrize(
    "value", ["José", "Zoë", "Łukasz", "محمد", "דוד\u200f", "山田", "Anne\u2011Marie", "क्\u200dष"]
)
def test_letters_of_every_script_and_joiners_pass_untouched(tmp_path, value):
    roster = emails(tmp_path, f"1001,{value},Lee,ann@corp.test")
    assert person(roster, "1001")["first_name"] == value
    assert roster.warnings.empty and roster.rejected.empty
