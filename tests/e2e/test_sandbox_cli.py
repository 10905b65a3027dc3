"""`syncd sandbox` as a user runs it: a real process, real port, SIGTERM to stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from syncd.cli import app
from syncd.errors import ConfigError

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "NO_COLOR": "1"}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )


def test_runs_seeded_litmos_prints_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "litmos": {
                    "courses": [{"code": "C1", "name": "One"}],
                    "users": [
                        {
                            "username": "ann@example.com",
                            "first_name": "Ann",
                            "last_name": "Lee",
                            "courses": ["C1"],
                        }
                    ],
                }
            }
        )
    )
    process = _start("--vendor", "litmos", "--port", "0", "--seed", str(seed))
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        output = "".join(lines)
        url = re.search(r"litmos (http://127\.0\.0\.1:\d+/v1\.svc)", output)
        key = re.search(r"apikey: (\S+)", output)
        source = re.search(r"source: (\S+)", output)
        assert url and key and source, output
        users = httpx.get(
            f"{url.group(1)}/users",
            params={"source": source.group(1), "format": "json"},
            headers={"apikey": key.group(1)},
        )
        assert [u["UserName"] for u in users.json()] == ["ann@example.com"]
        admin_url = url.group(1).replace("/v1.svc", "/_sandbox/counters")
        assert httpx.get(admin_url).status_code == 404, "admin API is off unless --admin"
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "sandbox stopped" in rest


def _refusal(*args: str) -> str:
    """Run the command in-process; it must refuse with a ConfigError before serving."""
    result = CliRunner().invoke(app, ["sandbox", *args])
    assert isinstance(result.exception, ConfigError), result.output
    return str(result.exception)


def test_a_bad_seed_file_names_the_file_and_entry(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"litmos": {"users": [{"username": "x@example.com"}]}}))
    message = _refusal("--vendor", "litmos", "--seed", str(seed))
    assert message == f"{seed}: litmos.users[0]: 'first_name' must be a non-empty string"
    broken = tmp_path / "broken.json"
    broken.write_text('{"litmos": ')
    assert _refusal("--seed", str(broken)) == f"{broken}: line 1, column 12: Expecting value"
    assert _refusal("--seed", str(tmp_path / "missing.json")).endswith(
        "cannot read seed file (No such file or directory)"
    )
    other = tmp_path / "other.toml"
    other.write_text("[moodle]\nusers = []\n")
    assert _refusal("--seed", str(other)) == f"{other}: unknown vendor section(s) moodle"
