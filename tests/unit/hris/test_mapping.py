"""Mapping: headers, whitespace, name split, dates, derived fields and status, from real files."""

from __future__ import annotations

import pyarrow as pa
import pytest

from syncd.hris import mapping

from .kit import TODAY, issues, lines, person, read, write

NAMES = "Employee ID,Name,Email"
NAME_COLUMNS = {"employee_id": "Employee ID", "full_name": "Name", "email": "Email"}


# --------------------------------------------------------------------------- headers


def test_headers_match_case_and_whitespace_insensitively(tmp_path):
    header = "  EMPLOYEE   ID ,first name,LastName,e-mail"
    path = write(tmp_path, lines("1001,Ann,Lee,ann@corp.test", header=header))
    columns = {
        "employee_id": "Employee ID",
        "first_name": "First Name",
        "last_name": "last name",
        "email": "E-Mail",
    }
    roster = read(path, columns=columns)
    assert person(roster, "1001")["last_name"] == "Lee"
    assert person(roster, "1001")["email"] == "ann@corp.test"


def test_unmapped_columns_are_ignored(tmp_path):
    header = "Badge,Employee ID,SSN,First Name"
    path = write(tmp_path, lines("B1,1001,123-45-6789,Ann", header=header))
    roster = read(path, columns={"employee_id": "Employee ID", "first_name": "First Name"})
    assert "123-45-6789" not in roster.people.to_string()
    assert list(roster.people.columns) == [
        "external_id",
        "employee_id",
        "first_name",
        "active",
        "line",
    ]


def test_header_key_ignores_all_whitespace_and_case():
    assert mapping.header_key(" Hire\tDate ") == mapping.header_key("HIREDATE") == "hiredate"


# --------------------------------------------------------------------------- whitespace


def test_values_are_trimmed_and_inner_whitespace_collapsed(tmp_path):
    text = lines(
        ' 1001 ,  Ann   Marie ,"Lee\tSmith",ann@corp.test,Sales,"Field\n  Sales",,,Active',
        "1002,Bob\u00a0\u00a0Jr,Ray\u2003,bob@corp.test,Sales,Inside Sales,,,  Active  ",
    )
    roster = read(write(tmp_path, text))
    ann, bob = person(roster, "1001"), person(roster, "1002")
    assert ann["first_name"] == "Ann Marie"
    assert ann["last_name"] == "Lee Smith"
    assert ann["department"] == "Field Sales"
    assert bob["first_name"] == "Bob Jr"
    assert bob["last_name"] == "Ray"
    assert bob["status"] == "Active"


def test_normalise_leaves_clean_values_and_non_ascii_letters_alone():
    values = pa.array(["Ann", "Zoë Müller", "  a  b  ", "£5", "", "\u00a0x\u00a0"], mapping.TEXT)
    assert mapping.normalise(values).to_pylist() == ["Ann", "Zoë Müller", "a b", "£5", "", "x"]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "full, first, middle, last",
    [
        ("Lee, Ann", "Ann", "", "Lee"),
        ("Lee, Ann M", "Ann", "M", "Lee"),
        ("Lee,Ann", "Ann", "", "Lee"),
        ("Lee , Ann", "Ann", "", "Lee"),
        ("Van der Berg, Anna Maria", "Anna", "Maria", "Van der Berg"),
        ("Núñez, José Luis A", "José", "Luis A", "Núñez"),
        ("Ann Lee", "Ann", "", "Lee"),
        ("Ann Marie Lee", "Ann", "Marie", "Lee"),
        ("Cher", "Cher", "", "Cher"),  # one word: both names (name_split.single_word)
        ("Lee,", "Lee", "", "Lee"),
        ("", "", "", ""),
    ],
)
def test_last_first_names_are_split(tmp_path, full, first, middle, last):
    path = write(tmp_path, lines(f'1001,"{full}",', header=NAMES))
    roster = read(path, columns=NAME_COLUMNS, name_split={"column": "full_name"})
    got = person(roster, "1001")
    assert (got["first_name"], got["middle_name"], got["last_name"]) == (first, middle, last)


def test_first_last_style_ignores_commas(tmp_path):
    path = write(tmp_path, lines('1001,"Ann M Lee",', '1002,"Bob Ray",', header=NAMES))
    roster = read(
        path, columns=NAME_COLUMNS, name_split={"column": "full_name", "format": "first_last"}
    )
    assert [person(roster, k)["last_name"] for k in ("1001", "1002")] == ["Lee", "Ray"]
    assert person(roster, "1001")["middle_name"] == "M"


