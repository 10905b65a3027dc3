"""The official SCORM Cloud client (``rustici-software-cloud-v2``, Rustici's own, written
against the real service) on the endpoints issue 13.7 added to the simulator and on the
refusals a sync meets: every call below is the client's unchanged method, decoding the
simulator's answers into its own models. test_scormcloud_client.py covers the rest of
what a sync calls (registrations create/exists/get/list with ``more``/delete, learner
updateInfo, invitations with jobStatus); this module adds what it does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

sc = pytest.importorskip("rustici_software_cloud_v2")
from rustici_software_cloud_v2.rest import ApiException  # noqa: E402

from syncd.sandbox.running import RunningSandbox, start_sandbox  # noqa: E402
from syncd.sandbox.scormcloud import create_simulator  # noqa: E402
from tests.unit.sandbox.kit import FakeClock, official_client  # noqa: E402

_CLOCK = FakeClock()
_START = _CLOCK.now


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator(page_size=2, async_delay=5, clock=_CLOCK)) as running:
        yield running


@pytest.fixture
def running(server: RunningSandbox) -> RunningSandbox:
    assert server.admin is not None
    server.admin.reset()
    _CLOCK.now = _START
    server.admin.seed({"courses": [{"id": "C1", "title": "Safety"}]})
    return server


@pytest.fixture
def client(running: RunningSandbox) -> Iterator[sc.ApiClient]:
    api_client = official_client(running.base_url)
    yield api_client
    api_client.rest_client.pool_manager.clear()


def _register(client: sc.ApiClient, reg_id: str, learner: str = "L1") -> None:
    sc.RegistrationApi(client).create_registration(
        sc.CreateRegistrationSchema(
            course_id="C1",
            registration_id=reg_id,
            learner=sc.LearnerSchema(
                id=learner, email=f"{learner}@example.com", first_name="Ada", last_name="Byron"
            ),
        )
    )


def _activity(running: RunningSandbox, reg_id: str, **body: object) -> None:
    assert running.admin is not None
    running.admin.post(f"/registrations/{reg_id}/activity", body)


def test_instances_through_the_client(running: RunningSandbox, client: sc.ApiClient) -> None:
    api = sc.RegistrationApi(client)
    _register(client, "R1")
    _activity(running, "R1", action="complete", score=90, success="PASSED")
    for _ in range(2):
        _CLOCK.advance(60)
        api.create_new_registration_instance("R1")
    page = api.get_registration_instances("R1", include_child_results=True)
    seen = list(page.registrations)
    while page.more:
        page = api.get_registration_instances("R1", more=page.more)
        seen += page.registrations
    assert [r.instance for r in seen] == [0, 1, 2]
    assert seen[0].registration_completion == "COMPLETED" and seen[0].score.scaled == 90
    assert seen[0].activity_details.activity_completion == "COMPLETED"
    window = api.get_registration_instances("R1", since=datetime(2024, 3, 1, 12, 1, 30))
    assert [r.instance for r in window.registrations] == [2]


def test_launch_history_and_statements(running: RunningSandbox, client: sc.ApiClient) -> None:
    api = sc.RegistrationApi(client)
    _register(client, "R1")
    _activity(running, "R1", action="start")
    _CLOCK.advance(120)
    _activity(running, "R1", action="complete", seconds=120, success="PASSED", score=75)
    history = api.get_registration_launch_history("R1", include_history_log=True)
    [launch] = history.launch_history
    assert launch.completion_status == "COMPLETED" and launch.success_status == "PASSED"
    assert launch.total_seconds_tracked == 120 and launch.score.scaled == 75
    assert launch.launch_time < datetime(2024, 3, 1, 12, 1, tzinfo=UTC) < launch.exit_time
    assert launch.history_log

    result = api.get_registration_statements("R1")
    statements = list(result.statements)
    while result.more:
        result = api.get_registration_statements("R1", more=result.more)
        statements += result.statements
    assert [s.verb.display["en-US"] for s in statements] == ["initialized", "completed", "passed"]
    passed = statements[-1]
    assert passed.actor.account.name == "L1" and passed.actor.name == "Ada Byron"
    assert passed.object_activity.id == "urn:scormcloud:C1"
    assert passed.result.success is True and passed.result.score.scaled == 0.75
    assert passed.stored >= datetime(2024, 3, 1, 12, 2, tzinfo=UTC)
    since = api.get_registration_statements("R1", since=datetime(2024, 3, 1, 12, 1, tzinfo=UTC))
    assert len(since.statements) == 2


def test_registration_configuration(client: sc.ApiClient) -> None:
    api = sc.RegistrationApi(client)
    _register(client, "R1")
    api.set_registration_configuration(
        "R1",
        sc.SettingsPostSchema(
            settings=[
                sc.SettingsIndividualSchema(
                    setting_id="ApiRollupRegistrationPostBackUrl",
                    value="https://hr.example/postback",
                    explicit=True,
                )
            ]
        ),
    )
    items = {i.id: i for i in api.get_registration_configuration("R1").setting_items}
    posted = items["ApiRollupRegistrationPostBackUrl"]
    assert posted.effective_value == posted.explicit_value == "https://hr.example/postback"
    with_metadata = api.get_registration_configuration("R1", include_metadata=True)
    assert all(i.metadata is not None for i in with_metadata.setting_items)
    api.delete_registration_configuration_setting("R1", "ApiRollupRegistrationPostBackUrl")
    items = {i.id: i for i in api.get_registration_configuration("R1").setting_items}
    assert items["ApiRollupRegistrationPostBackUrl"].explicit_value is None


def test_learner_pii_erase(client: sc.ApiClient) -> None:
    _register(client, "R1", learner="L1")
    learners = sc.LearnerApi(client)
    learners.delete_all_learner_data("L1", "admin@example.com")
    api = sc.RegistrationApi(client)
    assert api.get_registration_progress("R1").learner.email == "L1@example.com"
    _CLOCK.advance(5)
    learner = api.get_registration_progress("R1").learner
    assert (learner.id, learner.email, learner.first_name, learner.last_name) == (
        "L1",
        None,
        None,
        None,
    )
    with pytest.raises(ApiException) as unknown:
        learners.delete_all_learner_data("NOBODY", "admin@example.com")
    assert unknown.value.status == 404


def test_refusals_reach_the_client_as_message_schema(client: sc.ApiClient) -> None:
    """What the client hands its caller on a refusal: the status and a JSON body."""
    api = sc.RegistrationApi(client)
    for call in (
        lambda: api.get_registration_progress("NOPE"),
        lambda: api.get_registration_instances("NOPE"),
        lambda: api.get_registration_launch_history("NOPE"),
        lambda: api.get_registration_statements("NOPE"),
        lambda: api.get_registration_configuration("NOPE"),
        lambda: sc.LearnerApi(client).update_learner_info("NOPE", sc.LearnerSchema(id="NOPE")),
    ):
        with pytest.raises(ApiException) as refused:
            call()
        assert refused.value.status == 404
        assert refused.value.headers["Content-Type"] == "application/json"
        assert set(json.loads(refused.value.body)) == {"message"}
    with pytest.raises(ApiException) as unknown_path:
        client.call_api("/noSuchEndpoint", "GET", auth_settings=["APP_NORMAL"])
    assert unknown_path.value.status == 404
    assert "noSuchEndpoint" in json.loads(unknown_path.value.body)["message"]
