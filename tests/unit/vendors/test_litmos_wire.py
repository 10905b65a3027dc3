"""Litmos wire details: field order, value typing, XML and JSON bodies, both date formats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.vendors.litmos import wire

XML_USERS = b"""<Users xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
  <User><Id>u1</Id><UserName>a@x.test</UserName><Active>true</Active>
    <Skype i:nil="true"/><LoginKey>https://t.litmos.com/login.aspx?loginkey=abc</LoginKey></User>
  <User><Id>u2</Id><UserName>b@x.test</UserName><Active>false</Active>
    <Skype i:nil="true"/><LoginKey/></User>
</Users>"""


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/Date(1497801750508-0700)/", datetime(2017, 6, 18, 16, 2, 30, 508000, tzinfo=UTC)),
        ("/Date(1497801750508+0000)/", datetime(2017, 6, 18, 16, 2, 30, 508000, tzinfo=UTC)),
        ("/Date(1497801750508)/", datetime(2017, 6, 18, 16, 2, 30, 508000, tzinfo=UTC)),
        ("2016-12-09T07:54:27Z", datetime(2016, 12, 9, 7, 54, 27, tzinfo=UTC)),
        ("2015-04-30T15:36:30", datetime(2015, 4, 30, 15, 36, 30, tzinfo=UTC)),
        ("2021-09-20T19:19:55.847", datetime(2021, 9, 20, 19, 19, 55, 847000, tzinfo=UTC)),
        ("2021-09-20T19:19:55.847+0000", datetime(2021, 9, 20, 19, 19, 55, 847000, tzinfo=UTC)),
        ("2021-09-20T21:19:55+02:00", datetime(2021, 9, 20, 19, 19, 55, tzinfo=UTC)),
        ("2020-12-12T09:18:00.6471234", datetime(2020, 12, 12, 9, 18, 0, 647123, tzinfo=UTC)),
        ("2024-01-02 03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_date_reads_both_formats(text, expected):
    assert wire.parse_date(text) == expected


def test_parse_date_rejects_garbage():
    with pytest.raises(ValueError, match="not a Litmos date"):
        wire.parse_date("yesterday")


def test_wcf_date_round_trips():
    moment = datetime(2017, 6, 18, 16, 2, 30, 508000, tzinfo=UTC)
    assert wire.wcf_date(moment) == "/Date(1497801750508)/"
    assert wire.parse_date(wire.wcf_date(moment)) == moment
    assert wire.query_date(moment) == "2017-06-18 16:02:30"


def test_user_order_follows_the_recorded_wire_order():
    names = ["CustomField4", "Email", "Culture", "UserName", "Custom X", "CustomField3", "Id"]
    assert wire.user_order(names) == [
        "Id",
        "UserName",
        "Email",
        "CustomField3",
        "Culture",
        "CustomField4",
        "Custom X",
    ]


def test_decode_xml_collection_with_nils():
    users = wire.as_items(wire.decode(XML_USERS, "text/xml"))
    assert [u["Id"] for u in users] == ["u1", "u2"]
    assert users[0]["Skype"] is None
    assert wire.as_bool(users[0]["Active"]) is True
    assert wire.as_bool(users[1]["Active"]) is False


def test_decode_empty_xml_list_and_empty_body():
    empty = b'<Users xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/>'
    assert wire.as_items(wire.decode(empty, "application/xml")) == []
    assert wire.decode(b"", "application/json") is None
    assert wire.as_items(None) == []


def test_decode_single_xml_record_and_json():
    one = wire.decode(b"<Team><Id>t1</Id><Name>Sales</Name><ParentTeamId/></Team>")
    assert one == {"Id": "t1", "Name": "Sales", "ParentTeamId": ""}
    assert wire.as_record(wire.decode(b'[{"Id": "x"}]')) == {"Id": "x"}
    assert wire.as_items(wire.decode(b'[{"Id": "x"}, {"Id": "y"}]')) == [{"Id": "x"}, {"Id": "y"}]


def test_public_attrs_never_carry_login_keys_or_passwords():
    user = {
        "Id": "u1",
        "LoginKey": "https://t/login.aspx?loginkey=abc",
        "Password": "pw",
        "Active": True,
        "Skype": None,
    }
    assert wire.public_attrs(user) == {"Id": "u1", "Active": "true", "Skype": ""}


def test_values_are_typed_for_json_and_compared_normalised():
    assert wire.to_wire("Active", "false") is False
    assert wire.to_wire("Points", "12") == 12
    assert wire.to_wire("JobTitle", "12") == "12"
    assert wire.same_value("Active", False, "false")
    assert wire.same_value("Skype", None, "")
    assert not wire.same_value("Active", None, "false")


def test_get_field_is_case_blind_as_a_fallback():
    assert wire.get_field({"Username": "a"}, "UserName") == "a"
    assert wire.get_field({"UserName": "b", "Username": "a"}, "UserName") == "b"