def test_name_split_fills_only_empty_name_fields(tmp_path):
    header = "Employee ID,Name,Preferred First"
    text = lines('1001,"Lee, Ann",Annie', '1002,"Ray, Bob",', header=header)
    roster = read(
        write(tmp_path, text),
        columns={
            "employee_id": "Employee ID",
            "full_name": "Name",
            "first_name": "Preferred First",
        },
        name_split={"column": "full_name"},
    )
    assert person(roster, "1001")["first_name"] == "Annie"
    assert person(roster, "1002")["first_name"] == "Bob"
    assert person(roster, "1001")["last_name"] == "Lee"


def test_split_names_on_a_sliced_array():
    # Arrays handed around after a filter or slice start at an offset into their buffers.
    full = pa.array(["x", "Lee, Ann M", "Ray Bob"], mapping.TEXT).slice(1)
    first, middle, last = mapping.split_names(full, "last_first")
    assert first.to_pylist() == ["Ann", "Ray"]
    assert middle.to_pylist() == ["M", ""]
    assert last.to_pylist() == ["Lee", "Bob"]


# --------------------------------------------------------------------------- dates


def test_two_digit_year_dates_with_the_configured_format(tmp_path):
    text = lines(
        "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,01/15/99,Active",
        "1002,Bob,Ray,bob@corp.test,Sales,Field Sales,,2/3/21,Active",
        "1003,Cid,Moe,cid@corp.test,Sales,Field Sales,,,Active",
    )
    roster = read(write(tmp_path, text), date_formats=["%m/%d/%y"])
    assert person(roster, "1001")["hire_date"] == "1999-01-15"
    assert person(roster, "1002")["hire_date"] == "2021-02-03"
    assert person(roster, "1003")["hire_date"] == ""


def test_formats_are_tried_in_order(tmp_path):
    text = lines(
        "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,2020-01-15,Active",
        "1002,Bob,Ray,bob@corp.test,Sales,Field Sales,,15.01.2020,Active",
        "1003,Cid,Moe,cid@corp.test,Sales,Field Sales,,01/15/2020,Active",
    )
    roster = read(write(tmp_path, text), date_formats=["%Y-%m-%d", "%d.%m.%Y"])
    assert person(roster, "1001")["hire_date"] == "2020-01-15"
    assert person(roster, "1002")["hire_date"] == "2020-01-15"
    assert issues(roster) == [(4, "Hire Date", "invalid_date", "1003")]
    message = roster.rejected["message"][0]
    assert message == "`01/15/2020` is not a date in any of the formats %Y-%m-%d, %d.%m.%Y"


def test_an_impossible_date_is_rejected(tmp_path):
    text = lines("1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,02/30/21,Active")
    roster = read(write(tmp_path, text), date_formats=["%m/%d/%y"])
    assert issues(roster) == [(2, "Hire Date", "invalid_date", "1001")]
    assert roster.people.empty


def test_parse_dates_maps_distinct_values_back_to_every_row():
    values = pa.array(["01/02/20", "", "nope", "01/02/20", "12/31/99"], mapping.TEXT)
    parsed = mapping.parse_dates(values, ["%m/%d/%y"])
    assert parsed.iso.to_pylist() == ["2020-01-02", "", "", "2020-01-02", "1999-12-31"]
    assert parsed.invalid.tolist() == [False, False, True, False, False]


# --------------------------------------------------------------------------- derived fields


def test_username_derived_from_the_employee_id_when_the_email_is_blank(tmp_path):
    text = lines(
        "1001,Ann,Lee,ann@corp.test,Sales,Field Sales,,,Active",
        "1002,Bob,Ray,,Sales,Field Sales,,,Active",
    )
    roster = read(
        write(tmp_path, text),
        derived={"username": "{email}", "login": "e{employee_id}@corp.test"},
    )
    assert person(roster, "1001")["username"] == "ann@corp.test"
    assert person(roster, "1002")["username"] == ""
    assert person(roster, "1002")["login"] == "e1002@corp.test"


def test_templates_chain_and_only_fill_empty_values(tmp_path):
    header = "Employee ID,Name,Email"
    text = lines('1001,"Lee, Ann",ann.lee@corp.test', '1002,"Ray, Bob",', "1003,,", header=header)
    roster = read(
        write(tmp_path, text),
        columns=NAME_COLUMNS,
        name_split={"column": "full_name"},
        derived={
            "email": "{first_name}.{last_name}@corp.test",
            "username": "{email}",
            "display": "{first_name} {last_name} ({employee_id})",
        },
    )
    assert person(roster, "1001")["email"] == "ann.lee@corp.test"
    assert person(roster, "1002")["email"] == "Bob.Ray@corp.test", "no case change"
    assert person(roster, "1002")["username"] == "Bob.Ray@corp.test"
    assert person(roster, "1003")["email"] == "", "a template with an empty field is not used"
    assert person(roster, "1003")["display"] == ""
    assert person(roster, "1001")["display"] == "Ann Lee (1001)"


