"""Litmos gaps closed against recorded real traffic and the public clients (issue 13.7).

The reason phrase of the status line carries the vendor's message, as the recordings of
``charliequinn/python-litmos-api`` show (``409 UserName already exists`` in
create-user-already-exists.yml, ``500 The server encountered an error processing the
request. ...`` in module_complete.yml); the simulator's private header that asks the server
for it never reaches the wire. ``/users/{id}/usercustomfields`` takes both public write
shapes (see :mod:`syncd.sandbox.litmos.customfields`).
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import httpx
import pytest

from syncd.sandbox.litmos.simulator import LitmosSimulator
from syncd.sandbox.litmos.wire import WCF_FAULT
from syncd.sandbox.running import RunningSandbox
from syncd.sandbox.server import REASON_HEADER
from tests.unit.sandbox.kit import client, new_user_body


@pytest.fixture
def api(litmos_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client(litmos_sandbox) as http:
        yield http


def _user(api: httpx.Client, username: str = "ann.lee@example.com") -> str:
    created = api.post("/users", json=new_user_body(username))
    assert created.status_code == 201
    if created.headers["content-type"].startswith("application/xml"):
        return str(ET.fromstring(created.content).findtext("Id"))
    return str(created.json()["Id"])


@pytest.mark.parametrize("fmt", ["json", None])
def test_duplicate_user_reason_phrase_is_the_vendor_message(
    litmos_sandbox: RunningSandbox, fmt: str | None
) -> None:
    with client(litmos_sandbox, fmt=fmt) as http:
        http.post("/users", json=new_user_body("jobaba7@pieshop.net"))
        answer = http.post("/users", json=new_user_body("jobaba7@pieshop.net"))
    assert answer.status_code == 409
    assert answer.reason_phrase == "UserName already exists"
    assert REASON_HEADER not in answer.headers
    assert "UserName already exists" in answer.text


def test_other_refusals_carry_their_detail_as_reason(api: httpx.Client) -> None:
    missing = api.get("/users/nobody-here")
    assert missing.status_code == 404
    assert missing.reason_phrase == "User - nobody-here was not found"
    # A status line holds printable ASCII only; the body keeps the real text.
    accented = api.get("/users/jos\u00e9")
    assert accented.status_code == 404
    assert accented.reason_phrase == "User - jos? was not found"
    assert "jos\u00e9" in accented.json()["Detail"]


def test_wcf_fault_500_has_the_recorded_reason_and_page(
    litmos_sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """module_complete.yml: an ISO date in a JSON DateTime member -> WCF's 500 page."""
    assert litmos_sandbox.admin is not None
    ids = litmos_sandbox.admin.seed(
        {
            "courses": [{"code": "WBT001", "name": "Why bother", "modules": [{"name": "T"}]}],
            "users": [
                {
                    "username": "charlie.quinn@pieshop.net",
                    "first_name": "Charlie",
                    "last_name": "Quinn",
                    "courses": ["WBT001"],
                }
            ],
        }
    )
    course_id = ids["courses"]["WBT001"]
    module_id = api.get(f"/courses/{course_id}/modules").json()[0]["Id"]
    body = {
        "Note": "",
        "UserId": ids["users"]["charlie.quinn@pieshop.net"],
        "Completed": True,
        "CourseId": course_id,
        "Score": 100,
        "UpdatedAt": "2017-06-05T15:00:17Z",
    }
    fault = api.put(f"/results/modules/{module_id}", json=body)
    assert fault.status_code == 500
    assert fault.reason_phrase == WCF_FAULT
    assert fault.reason_phrase.startswith("The server encountered an error processing")
    assert fault.headers["content-type"] == "text/html"
    assert "'InternalServerError'" in fault.text and WCF_FAULT in fault.text
    assert REASON_HEADER not in fault.headers


def test_injected_500_is_the_same_wcf_fault(
    litmos_sandbox: RunningSandbox, api: httpx.Client
) -> None:
    assert litmos_sandbox.admin is not None
    litmos_sandbox.admin.set_faults(error_rate=1.0, error_statuses=[500])
    answer = api.get("/users")
    assert answer.status_code == 500
    assert answer.reason_phrase == WCF_FAULT
    assert answer.headers["content-type"] == "text/html"
    assert "'InternalServerError'" in answer.text


def test_success_keeps_the_standard_reason(api: httpx.Client) -> None:
    created = api.post("/users", json=new_user_body("ok.user@example.com"))
    assert (created.status_code, created.reason_phrase) == (201, "Created")


def test_custom_fields_xml_write_and_read(litmos_sandbox: RunningSandbox) -> None:
    """Write shape of jackdog040506/litmos-api-integration (``writeCustomFieldToUser``):
    ``text/xml``, ``UserCustomField`` with ``Parameter fieldname=...`` children, no
    ``format``; read back by ``getUserCustomFields`` (GET, XML)."""
    with client(litmos_sandbox, fmt=None) as http:
        user_id = _user(http)
        xml_body = (
            '<?xml version="1.0" ?><UserCustomField>'
            '<Parameter fieldname="Department">Sales</Parameter>'
            '<Parameter fieldname="Region">North</Parameter></UserCustomField>'
        )
        written = http.post(
            f"/users/{user_id}/usercustomfields",
            content=xml_body,
            headers={"Content-Type": "text/xml"},
        )
        assert (written.status_code, written.content) == (200, b"")
        read = http.get(f"/users/{user_id}/usercustomfields")
    assert read.status_code == 200
    root = ET.fromstring(read.content)
    assert root.tag == "UserCustomField"
    assert [(p.get("fieldname"), p.text) for p in root] == [
        ("Department", "Sales"),
        ("Region", "North"),
    ]


def test_custom_fields_json_write_merges(api: httpx.Client) -> None:
    """Write shape of charliequinn/python-litmos-api (``update_advanced_custom_fields``):
    ``format=json``, a JSON list of ``{"<FIELDNAME>": "<VALUE>"}`` objects."""
    user_id = _user(api)
    first = api.post(
        f"/users/{user_id}/usercustomfields", json=[{"Department": "Sales"}, {"Grade": "7"}]
    )
    assert (first.status_code, first.content) == (200, b"")
    again = api.post(f"/users/{user_id}/usercustomfields", json=[{"Grade": 8}])
    assert again.status_code == 200
    assert api.get(f"/users/{user_id}/usercustomfields").json() == [
        {"Department": "Sales"},
        {"Grade": "8"},
    ]


def test_custom_fields_refusals(api: httpx.Client) -> None:
    user_id = _user(api)
    unknown = api.post("/users/nope/usercustomfields", json=[{"A": "1"}])
    assert unknown.status_code == 404
    for bad in ("[1]", "<Other/>", "<UserCustomField><Parameter>x</Parameter></UserCustomField>"):
        answer = api.post(
            f"/users/{user_id}/usercustomfields",
            content=bad,
            headers={"Content-Type": "application/json" if bad[0] == "[" else "text/xml"},
        )
        assert answer.status_code == 400, bad
    assert api.get(f"/users/{user_id}/usercustomfields").json() == []


def test_custom_fields_survive_the_account_file() -> None:
    simulator = LitmosSimulator()
    user = simulator.store.add_user({"UserName": "a@example.com"}, "")
    user.custom_fields["Department"] = "Sales"
    again = LitmosSimulator()
    again.restore(simulator.snapshot())
    assert again.store.users[user.id].custom_fields == {"Department": "Sales"}
