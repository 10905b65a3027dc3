"""Compatibility: the official SCORM Cloud Python client (``rustici-software-cloud-v2``,
written by Rustici against the real service) drives the simulator unchanged; only its host
differs. Its default host ends in ``/``, which it keeps here, so it calls ``/api/v2//...``
exactly as it does against cloud.scorm.com.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

sc = pytest.importorskip("rustici_software_cloud_v2")
from rustici_software_cloud_v2.rest import ApiException  # noqa: E402

from syncd.sandbox.running import RunningSandbox, start_sandbox  # noqa: E402
from syncd.sandbox.scormcloud import DEMO_APP_ID, DEMO_SECRET_KEY, create_simulator  # noqa: E402
from tests.unit.sandbox.kit import FakeClock  # noqa: E402

_CLOCK = FakeClock()
_START = _CLOCK.now


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator(page_size=3, async_delay=5, clock=_CLOCK)) as running:
        yield running


@pytest.fixture
def running(server: RunningSandbox) -> RunningSandbox:
    assert server.admin is not None
    server.admin.reset()
    _CLOCK.now = _START
    server.admin.seed({"courses": [{"id": "C1", "title": "Safety"}, {"id": "C2"}]})
    return server


def _client(running: RunningSandbox, password: str = DEMO_SECRET_KEY) -> sc.ApiClient:
    config = sc.Configuration()
    config.host = f"{running.base_url}/api/v2/"
    config.username = DEMO_APP_ID
    config.password = password
    return sc.ApiClient(config)


@pytest.fixture
def client(running: RunningSandbox) -> Iterator[sc.ApiClient]:
    api_client = _client(running)
    yield api_client
    api_client.rest_client.pool_manager.clear()


def _registration(
    reg_id: str, course: str = "C1", learner: str = "L1"
) -> sc.CreateRegistrationSchema:
    return sc.CreateRegistrationSchema(
        course_id=course,
        registration_id=reg_id,
        learner=sc.LearnerSchema(id=learner, first_name="Ada", last_name="Lovelace"),
    )


def test_ping_and_wrong_secret(running: RunningSandbox, client: sc.ApiClient) -> None:
    assert sc.PingApi(client).ping_app_id().api_message == "pong"
    wrong = _client(running, password="wrong")
    try:
        with pytest.raises(ApiException) as caught:
            sc.PingApi(wrong).ping_app_id()
    finally:
        wrong.rest_client.pool_manager.clear()
    assert caught.value.status == 401
    assert "Authorization Required." in caught.value.body


def test_courses(client: sc.ApiClient) -> None:
    courses = sc.CourseApi(client).get_courses()
    assert sorted(c.id for c in courses.courses) == ["C1", "C2"]
    course = sc.CourseApi(client).get_course("C1", include_registration_count=True)
    assert course.title == "Safety" and course.registration_count == 0
    assert isinstance(course.created, datetime)


def test_registration_lifecycle(running: RunningSandbox, client: sc.ApiClient) -> None:
    api = sc.RegistrationApi(client)
    api.create_registration(_registration("R1"))
    with pytest.raises(ApiException) as duplicate:
        api.create_registration(_registration("R1"))
    assert duplicate.value.status == 400
    assert "Registration with id [R1] already exists" in duplicate.value.body
    with pytest.raises(ApiException) as unknown_course:
        api.create_registration(_registration("R2", course="NOPE"))
    assert unknown_course.value.status == 404

    assert api.get_registration("R1") is None  # HEAD: 200, no body
    with pytest.raises(ApiException) as missing:
        api.get_registration("R2")
    assert missing.value.status == 404

    assert running.admin is not None
    _CLOCK.advance(60)
    running.admin.post(
        "/registrations/R1/activity",
        {"action": "complete", "score": 92.5, "success": "PASSED", "seconds": 120},
    )
    progress = api.get_registration_progress("R1", include_child_results=True)
    assert progress.registration_completion == "COMPLETED"
    assert progress.registration_success == "PASSED"
    assert progress.score.scaled == 92.5
    assert progress.total_seconds_tracked == 120
    assert progress.course.title == "Safety" and progress.learner.id == "L1"
    assert progress.completed_date == datetime(2024, 3, 1, 12, 1, tzinfo=UTC)
    assert progress.activity_details.activity_completion == "COMPLETED"

    sc.RegistrationApi(client).put_registration_tags_batch(
        sc.BatchTagsSchema(ids=["R1"], tags=["hr"])
    )
    assert api.get_registration_tags("R1").tags == ["hr"]
    api.delete_registration("R1")
    with pytest.raises(ApiException):
        api.get_registration("R1")


def test_list_with_more_and_date_filters(client: sc.ApiClient) -> None:
    api = sc.RegistrationApi(client)
    for index in range(7):
        _CLOCK.advance(60)
        api.create_registration(_registration(f"R{index}", learner=f"L{index % 2}"))

    # the README's paging loop: send only `more` until it is absent
    response = api.get_registrations(order_by="created_asc")
    seen = [r.id for r in response.registrations]
    pages = 1
    while response.more:
        response = api.get_registrations(more=response.more)
        seen += [r.id for r in response.registrations]
        pages += 1
    assert seen == [f"R{i}" for i in range(7)] and pages == 3

    # created 12:01..12:07; datetime objects go out as isoformat(), naive = UTC
    window = api.get_registrations(
        since=datetime(2024, 3, 1, 12, 2), until=datetime(2024, 3, 1, 12, 3, tzinfo=UTC)
    )
    assert sorted(r.id for r in window.registrations) == ["R1", "R2"]
    by_learner = api.get_registrations(learner_id="L1", course_id="C1")
    assert sorted(r.id for r in by_learner.registrations) == ["R1", "R3", "R5"]
    _, status, headers = api.get_registrations_with_http_info(include_total_count=True)
    assert status == 200 and headers["X-Total-Count"] == "7"


def test_learner_info_update(running: RunningSandbox, client: sc.ApiClient) -> None:
    api = sc.RegistrationApi(client)
    api.create_registration(_registration("R1", learner="L1"))
    api.create_registration(_registration("R2", course="C2", learner="L1"))
    sc.LearnerApi(client).update_learner_info(
        "L1", sc.LearnerSchema(id="L1", email="ada@example.com")
    )
    assert api.get_registration_progress("R1").learner.email is None  # not yet: async
    _CLOCK.advance(5)
    assert {api.get_registration_progress(r).learner.email for r in ("R1", "R2")} == {
        "ada@example.com"
    }
    learners = sc.LearnerApi(client)
    learners.put_learner_tags("L1", sc.TagListSchema(tags=["north"]))
    assert learners.get_learner_tags("L1").tags == ["north"]


def test_invitations(running: RunningSandbox, client: sc.ApiClient) -> None:
    api = sc.InvitationsApi(client)
    private = api.create_private_invitation(
        sc.CreatePrivateInvitationSchema(
            course_id="C1",
            creating_user_email="admin@example.com",
            invitation_email=sc.InvitationEmailSchema(
                subject="Hi", body="Go", addresses=["a@example.com", "b@example.com"]
            ),
            duplicate_registration_option="FAIL",
            tags=["wave1"],
        )
    )
    assert private.is_public is False
    job = api.get_private_invitation_job_status(private.id)
    assert job.status == "STARTED" and job.total == 2
    _CLOCK.advance(5)
    job = api.get_private_invitation_job_status(private.id)
    assert job.status == "COMPLETE" and job.processed == 2
    users = api.get_private_user_invitations(private.id, include_registration_report=True)
    assert sorted(u.email for u in users.user_invitations) == ["a@example.com", "b@example.com"]
    assert users.user_invitations[0].registration_report.complete == "UNKNOWN"
    detail = api.get_private_invitation(private.id, include_registration_count=True)
    assert detail.registration_count == 2 and detail.invitation_email.subject == "Hi"
    updated = api.update_private_invitation(
        private.id,
        sc.PrivateInvitationUpdateSchema(
            allow_launch=False, invitation_email=sc.InvitationEmailUpdateSchema(subject="Hello")
        ),
    )
    assert updated.allow_launch is False and updated.invitation_email.subject == "Hello"

    public = api.create_public_invitation(
        sc.CreatePublicInvitationSchema(
            course_id="C2", creating_user_email="admin@example.com", registration_cap=5
        )
    )
    assert public.registration_cap == 5 and public.url
    assert running.admin is not None
    running.admin.post(f"/invitations/public/{public.id}/visit", {"email": "p@example.com"})
    public_users = api.get_public_user_invitations(public.id)
    assert [u.email for u in public_users.user_invitations] == ["p@example.com"]
    changed = api.update_public_invitation(
        public.id, sc.PublicInvitationUpdateSchema(allow_new_registrations=False)
    )
    assert changed.allow_new_registrations is False

    api.put_invitation_tags_batch(sc.BatchTagsSchema(ids=[private.id, public.id], tags=["q3"]))
    api.put_invitation_tags(public.id, sc.TagListSchema(tags=["open"]))
    api.delete_invitation_tags(public.id, sc.TagListSchema(tags=["q3"]))
    assert api.get_invitation_tags(public.id).tags == ["open"]
    assert [i.id for i in api.get_all_invitations(tags=["q3"]).invitations] == [private.id]
    assert [i.id for i in api.get_public_invitations(course_id="C2").invitations] == [public.id]
    assert [i.id for i in api.get_private_invitations().invitations] == [private.id]
    with pytest.raises(ApiException) as missing:
        api.get_public_invitation(private.id)
    assert missing.value.status == 404


def test_oauth_bearer_token(running: RunningSandbox, client: sc.ApiClient) -> None:
    token = sc.AuthenticationApi(client).get_app_token("read:registration", expiration=60)
    assert token.expires_in == 60
    bearer = _client(running, password="")
    bearer.configuration.username = ""
    bearer.configuration.access_token = token.access_token
    try:
        assert sc.RegistrationApi(bearer).get_registrations().registrations == []
        with pytest.raises(ApiException) as denied:
            sc.CourseApi(bearer).get_courses()
        assert denied.value.status == 403
    finally:
        bearer.rest_client.pool_manager.clear()
