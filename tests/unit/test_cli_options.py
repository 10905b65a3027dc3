"""The options several commands share: `--today` as a user may write it."""

from __future__ import annotations

from datetime import date

import pytest

from syncd.cli.options import as_of
from syncd.errors import ConfigError


def test_today_is_the_date_given_or_today():
    assert as_of("2026-01-15") == date(2026, 1, 15)
    assert as_of(None) == date.today() == as_of("")


@pytest.mark.parametrize("written", ["nope", "2026-13-01", "15/01/2026", "2026-01-15T00:00", " "])
def test_a_today_that_is_not_a_date_is_one_plain_error(written):
    with pytest.raises(ConfigError) as caught:
        as_of(written)
    assert str(caught.value) == f"--today {written!r} is not a date (YYYY-MM-DD)"


def test_results_export_options_written_wrongly_are_one_plain_error(tmp_path):
    from typer.testing import CliRunner

    from syncd.cli import app

    config = tmp_path / "syncd.toml"
    database = tmp_path / "s.db"
    config.write_text(
        f'[state]\nurl = "sqlite:///{database}"\n[sources.hris]\npath = "x.csv"\n'
        'columns = { employee_id = "E", first_name = "F", last_name = "L", email = "M" }\n',
        encoding="utf-8",
    )
    for args, expected in (
        (["--since", "yesterday"], "--since 'yesterday' is not a date (YYYY-MM-DD)"),
        (["--format", "pdf"], "--format 'pdf': choose csv, xlsx or json"),
    ):
        outcome = CliRunner().invoke(app, ["results", "export", "--config", str(config), *args])
        assert outcome.exit_code != 0
        assert str(outcome.exception) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["undo", "99999999999999999999999"],
        ["undo", "0"],
        ["held", "approve", "99999999999"],
        ["held", "reject", "-5"],
    ],
)
def test_a_row_id_no_database_row_can_have_is_refused_before_any_query(tmp_path, args):
    from typer.testing import CliRunner

    from syncd.cli import app

    outcome = CliRunner().invoke(app, [*args, "--config", str(tmp_path / "none.toml")])
    assert outcome.exit_code == 2, outcome.output
    assert "Invalid value" in outcome.output or "No such option" in outcome.output
    assert not (tmp_path / "none.toml").exists()


def test_queue_ids_past_the_database_integer_are_one_plain_error():
    from syncd.cli.queue import _items

    with pytest.raises(ConfigError) as caught:
        _items(["99999999999999999999"])
    assert str(caught.value) == "no op has an id over 2147483647"
    assert _items(["12", "create_user:E1"]) == ([12], ["create_user:E1"])