def test_derived_values_are_validated_like_read_ones(tmp_path):
    header = "Employee ID,First,Last"
    text = lines("1001,Ann,Lee", "1002,Bob Jr,Ray", header=header)
    roster = read(
        write(tmp_path, text),
        columns={"employee_id": "Employee ID", "first_name": "First", "last_name": "Last"},
        derived={"email": "{first_name}.{last_name}@corp.test"},
    )
    assert issues(roster) == [(3, "email", "invalid_email", "1002")]


def test_fill_template_with_literal_braces_and_no_fields():
    values = {"a": pa.array(["x", ""], mapping.TEXT)}
    made, complete = mapping.fill_template("{{{a}}}", values, 2)
    assert made.to_pylist() == ["{x}", "{}"]
    assert complete.to_pylist() == [True, False]
    made, complete = mapping.fill_template("fixed", values, 2)
    assert made.to_pylist() == ["fixed", "fixed"]
    assert complete.to_pylist() == [True, True]


# --------------------------------------------------------------------------- status


STATUS_HEADER = "Employee ID,Status,Termination Date"
STATUS_COLUMNS = {
    "employee_id": "Employee ID",
    "status": "Status",
    "termination_date": "Termination Date",
}
WORDS = {
    "active": ["Active", "On Leave"],
    "terminated": ["Terminated", "Voluntarily Terminated", "Involuntarily  Terminated"],
}


def status_roster(tmp_path, *rows, **status):
    path = write(tmp_path, lines(*rows, header=STATUS_HEADER))
    return read(path, columns=STATUS_COLUMNS, status={**WORDS, **status})


def activity(roster) -> dict[str, bool]:
    return dict(zip(roster.people["external_id"], roster.people["active"], strict=True))


def test_status_words_map_to_active_and_terminated(tmp_path):
    roster = status_roster(
        tmp_path,
        "1,Active,",
        "2,ON LEAVE,",
        "3,voluntarily  terminated,",
        "4, Involuntarily Terminated ,",
        "5,Terminated,",
    )
    assert activity(roster) == {"1": True, "2": True, "3": False, "4": False, "5": False}
    assert roster.people["active"].dtype == bool


def test_a_future_termination_date_means_active_until_that_date(tmp_path):
    tomorrow = TODAY.replace(day=TODAY.day + 1).strftime("%m/%d/%Y")
    today = TODAY.strftime("%m/%d/%Y")
    roster = status_roster(
        tmp_path,
        f"1,Terminated,{tomorrow}",
        f"2,Terminated,{today}",
        "3,Terminated,01/01/2020",
        f"4,Active,{tomorrow}",
    )
    assert activity(roster) == {"1": True, "2": False, "3": False, "4": True}
    assert person(roster, "1")["termination_date"] == TODAY.replace(day=2).isoformat()


def test_unknown_status_is_rejected_by_default(tmp_path):
    roster = status_roster(tmp_path, "1,Active,", "2,Pending,", "3,,")
    assert activity(roster) == {"1": True}
    assert issues(roster) == [
        (3, "Status", "unknown_status", "2"),
        (4, "Status", "unknown_status", "3"),
    ]
    assert list(roster.rejected["message"]) == [
        "`Pending` is neither an active nor a terminated status",
        "the status is empty",
    ]


@pytest.mark.parametrize("unknown, expected", [("active", True), ("terminated", False)])
def test_unknown_status_may_be_read_as_active_or_terminated(tmp_path, unknown, expected):
    roster = status_roster(tmp_path, "1,Pending,", unknown=unknown)
    assert roster.rejected.empty
    assert activity(roster) == {"1": expected}


def test_without_a_status_column_the_termination_date_decides(tmp_path):
    header = "Employee ID,Termination Date"
    path = write(tmp_path, lines("1,", "2,01/01/2020", "3,12/31/2099", header=header))
    roster = read(
        path, columns={"employee_id": "Employee ID", "termination_date": "Termination Date"}
    )
    assert activity(roster) == {"1": True, "2": False, "3": True}


def test_an_optional_status_column_absent_from_the_file_is_no_status_at_all(tmp_path):
    header = "Employee ID,Termination Date"
    path = write(tmp_path, lines("1,", "2,01/01/2020", header=header))
    roster = read(
        path,
        columns={**STATUS_COLUMNS},
        optional_columns=["status"],
        status={**WORDS},
    )
    assert roster.rejected.empty
    assert activity(roster) == {"1": True, "2": False}
