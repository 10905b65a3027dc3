"""`syncd db upgrade|current` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import make_url
from typer.testing import CliRunner

from syncd.cli import app
from syncd.state import db

PASSWORD_ENV = "SYNCD_TEST_DB_PASSWORD"


def write_config(tmp_path, url: str) -> str:
    path = tmp_path / "syncd.toml"
    path.write_text(
        f'[state]\nurl = "{url}"\n\n'
        '[sources.hris]\npath = "roster.csv"\ncolumns = { employee_id = "Employee ID" }\n',
        encoding="utf-8",
    )
    return str(path)


def with_password_reference(url: str, monkeypatch) -> tuple[str, str | None]:
    """The URL with its password moved to an env reference, as users write it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url, None
    # The test cluster trusts loopback, so any password works; a real one stays as it is.
    password = parsed.password or "n0t-a-real-pw-4242"
    monkeypatch.setenv(PASSWORD_ENV, str(password))
    reference = parsed.set(password="PLACEHOLDER").render_as_string(hide_password=False)
    return reference.replace("PLACEHOLDER", "${" + PASSWORD_ENV + "}"), str(password)


def test_upgrade_then_current_report_the_revision(db_url, tmp_path, monkeypatch):
    url, password = with_password_reference(db_url, monkeypatch)
    config = write_config(tmp_path, url)
    runner = CliRunner()
    head = db.head_revision()

    before = runner.invoke(app, ["db", "current", "--config", config])
    assert before.exit_code == 0, before.output
    assert "revision none (empty: run `syncd db upgrade`)" in before.output

    first = runner.invoke(app, ["db", "upgrade", "--config", config])
    assert first.exit_code == 0, first.output
    assert f"upgraded from an empty database to revision {head}" in first.output

    again = runner.invoke(app, ["db", "upgrade", "-c", config])
    assert again.exit_code == 0, again.output
    assert f"already at revision {head} (up to date)" in again.output

    after = runner.invoke(app, ["db", "current", "-c", config])
    assert f"revision {head} (up to date)" in after.output

    if password is not None:
        for result in (before, first, again, after):
            assert password not in result.output
            assert ":***@" in result.output
    engine = db.open_state(db_url, auto_upgrade=False)
    engine.dispose()


def test_unreachable_database_exits_1_with_a_masked_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "s3cr3t-pw-9876")
    config = write_config(tmp_path, "postgresql://syncd:${" + PASSWORD_ENV + "}@127.0.0.1:1/state")
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "db", "upgrade", "--config", config],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "s3cr3t-pw-9876" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "postgresql+psycopg://syncd:***@127.0.0.1:1/state" in done.stderr.replace("\n", "")


def test_missing_config_is_a_clear_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "db", "current", "--config", str(tmp_path / "no.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "configuration file not found" in done.stderr
