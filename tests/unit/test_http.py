"""Error mapping at the HTTP edge: statuses and vendor reasons become syncd errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.errors import Conflict, CredentialRefused, Permanent, RateLimited, Retryable
from syncd.http import HttpClient, Response, retry_after_seconds, vendor_reason
from syncd.limiter import Limiter, RateRule
from syncd.log import REDACTOR


def answer(status: int, body: bytes = b"", reason: str = "", **headers: str) -> Response:
    return Response(status=status, reason=reason, headers=headers, content=body)


@pytest.fixture
def client():
    made = HttpClient(
        vendor="litmos",
        base_url="http://127.0.0.1:9/v1.svc",
        timeout=1.0,
        limiter=Limiter(RateRule(100, 60.0)),
        rate_limit_statuses=(429, 503),
    )
    yield made
    made.close()


def test_409_is_a_conflict_carrying_the_vendors_detail(client):
    err = client.error_for(
        "POST", "/users", answer(409, b'{"Detail":"UserName already exists"}', "Conflict")
    )
    assert type(err) is Conflict
    assert err.fields["reason"] == "UserName already exists"
    assert str(err) == "litmos: POST /users -> 409 UserName already exists"


def test_vendor_rate_limit_status_pauses_with_retry_after(client):
    err = client.error_for("GET", "/users", answer(503, b"", "Service Unavailable"))
    assert isinstance(err, RateLimited) and err.status == 503
    hinted = client.error_for("GET", "/users", answer(429, b"", "", **{"retry-after": "7"}))
    assert isinstance(hinted, RateLimited) and hinted.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_server_faults_and_timeouts_are_retryable(client, status):
    err = client.error_for("GET", "/teams", answer(status, b"<html>oops</html>", "Error"))
    assert type(err) is Retryable
    assert err.fields["reason"] == "Error"


@pytest.mark.parametrize("status", [400, 403, 404, 406])
def test_other_client_errors_are_permanent(client, status):
    err = client.error_for("GET", "/users/x", answer(status, b'{"Detail":"no"}'))
    assert type(err) is Permanent and err.status == status


def test_401_refuses_the_credential_not_the_op(client):
    err = client.error_for("GET", "/users/x", answer(401, b'{"Detail":"bad key"}'))
    assert type(err) is CredentialRefused and err.fields["reason"] == "bad key"


def test_reason_from_xml_error_and_plain_text():
    xml = b'<Error xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Detail>Bad</Detail></Error>'
    assert vendor_reason(answer(400, xml, "Bad Request")) == "Bad"
    page = b"<html><HEAD><TITLE>Request Error</TITLE></HEAD></html>"
    assert vendor_reason(answer(500, page, "Internal Server Error")) == "Internal Server Error"
    assert vendor_reason(answer(400, b"plain   words\n here", "X")) == "plain words here"
    assert vendor_reason(answer(404, b"", "Not Found")) == "Not Found"


def test_reason_never_carries_a_registered_secret():
    REDACTOR.add_secrets(["sk-very-secret-value"])
    body = b'{"Detail":"bad key sk-very-secret-value"}'
    assert "sk-very-secret-value" not in vendor_reason(answer(401, body))


def test_retry_after_forms():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
