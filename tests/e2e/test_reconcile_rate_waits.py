"""`syncd reconcile` against a Litmos sandbox that allows fewer requests than the connection's
configured ``rate`` (a contract that promised more, another process on the same API key).

Every run allows each op ONE attempt (``SYNCD_RETRY_MAX_ATTEMPTS=1``): before the fix, each
refused op was dead-lettered on the spot. Now refusals are waits: the run ends in sync, or,
when the waiting passes ``max_rate_wait_seconds``, with the ops waiting (exit 5), none dead,
and the summary counts the refusals and the time spent waiting.
"""

from __future__ import annotations

import json
import re

from tests.e2e.kit import assert_in_sync, company, result

ONE_TRY = {"SYNCD_RETRY_MAX_ATTEMPTS": "1"}


def refusals_shown(stdout: str) -> int:
    found = re.search(r"the vendor refused (\d+) request\(s\) as too fast", stdout)
    assert found, stdout
    return int(found.group(1))


def test_a_slower_vendor_is_waited_for_and_every_op_ends_done(world):
    rows = company(6)
    setup = world(rows)
    setup.sandbox.admin.set_rate(5, 1.0)
    proc = setup.reconcile(**ONE_TRY)
    assert proc.returncode == 0, result(proc)
    refused = setup.sandbox.admin.counters()["rate_limited"]
    assert refused >= 2, "the vendor refused more than once"
    assert refusals_shown(proc.stdout) == refused
    assert re.search(r"\d+ s spent waiting for its rate window", proc.stdout)
    listing = setup.syncd("queue", "list", "--format", "json")
    assert set(json.loads(listing.stdout)[0]["counts"]) == {"done"}, "nothing dead-lettered"
    assert_in_sync(setup, rows)


def test_waiting_past_max_rate_wait_seconds_stops_with_ops_waiting_none_dead(world):
    rows = company(6)
    setup = world(rows)
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(
        text.replace("timeout_seconds = 1\n", "timeout_seconds = 1\nmax_rate_wait_seconds = 2\n"),
        encoding="utf-8",
    )
    setup.sandbox.admin.set_rate(2, 120.0)
    proc = setup.reconcile(**ONE_TRY)
    assert proc.returncode == 5, result(proc)
    assert refusals_shown(proc.stdout) == setup.sandbox.admin.counters()["rate_limited"]
    assert "stopped at the connection's max_rate_wait_seconds" in proc.stdout
    listing = setup.syncd("queue", "list", "--format", "json")
    counts = json.loads(listing.stdout)[0]["counts"]
    assert "dead" not in counts and "blocked" not in counts, counts
    assert counts.get("done") == 2, "the vendor allowed two requests"
    setup.sandbox.admin.set_rate(60, 1.0)
    again = setup.reconcile(**ONE_TRY)
    assert again.returncode == 0, result(again)
    assert_in_sync(setup, rows)
