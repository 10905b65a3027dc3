"""Configuration loading: env references, strictness, every error named with key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import config
from syncd.errors import ConfigError

BASE = """
[sources.hris]
path = "exports/roster-*.csv"
columns = { employee_id = "Employee ID", email = "E-mail", department = "Dept" }
groups = [{ name = "dept", columns = ["department"] }]

[connections.litmos]
vendor = "litmos"
base_url = "https://api.litmos.com/v1.svc"
credentials = { api_key = "${SYNCD_TEST_LITMOS_KEY}" }
groups = ["dept"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_reference_resolves_to_a_masked_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k-1234567890")
    cfg = config.load(write(tmp_path, BASE))
    conn = cfg.connections["litmos"]
    assert conn.secret("api_key") == "k-1234567890"
    assert "k-1234567890" not in repr(cfg)
    assert "k-1234567890" not in cfg.model_dump_json()


def test_defaults_protect_a_user_who_configured_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k")
    cfg = config.load(write(tmp_path, BASE))
    assert cfg.state.url == "sqlite:///syncd.db"
    guard = cfg.connections["litmos"].safeguards
    assert guard.max_deactivations > 0 and not guard.allow_mass_change
    assert cfg.connections["litmos"].deprovision.on_termination == "deactivate"


def test_source_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k")
    cfg = config.load(write(tmp_path, BASE))
    assert cfg.source_path("hris") == str(tmp_path / "exports/roster-*.csv")


def test_missing_variable_names_the_key_and_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNCD_TEST_LITMOS_KEY", raising=False)
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    text = str(err.value)
    assert str(path) in text
    assert "connections.litmos.credentials.api_key" in text
    assert "SYNCD_TEST_LITMOS_KEY is not set" in text


def test_every_unknown_key_is_reported_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k")
    text = BASE + "\n[connections.litmos.rate]\nrequests = 100\nper_secnds = 60\n"
    text = text.replace('vendor = "litmos"', 'vendor = "litmos"\nbase_ulr = "x"')
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, text))
    message = str(err.value)
    assert "connections.litmos.base_ulr: unknown key" in message
    assert "connections.litmos.rate.per_secnds: unknown key" in message
    assert "connections.litmos.rate.per_seconds: required key is missing" in message


def test_cross_references_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k")
    text = BASE.replace('groups = ["dept"]', 'groups = ["location"]')
    with pytest.raises(ConfigError, match="has no grouping `location`"):
        config.load(write(tmp_path, text))


@pytest.mark.parametrize(
    "condition, message",
    [
        ('{ field = "department" }', "give exactly one of"),
        ('{ equals = "Sales" }', "`field` is required"),
        ('{ field = "title", regex = "([" }', "invalid regex"),
        ('{ field = "d", equals = "a", in = ["b"] }', "give exactly one of"),
    ],
)
def test_rule_conditions_are_validated(tmp_path, monkeypatch, condition, message):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k")
    text = BASE + (
        f'\n[[connections.litmos.rules]]\nname = "r"\nwhen = [{condition}]\n'
        'assign = { courses = ["C1"] }\n'
    )
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, text))


def test_not_toml_and_missing_file_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[sources\n"))


def test_schedule_accepts_cron_or_interval(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCD_TEST_LITMOS_KEY", "k")
    good = BASE + '\n[connections.litmos.schedule]\nroster = "*/15 * * * *"\nresults = "1h"\n'
    assert config.load(write(tmp_path, good)).connections["litmos"].schedule.results == "1h"
    bad = BASE + '\n[connections.litmos.schedule]\nroster = "every so often"\n'
    with pytest.raises(ConfigError, match="cron expression or an interval"):
        config.load(write(tmp_path, bad))
    assert config.parse_interval("15m").total_seconds() == 900


def test_commands_that_call_no_lms_may_load_without_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNCD_TEST_LITMOS_KEY", raising=False)
    path = write(tmp_path, BASE)
    cfg = config.load(path, require_credentials=False)
    assert cfg.connections["litmos"].credentials["api_key"].get_secret_value() == ""
    elsewhere = BASE.replace('vendor = "litmos"', 'vendor = "litmos"\nsource = "${SYNCD_NO_SUCH}"')
    with pytest.raises(ConfigError, match="SYNCD_NO_SUCH"):
        config.load(write(tmp_path, elsewhere), require_credentials=False)
