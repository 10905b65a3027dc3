"""Litmos specifics beyond the shared contract: wire order, XML answers, query flags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from syncd.errors import CredentialRefused
from syncd.http import build_client
from syncd.limiter import forget_limiters
from syncd.plan import ops
from syncd.plan.ops import Refs
from syncd.vendors.base import Status
from syncd.vendors.litmos import LitmosConnector, wire
from tests.contract.kit import LitmosHarness


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that also keeps every request it sent (method, path, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)

    def bodies(self, method: str, path_end: str) -> list[dict]:
        return [
            json.loads(r.content, object_pairs_hook=dict)
            for r in self.sent
            if r.method == method and r.url.path.endswith(path_end)
        ]


@pytest.fixture
def litmos(litmos_sandbox) -> Iterator[LitmosHarness]:
    forget_limiters()
    yield LitmosHarness(litmos_sandbox)
    forget_limiters()


def connector_with(
    harness: LitmosHarness, transport: httpx.BaseTransport, *, json_answers: bool = True
) -> LitmosConnector:
    connection = harness.connection()
    params = {"source": harness.source}
    if json_answers:
        params["format"] = "json"
    client = build_client(
        vendor="litmos",
        base_url=connection.base_url,
        timeout=5.0,
        limiter=None,
        headers={"apikey": harness.api_key},
        params=params,
        rate_limit_statuses=(429, 503),
        transport=transport,
    )
    return LitmosConnector(connection, client=client)


def create(n: int, harness: LitmosHarness, **override: str) -> ops.CreateUser:
    attrs = harness.user_attrs(n, **override)
    return ops.CreateUser(external_id=f"E{n}", match_value=dict(attrs)["UserName"], attrs=attrs)


def test_create_body_is_in_wire_order_with_the_required_fields(litmos):
    transport = RecordingTransport()
    attrs = litmos.user_attrs(1, CustomField4="x", Culture="en-GB", CustomField3="y")
    op = ops.CreateUser(external_id="E1", match_value="user1@corp.test", attrs=attrs)
    with connector_with(litmos, transport) as connector:
        (outcome,) = connector.execute([op], Refs())
    assert outcome.status is Status.DONE
    (body,) = transport.bodies("POST", "/users")
    names = list(body)
    assert names == wire.user_order(names)
    assert names[:3] == ["Id", "UserName", "FirstName"]
    assert names.index("CustomField3") < names.index("Culture") < names.index("CustomField4")
    assert set(wire.REQUIRED_ON_CREATE) <= set(names)
    assert body["Id"] == "" and body["Active"] is True and body["IsCustomUsername"] is False


def test_update_puts_back_the_whole_user_in_the_order_read(litmos):
    transport = RecordingTransport()
    with connector_with(litmos, transport) as connector:
        (made,) = connector.execute([create(2, litmos)], Refs())
        refs = Refs(users={"E2": made.remote_id})
        change = ops.UpdateUser(
            external_id="E2", changes=(("JobTitle", "Engineer", "Lead"), ("Skype", "", "sk2"))
        )
        (outcome,) = connector.execute([change], refs)
    assert outcome.status is Status.DONE and outcome.calls == 2
    read = transport.sent[-2]
    assert read.method == "GET"
    (put,) = transport.bodies("PUT", f"/users/{made.remote_id}")
    assert list(put) == list(litmos.remote_user(made.remote_id))
    assert put["JobTitle"] == "Lead" and put["Skype"] == "sk2" and put["Id"] == made.remote_id
    remote = litmos.remote_user(made.remote_id)
    assert remote["JobTitle"] == "Lead" and remote["FirstName"] == "First2"


def test_unchanged_update_makes_no_put(litmos):
    transport = RecordingTransport()
    with connector_with(litmos, transport) as connector:
        (made,) = connector.execute([create(3, litmos)], Refs())
        change = ops.UpdateUser(external_id="E3", changes=(("JobTitle", "x", "Engineer"),))
        (outcome,) = connector.execute([change], Refs(users={"E3": made.remote_id}))
    assert outcome.status is Status.DONE and outcome.calls == 1
    assert not transport.bodies("PUT", made.remote_id)


def test_everything_works_when_litmos_answers_xml(litmos):
    (course_id,) = litmos.seed_courses("X1")
    transport = RecordingTransport()
    with connector_with(litmos, transport, json_answers=False) as connector:
        (made,) = connector.execute([create(4, litmos)], Refs())
        (again,) = connector.execute([create(4, litmos)], Refs())
        refs = Refs(users={"E4": made.remote_id})
        (team,) = connector.execute([ops.CreateGroup(group_key="t", name="XML team")], refs)
        refs = Refs(users=refs.users, groups={"t": team.remote_id})
        outcomes = list(
            connector.execute(
                [
                    ops.UpdateUser(external_id="E4", changes=(("JobTitle", "Engineer", "X"),)),
                    ops.DeactivateUser(external_id="E4"),
                    ops.AddMembers(group_key="t", external_ids=("E4",)),
                    ops.AssignCourses(external_id="E4", course_ids=(course_id,)),
                ],
                refs,
            )
        )
        users = list(connector.list_users())
        groups = list(connector.list_groups())
    assert made.status is Status.DONE and made.remote_id
    assert again.adopted and again.remote_id == made.remote_id
    assert team.status is Status.DONE and team.remote_id
    assert [o.status for o in outcomes] == [Status.DONE] * 4
    (user,) = users
    assert user.remote_id == made.remote_id and user.active is False
    assert user.attrs["JobTitle"] == "X"
    assert [g.name for g in groups] == ["XML team"]
    assert litmos.remote_courses(made.remote_id) == {course_id}
    assert all(
        r.headers["content-type"] == "application/json"
        for r in transport.sent
        if r.method in {"POST", "PUT"}
    )
    puts = transport.bodies("PUT", made.remote_id)
    assert [put["Active"] for put in puts] == [True, False]
    assert all(isinstance(put["OriginalId"], int) for put in puts)


def test_other_409_reasons_are_permanent(litmos):
    transport = RecordingTransport()
    op = create(5, litmos, UserName="bad name!", Email="user5@corp.test")
    with connector_with(litmos, transport) as connector:
        (outcome,) = connector.execute([op], Refs())
    assert outcome.status is Status.DEAD
    assert "409" in outcome.error and "already exists" not in outcome.error
    assert len(transport.sent) == 1


def test_team_name_taken_elsewhere_is_permanent_not_adopted(litmos):
    litmos.seed({"teams": [{"name": "Parent"}, {"name": "Shared"}]})
    parent = litmos.ids["teams"]["Parent"]
    child = ops.CreateGroup(group_key="p/s", name="Shared", parent_key="p")
    with LitmosConnector(litmos.connection()) as connector:
        (outcome,) = connector.execute([child], Refs(groups={"p": parent}))
    assert outcome.status is Status.DEAD and "already exists" in outcome.error


def queries(litmos: LitmosHarness, method: str, template_end: str) -> list[dict[str, list[str]]]:
    return [
        parse_qs(entry["query"])
        for entry in litmos.log()
        if entry["method"] == method and entry["template"].endswith(template_end)
    ]


def test_no_messages_unless_asked(litmos):
    (course_id,) = litmos.seed_courses("M1")
    for send, n in ((False, 6), (True, 7)):
        with LitmosConnector(litmos.connection(send_message=send)) as connector:
            (made,) = connector.execute([create(n, litmos)], Refs())
            assign = ops.AssignCourses(external_id=f"E{n}", course_ids=(course_id,))
            (done,) = connector.execute([assign], Refs(users={f"E{n}": made.remote_id}))
            assert done.status is Status.DONE
    flags = [q["sendmessage"] for q in queries(litmos, "POST", "/courses")]
    assert flags == [["false"], ["true"]]
    assert all(
        q["source"] == [litmos.source] and q["format"] == ["json"]
        for q in queries(litmos, "POST", "/users")
    )


def test_skip_first_login_option_uses_the_query_flag(litmos):
    with LitmosConnector(litmos.connection(skip_first_login=True)) as connector:
        (made,) = connector.execute([create(8, litmos)], Refs())
    assert queries(litmos, "POST", "/users")[0]["skipfirstlogin"] == ["true"]
    assert litmos.remote_user(made.remote_id)["SkipFirstLogin"] is True


def test_api_key_travels_in_the_header_only(litmos):
    with LitmosConnector(litmos.connection()) as connector:
        list(connector.list_users())
    (entry,) = litmos.log()
    assert "apikey" not in parse_qs(entry["query"])


def test_a_key_without_admin_rights_stops_the_batch_instead_of_dead_lettering_it(litmos):
    litmos.seed({"api_keys": [{"key": "learner-key", "access_level": "Learner"}]})
    connection = litmos.connection().model_copy(
        update={"credentials": {"api_key": SecretStr("learner-key")}}
    )
    batch = [create(n, litmos) for n in (20, 21, 22)]
    with LitmosConnector(connection) as connector:
        outcomes = connector.execute(batch, Refs())
        with pytest.raises(CredentialRefused, match="proper permissions"):
            next(outcomes)
    assert len(litmos.log()) == 1, "one refusal, then nothing more is sent"


def test_courses_given_to_a_team_reach_the_members_of_its_sub_teams_in_one_call(litmos):
    course_ids = litmos.seed_courses("TC1", "TC2")
    with LitmosConnector(litmos.connection()) as connector:
        made = {
            f"E{n}": o.remote_id
            for n, o in zip(
                (1, 2, 3),
                connector.execute(
                    [create(1, litmos), create(2, litmos), create(3, litmos)], Refs()
                ),
                strict=True,
            )
        }
        parent, child = (
            ops.CreateGroup(group_key="org:Ops", name="Ops"),
            ops.CreateGroup(group_key="org:Ops/Sales", name="Sales", parent_key="org:Ops"),
        )
        (top,) = connector.execute([parent], Refs())
        (below,) = connector.execute([child], Refs(groups={"org:Ops": top.remote_id}))
        teams = {"org:Ops": top.remote_id, "org:Ops/Sales": below.remote_id}
        adds = [
            ops.AddMembers(group_key="org:Ops", external_ids=("E1",)),
            ops.AddMembers(group_key="org:Ops/Sales", external_ids=("E2", "E3")),
        ]
        refs = Refs(users=made, groups=teams)
        assert [o.status for o in connector.execute(adds, refs)] == [Status.DONE] * 2
        before = litmos.requests()
        given = ops.AssignGroupCourses(
            group_key="org:Ops", course_ids=tuple(course_ids), external_ids=("E1", "E2", "E3")
        )
        (done,) = connector.execute([given], refs)
    assert done.status is Status.DONE and done.calls == 1 == litmos.requests() - before
    assert done.detail == {"course_ids": course_ids}
    for remote in made.values():
        assert set(course_ids) <= litmos.remote_courses(remote)
    (query,) = queries(litmos, "POST", "/teams/{team_id}/courses")
    assert query["includesubteams"] == ["true"] and query["sendmessage"] == ["false"]
