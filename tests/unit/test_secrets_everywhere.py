"""Every secret is masked everywhere (issue 11, item 12).

A value the configuration takes from ``${ENV}`` is a secret wherever it sits (the
password in a `base_url`'s userinfo, an option, the state URL, part of a longer string),
and so is the password of a URL written literally. The redactor learns all of them when
the configuration loads, and every way out goes through it: `syncd config check`, log
lines, error messages and what commands print.
"""

from __future__ import annotations

import io
import json
import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syncd import config, log
from syncd.cli import app, main
from syncd.errors import Retryable
from syncd.http import HttpClient

KEY = "k3y-from-env-5e1f0a"
SOURCE = "src-from-env-7c2d91"
PG_PASSWORD = "pg-pw-from-env-a81b"
FOLDER = "exports-from-env-33d0"
LITERAL = "literal-url-pw-6f4e2b"
SECRETS = (KEY, SOURCE, PG_PASSWORD, FOLDER, LITERAL)

CONFIG = """
[state]
url = "postgresql://syncd:${SYNCD_T_PG}@db.internal/syncd"

[sources.hris]
path = "/srv/${SYNCD_T_FOLDER}/roster.csv"
columns = { employee_id = "ID" }

[connections.lms]
vendor = "litmos"
base_url = "https://svc:${SYNCD_T_KEY}@api.litmos.com/v1.svc"
credentials = { api_key = "${SYNCD_T_KEY}" }
options = { source = "${SYNCD_T_SOURCE}" }

[connections.mirror]
vendor = "litmos"
base_url = "https://svc:literal-url-pw-6f4e2b@eu.litmos.com/v1.svc"
credentials = { api_key = "${SYNCD_T_KEY}" }
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNCD_T_KEY", KEY)
    monkeypatch.setenv("SYNCD_T_SOURCE", SOURCE)
    monkeypatch.setenv("SYNCD_T_PG", PG_PASSWORD)
    monkeypatch.setenv("SYNCD_T_FOLDER", FOLDER)
    path = tmp_path / "syncd.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def captured_log():
    stream = io.StringIO()
    log.configure(level="debug", fmt="json", stream=stream)
    yield stream
    log.configure(level="info", fmt="json")


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("fmt", ["pretty", "json"])
def test_config_check_masks_every_value_from_env_and_every_url_password(config_file, fmt):
    result = CliRunner().invoke(app, ["config", "check", str(config_file), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert leaked(result.output) == []
    assert "https://svc:***@api.litmos.com/v1.svc" in result.output
    assert "https://svc:***@eu.litmos.com/v1.svc" in result.output
    if fmt == "json":
        data = json.loads(result.output)
        assert data["connections"]["lms"]["credentials"] == {"api_key": "***"}


def test_a_log_line_never_carries_a_value_from_the_configuration(config_file, captured_log):
    cfg = config.load(config_file)
    conn = cfg.connections["lms"]
    log.get_logger("t").info(
        "calling",
        where=conn.base_url,
        options=dict(conn.options),
        state=cfg.state.url,
        export=cfg.sources["hris"].path,
        other=cfg.connections["mirror"].base_url,
    )
    out = captured_log.getvalue()
    assert leaked(out) == []
    assert out.count(log.MASK) >= 5


def test_a_connection_failure_to_such_a_url_does_not_show_it(config_file, captured_log):
    config.load(config_file)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(
        vendor="litmos", base_url=f"http://svc:{KEY}@127.0.0.1:{port}/v1.svc", timeout=2
    )
    try:
        with pytest.raises(Retryable) as err:
            client.request("GET", "/users")
    finally:
        client.close()
    assert leaked(str(err.value) + captured_log.getvalue()) == []


def test_an_error_message_of_a_command_is_masked(config_file, monkeypatch, capsys):
    """The export path holds a value from ${ENV}: the "not found" error shows it masked."""
    monkeypatch.setattr(sys, "argv", ["syncd", "validate", "--config", str(config_file)])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code != 0
    printed = capsys.readouterr()
    assert "error:" in printed.err
    assert "/srv/***/roster.csv" in printed.err
    assert leaked(printed.out + printed.err) == []


def test_the_redactor_masks_a_url_password_but_not_a_key_named_in_a_sentence():
    line = "connections.lms.credentials.api_key: environment variable X is not set"
    assert log.redact_output(line) == line
    assert log.redact_output("GET /users?apikey=abc123&x=1") == "GET /users?apikey=***&x=1"
    assert log.redact_output("https://u:pw123@h/x") == "https://u:***@h/x"
