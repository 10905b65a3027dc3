"""The SCORM Cloud simulator's account as a ``sandbox:`` account file keeps it: a whole
round trip over real HTTP, refusals of bad data, and the write hook."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from syncd.sandbox.account_file import Keepable
from syncd.sandbox.running import start_sandbox
from syncd.sandbox.scormcloud import create_simulator
from tests.unit.sandbox.kit import FakeClock, ScormEnv, client_for


@pytest.fixture
def env() -> Iterator[ScormEnv]:
    simulator = create_simulator(page_size=2, clock=FakeClock())
    with start_sandbox(simulator) as running, client_for(running.base_url) as http:
        yield ScormEnv(running, http)


def filled(env: ScormEnv) -> None:
    env.seed_courses("C1", "C2")
    for n in range(3):
        assert env.create(f"R{n}", course="C1", learner=f"L{n}").status_code == 204
    env.activity("R1", action="complete", score=90.0)
    assert env.http.put("/learner/L0/tags", json={"tags": ["new"]}).status_code == 204
    invitation = {
        "courseId": "C2",
        "creatingUserEmail": "hr@corp.test",
        "invitationEmail": {"subject": "s", "body": "b", "addresses": ["a@corp.test"]},
    }
    assert env.http.post("/invitations/private", json=invitation).status_code == 200


def test_simulator_is_keepable():
    assert isinstance(create_simulator(), Keepable)


def test_round_trip_keeps_every_registration_invitation_and_the_paging_order(env):
    filled(env)
    simulator = env.running.simulator
    data = simulator.snapshot()
    listed, pages = env.list_all("/registrations", "registrations", orderBy="created_asc")
    simulator.reset()
    assert env.list_all("/registrations", "registrations")[0] == []
    simulator.restore(data)
    assert env.list_all("/registrations", "registrations", orderBy="created_asc") == (
        listed,
        pages,
    )
    assert simulator.snapshot() == data
    completed = env.http.get("/registrations/R1").json()
    assert completed["registrationCompletion"] == "COMPLETED"
    assert env.http.get("/learner/L0/tags").json() == {"tags": ["new"]}
    (invitation,) = env.http.get("/invitations/private").json()["invitations"]
    assert (
        env.http.get(f"/invitations/private/{invitation['id']}/jobStatus").json()["status"]
        == "COMPLETE"
    )
    assert env.create("R3", course="C1", learner="L3").status_code == 204


def test_snapshot_finishes_pending_background_work(env):
    filled(env)
    assert env.running.simulator.services.store.pending() == 1
    env.running.simulator.snapshot()
    assert env.running.simulator.services.store.pending() == 0


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda a: a.update(extra=1), "extra"),
        (lambda a: a["apps"]["SYNCDSANDBOX"]["registrations"][0].update(seq="x"), "seq"),
        (lambda a: a["apps"]["SYNCDSANDBOX"]["courses"].pop(0), "course 'C1'"),
        (lambda a: a["apps"].update(OTHER=a["apps"]["SYNCDSANDBOX"]), "'OTHER'"),
        (
            lambda a: a["apps"]["SYNCDSANDBOX"]["registrations"].append(
                a["apps"]["SYNCDSANDBOX"]["registrations"][0]
            ),
            "appears twice",
        ),
        (
            lambda a: a["apps"]["SYNCDSANDBOX"]["registrations"][0].update(
                created="2024-03-01T12:00:00"
            ),
            "no time zone",
        ),
    ],
    ids=["unknown-field", "bad-type", "dangling-course", "unknown-app", "twice", "naive-date"],
)
def test_bad_account_is_refused_and_the_account_stays(env, change, problem):
    filled(env)
    simulator = env.running.simulator
    account = json.loads(simulator.snapshot())
    change(account)
    before = simulator.snapshot()
    with pytest.raises(ValueError, match=problem):
        simulator.restore(json.dumps(account).encode())
    assert simulator.snapshot() == before


def test_on_write_runs_after_writes_only(env):
    env.seed_courses("C1")
    saved: list[int] = []
    simulator = env.running.simulator
    simulator.on_write = lambda: saved.append(len(json.loads(simulator.snapshot())["apps"]))
    assert env.create("R1").status_code == 204
    assert env.http.get("/registrations").status_code == 200
    assert env.http.head("/registrations/R1").status_code == 200
    assert env.http.delete("/registrations/R1").status_code == 204
    assert saved == [1, 1]
