"""The Enabley simulator's account as JSON: a round trip keeps everything, bad files are refused,
and every write request reaches the ``on_write`` hook before its answer."""

from __future__ import annotations

import json

import httpx
import pytest

from syncd.sandbox.enabley.simulator import EnableySimulator

SEED = {
    "subAccounts": ["sandbox", "east"],
    "users": [
        {"identifier": "u1", "username": "a@corp.test", "firstName": "A", "password": "pw"},
        {"identifier": "u2", "username": "b@corp.test", "customAttributes": {"Site": "X"}},
    ],
    "groups": [
        {"identifier": "g1", "name": "Top", "type": "COMPANY", "members": ["u1"]},
        {"identifier": "g2", "name": "Sub", "type": "DIVISION", "parentIdentifier": "g1"},
    ],
    "channels": [
        {
            "identifier": "c1",
            "name": "Course",
            "type": "COURSE",
            "learners": ["u1"],
            "groups": [{"identifier": "g1", "recursive": True}],
        }
    ],
    "activity": [{"user": "u1", "channel": "c1", "action": "complete"}],
}


def seeded() -> EnableySimulator:
    simulator = EnableySimulator()
    simulator.seed(SEED)
    return simulator


def test_round_trip_keeps_the_whole_account():
    original = seeded()
    data = original.snapshot()
    copy = EnableySimulator()
    copy.restore(data)
    assert copy.snapshot() == data
    account = copy.account
    assert account.username_owner("A@CORP.TEST") == "u1"
    assert account.groups["g2"].parent == "g1" and account.groups["g1"].members == {"u1"}
    assert account.channels["c1"].groups == {"g1": True}
    assert account.activity[("u1", "c1")].progress == 100
    assert account.users["u1"].has_password and "pw" not in data.decode()


def broken(change) -> bytes:
    document = json.loads(seeded().snapshot())
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda d: d["users"].append(dict(d["users"][0])), "users: 'u1' appears twice"),
        (lambda d: d["users"][1].update(username="A@corp.test"), "appears twice"),
        (lambda d: d["groups"][1].update(parent="nope"), "parent 'nope' is not in groups"),
        (lambda d: d["groups"][0].update(members=["ghost"]), "member 'ghost' is not in users"),
        (lambda d: d["groups"][0].update(type="PLANET"), "not a level of the hierarchy"),
        (lambda d: d["channels"][0]["users"].update(ghost=[]), "user 'ghost' is not in users"),
        (lambda d: d["activity"][0].update(channel="c9"), "channel 'c9' is not in channels"),
        (lambda d: d["users"][0].update(is_active="maybe"), "users.0.is_active"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.update(clients={}), "at least one client"),
    ],
)
def test_bad_accounts_are_refused_and_leave_the_account_as_it_was(change, problem):
    simulator = seeded()
    before = simulator.snapshot()
    with pytest.raises(ValueError, match=problem):
        simulator.restore(broken(change))
    assert simulator.snapshot() == before


def test_every_write_calls_on_write_before_answering_and_reads_do_not(sandbox):
    simulator = seeded()
    saved: list[bytes] = []
    simulator.on_write = lambda: saved.append(simulator.snapshot())
    running = sandbox(simulator)
    with httpx.Client(base_url=running.base_url, timeout=5) as http:
        token = http.post(
            "/api/v1/token", params={"clientKey": "sandbox-client", "secret": "sandbox-secret"}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert saved == []  # the token call writes nothing
        http.get("/api/v3/users", headers=auth)
        assert saved == []
        answer = http.put(
            "/api/v2/users", json={"identifier": "u3", "username": "c@x.y"}, headers=auth
        )
        assert answer.status_code == 201 and len(saved) == 1
        assert json.loads(saved[0])["users"][-1]["identifier"] == "u3"
        refused = http.put("/api/v2/users", json={"identifier": "u4"}, headers=auth)
        assert refused.status_code == 400 and len(saved) == 2
        http.post("/_sandbox/clock", json={"advance_seconds": 5})
        assert len(saved) == 3 and json.loads(saved[2])["clock_offset"] == 5.0
