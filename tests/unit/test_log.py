"""Log lines: secrets never reach one, whichever way they are passed to the logger, and
each is written whole (one write per line), whichever thread writes it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from syncd import config, log

SECRET = "s3cr3t-API-key-0042"


@pytest.fixture
def captured():
    stream = io.StringIO()
    log.configure(level="debug", fmt="json", stream=stream)
    yield stream
    log.configure(level="info", fmt="json")


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_when_not_a_terminal(captured):
    log.get_logger("t").info("hello", n=1)
    (event,) = lines(captured)
    assert event["event"] == "hello" and event["n"] == 1 and event["level"] == "info"


@pytest.mark.parametrize(
    "fields",
    [
        {"api_key": SECRET},
        {"headers": {"apikey": SECRET, "Accept": "application/json"}},
        {"url": f"https://api.litmos.com/v1.svc/users?apikey={SECRET}&source=syncd"},
        {"login": f"https://acme.litmos.com//login.aspx?loginkey={SECRET}"},
        {"LoginKey": f"https://acme.litmos.com//login.aspx?loginkey={SECRET}"},
        {"auth": f"Bearer {SECRET}"},
        {"dsn": f"postgresql://syncd:{SECRET}@db/syncd"},
        {"body": {"Password": SECRET}},
        {"items": [{"token": SECRET}]},
        {"error": ValueError(f"failed with apikey={SECRET}")},
    ],
)
def test_secret_is_masked(captured, fields):
    log.get_logger("t").warning("call", **fields)
    out = captured.getvalue()
    assert SECRET not in out
    assert log.MASK in out


def test_configured_secret_is_masked_anywhere_in_free_text(tmp_path, monkeypatch, captured):
    monkeypatch.setenv("SYNCD_TEST_KEY", "cfg-secret-value-77")
    path = tmp_path / "c.toml"
    path.write_text(
        '[sources.hris]\npath = "x.csv"\ncolumns = { employee_id = "ID" }\n'
        '[connections.l]\nvendor = "litmos"\nbase_url = "https://h"\n'
        'credentials = { api_key = "${SYNCD_TEST_KEY}" }\n'
    )
    config.load(path)
    log.get_logger("t").info("odd message mentioning cfg-secret-value-77 in passing")
    logging.getLogger("third.party").warning("lib says cfg-secret-value-77")
    out = captured.getvalue()
    assert "cfg-secret-value-77" not in out
    assert out.count(log.MASK) == 2


def test_redact_for_text_outside_the_logger():
    assert SECRET not in log.redact(f"GET /users?apikey={SECRET}")
    assert log.redact("nothing secret here") == "nothing secret here"


class Writes(io.StringIO):
    """A stream that remembers each write() call: what a line may be torn between."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str, /) -> int:
        self.calls.append(text)
        return super().write(text)

    def isatty(self) -> bool:
        return False


def test_every_line_is_one_write_so_threads_never_glue_two_together():
    import threading

    stream = Writes()
    try:
        log.configure(level="info", fmt="json", stream=stream)
        ours, theirs = log.get_logger("syncd.test"), logging.getLogger("apscheduler.test")

        def chatter(n: int) -> None:
            for i in range(200):
                ours.info("ours", n=n, i=i)
                theirs.info("theirs %s %s", n, i)

        threads = [threading.Thread(target=chatter, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        log.configure(level="info", fmt="json")
    assert all(call.endswith("\n") and call.count("\n") == 1 for call in stream.calls if call)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 * 200 * 2
    assert all(isinstance(json.loads(line), dict) for line in lines)
