"""Enabley's wire helpers: the ErrorResponse table, user bodies, listed values, depth."""

from __future__ import annotations

import json
import re

import pytest

from syncd.errors import Conflict, CredentialRefused, Permanent, RateLimited, Retryable
from syncd.http import Response
from syncd.vendors.enabley import wire
from syncd.vendors.enabley.client import EnableyClient
from syncd.vendors.enabley.token import _lifetime_seconds

DOCUMENTED = {
    "invalid_request",
    "invalid_client",
    "not_found",
    "access_denied",
    "general_error",
    "item_exists",
    "item_not_exists",
    "service_unavailable",
}


def answer(status: int, body: object, content_type: str = "application/json") -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, "", {"content-type": content_type}, content)


def client() -> EnableyClient:
    return EnableyClient(vendor="enabley", base_url="http://127.0.0.1:9", timeout=1.0)


def test_every_documented_code_has_one_meaning():
    assert set(wire.ERRORS) == DOCUMENTED


@pytest.mark.parametrize(
    "status, code, kind",
    [
        (400, "invalid_request", Permanent),
        (401, "invalid_client", CredentialRefused),
        (404, "not_found", Permanent),
        (401, "access_denied", CredentialRefused),
        (500, "general_error", Retryable),
        (400, "item_exists", Conflict),
        (400, "item_not_exists", wire.Missing),
        (503, "service_unavailable", RateLimited),
    ],
)
def test_error_answers_become_syncd_errors_with_code_and_description(status, code, kind):
    body = {"error": code, "error_description": "user 'E1' does not exist"}
    error = client().error_for("PUT", "/api/v2/users", answer(status, body))
    assert type(error) is kind
    assert str(error).startswith(f"enabley: PUT /api/v2/users -> {status} {code}: user 'E1'")


@pytest.mark.parametrize(
    "status, kind", [(502, Retryable), (504, Retryable), (401, CredentialRefused), (418, Permanent)]
)
def test_answers_without_an_error_response_fall_back_to_the_status(status, kind):
    page = answer(status, b"<html><body><h1>Bad Gateway</h1></body></html>", "text/html")
    assert type(client().error_for("GET", "/api/v3/users", page)) is kind


def test_an_unknown_code_falls_back_to_the_status():
    error = client().error_for("GET", "/x", answer(500, {"error": "brand_new_code"}))
    assert isinstance(error, Retryable) and "brand_new_code" in str(error)


def test_user_fields_split_profile_fields_from_custom_attributes():
    body = wire.user_fields(
        {"username": "a@b.c", "firstName": "A", "email": "", "JobTitle": "Dev", "Site": "X"}
    )
    assert body == {
        "username": "a@b.c",
        "firstName": "A",
        "customAttributes": {"JobTitle": "Dev", "Site": "X"},
    }


def test_user_attrs_flatten_a_user_info_without_letting_custom_shadow_profile():
    info = {
        "identifier": "E1",
        "username": "a@b.c",
        "firstName": None,
        "isActive": False,
        "customAttributes": {"JobTitle": "Dev", "username": "evil", "Age": 41},
    }
    attrs = wire.user_attrs(info)
    assert attrs["username"] == "a@b.c" and attrs["firstName"] == ""
    assert (attrs["JobTitle"], attrs["Age"], attrs["identifier"]) == ("Dev", "41", "E1")
    assert not wire.is_active(info) and wire.is_active({"isActive": "true"})


@pytest.mark.parametrize(
    "key, depth", [("org:Sales", 0), ("org:Sales/EMEA", 1), ("org:A%2FB/C/D", 2), ("x", 0)]
)
def test_group_depth_counts_unescaped_levels(key, depth):
    assert wire.group_depth(key) == depth


def test_records_read_bare_arrays_and_pages():
    assert wire.records([{"a": 1}, "junk"]) == [{"a": 1}]
    assert wire.records({"items": [{"b": 2}], "paginationKey": None}) == [{"b": 2}]
    assert wire.records(None) == []


@pytest.mark.parametrize(
    "expires_in, seconds", [(3_600_000, 3600.0), (None, 0.0), ("60", 0.0), (True, 0.0), (-5, 0.0)]
)
def test_token_lifetime_is_read_in_milliseconds_and_distrusted(expires_in, seconds):
    assert _lifetime_seconds(expires_in) == seconds


@pytest.mark.parametrize(
    "key", ["org:Sales/EMEA", "org:R&D / Lab?x=1#frag", "org:Zürich\\/West", "org:"]
)
def test_a_group_identifier_is_path_safe_and_stable_for_any_key(key):
    from syncd.vendors.enabley.connector import group_identifier

    made = group_identifier(key)
    assert re.fullmatch(r"syncd-[0-9a-f]+", made)
    assert made == group_identifier(key) and made != group_identifier(key + "x")
