"""Pure parts of the Enabley simulator: JWT, paging cursors, dates, seeding, the account."""

from __future__ import annotations

import base64
import json

import pytest

from syncd.sandbox.enabley import jwt
from syncd.sandbox.enabley.auth import TokenIssuer
from syncd.sandbox.enabley.errors import ERROR_CODES, EnableyError
from syncd.sandbox.enabley.model import format_date, parse_date
from syncd.sandbox.enabley.paging import Paginator
from syncd.sandbox.enabley.simulator import EnableySimulator
from syncd.sandbox.enabley.state import Account

KEY = b"k" * 32


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ------------------------------------------------------------------------------------ JWT


def test_jwt_round_trip_and_standard_header() -> None:
    token = jwt.encode({"sub": "c", "exp": 200}, KEY)
    header = token.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert "=" not in token
    assert jwt.decode(token, KEY, now=199.9) == {"sub": "c", "exp": 200}


def test_jwt_matches_an_independent_hs256_vector() -> None:
    # RFC 7515 appendix A.1 key and input: the signature must equal the published one.
    key = base64.urlsafe_b64decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
    )
    signing_input = (
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    )
    token = signing_input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    claims = jwt.decode(token, key, now=0)
    assert claims["iss"] == "joe"
    with pytest.raises(jwt.InvalidToken, match="expired"):
        jwt.decode(token, key, now=1300819380)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: (
            t.split(".")[0] + "." + _segment({"sub": "c", "exp": 10**12}) + "." + t.split(".")[2]
        ),
        lambda t: _segment({"alg": "none", "typ": "JWT"}) + "." + t.split(".")[1] + ".",
        lambda t: _segment({"alg": "HS512"}) + "." + t.split(".", 1)[1],
        lambda t: "not-a-token",
        lambda t: t + ".extra",
        lambda t: "é" + t,
        lambda t: "!!!." + t.split(".", 1)[1],
    ],
)
def test_jwt_rejects_tampered_or_foreign_tokens(mangle) -> None:  # type: ignore[no-untyped-def]
    token = jwt.encode({"sub": "c", "exp": 10**11}, KEY)
    with pytest.raises(jwt.InvalidToken):
        jwt.decode(mangle(token), KEY, now=0)


def test_jwt_requires_numeric_exp_and_another_key_fails() -> None:
    with pytest.raises(jwt.InvalidToken, match="exp"):
        jwt.decode(jwt.encode({"sub": "c"}, KEY), KEY, now=0)
    with pytest.raises(jwt.InvalidToken, match="signature"):
        jwt.decode(jwt.encode({"sub": "c", "exp": 5}, KEY), b"other", now=0)


def test_issuer_tokens_expire_and_die_with_their_client() -> None:
    now = [1000.0]
    account = Account(clock_source=lambda: now[0])
    issuer = TokenIssuer(account, lifetime_seconds=60)
    answer = issuer.issue("sandbox-client", "sandbox-secret")
    assert answer["expires_in"] == 60_000 and answer["token_type"] == "bearer"
    token = answer["access_token"]
    assert issuer.client_of(token) == "sandbox-client"
    now[0] = 1059.9
    assert issuer.client_of(token) == "sandbox-client"
    now[0] = 1060.0
    assert issuer.client_of(token) is None
    fresh = issuer.issue("sandbox-client", "sandbox-secret")["access_token"]
    account.clients.clear()
    assert issuer.client_of(fresh) is None


def test_issuer_refuses_bad_credentials_with_documented_codes() -> None:
    issuer = TokenIssuer(Account())
    with pytest.raises(EnableyError) as missing:
        issuer.issue(None, "x")
    assert (missing.value.status, missing.value.error) == (400, "invalid_request")
    with pytest.raises(EnableyError) as wrong:
        issuer.issue("sandbox-client", "wrong")
    assert (wrong.value.status, wrong.value.error) == (401, "invalid_client")


# ------------------------------------------------------------------------------- paging


def test_paginator_walks_to_the_last_page_and_keys_are_replayable() -> None:
    pages = Paginator(page_size=2)
    rows = [{"n": i} for i in range(5)]
    first = pages.first("users", rows)
    assert first == {
        "currentPage": 0,
        "items": rows[:2],
        "pageSize": 2,
        "paginationKey": first["paginationKey"],
        "totalPages": 3,
    }
    second = pages.resume("users", first["paginationKey"])
    again = pages.resume("users", first["paginationKey"])
    assert second["items"] == again["items"] == rows[2:4]
    last = pages.resume("users", second["paginationKey"])
    assert last["items"] == rows[4:] and last["currentPage"] == 2 and last["paginationKey"] is None


def test_paginator_single_and_empty_results_have_no_key() -> None:
    pages = Paginator(page_size=2)
    assert pages.first("users", [{"n": 1}, {"n": 2}])["paginationKey"] is None
    empty = pages.first("users", [])
    assert empty["items"] == [] and empty["totalPages"] == 0 and empty["paginationKey"] is None


def test_paginator_unknown_or_foreign_key_is_404_not_found() -> None:
    pages = Paginator(page_size=1)
    key = pages.first("users", [{"n": 1}, {"n": 2}])["paginationKey"]
    for kind, bad in (("users", "bogus"), ("channels", key)):
        with pytest.raises(EnableyError) as caught:
            pages.resume(kind, bad)
        assert (caught.value.status, caught.value.error) == (404, "not_found")


def test_paginator_forgets_the_oldest_cursor_beyond_capacity() -> None:
    pages = Paginator(page_size=1, capacity=2)
    keys = [pages.first("users", [{"n": 1}, {"n": 2}])["paginationKey"] for _ in range(3)]
    with pytest.raises(EnableyError):
        pages.resume("users", keys[0])
    assert pages.resume("users", keys[2])["items"] == [{"n": 2}]


# -------------------------------------------------------------------------------- dates


def test_dates_use_the_documented_millisecond_utc_format() -> None:
    assert format_date(1513170868.317) == "2017-12-13T13:14:28.317Z"
    assert parse_date("2017-12-13T13:14:28.317Z", name="d") == pytest.approx(1513170868.317)
    assert parse_date("2017-12-13T15:14:28.317+02:00", name="d") == pytest.approx(1513170868.317)


@pytest.mark.parametrize("bad", ["2017-12-13", "13/12/2017 13:14", "2017-13-45T99:14:28.317Z"])
def test_bad_dates_are_invalid_requests_naming_the_field(bad: str) -> None:
    with pytest.raises(EnableyError) as caught:
        parse_date(bad, name="createdSince")
    assert caught.value.error == "invalid_request" and "createdSince" in caught.value.description


def test_error_codes_are_exactly_the_documented_enum() -> None:
    documented = {
        "invalid_request",
        "invalid_client",
        "not_found",
        "access_denied",
        "general_error",
        "item_exists",
        "item_not_exists",
        "service_unavailable",
    }
    assert documented == ERROR_CODES


# ------------------------------------------------------------------------------ seeding


def test_seed_is_all_or_nothing_and_names_the_bad_item() -> None:
    simulator = EnableySimulator()
    seed = {
        "users": [{"identifier": "u1", "username": "ann"}],
        "channels": [
            {"identifier": "c1", "name": "Safety", "type": "COURSE"},
            {"identifier": "c2", "name": "Bad", "type": "VIDEO"},
        ],
    }
    with pytest.raises(ValueError, match=r"channels\[1\]: type must be one of STREAM, COURSE"):
        simulator.seed(seed)
    assert simulator.account.users == {} and simulator.account.channels == {}


def test_seed_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown seed keys learners"):
        EnableySimulator().seed({"learners": []})


def test_seed_builds_a_connected_account() -> None:
    simulator = EnableySimulator()
    counts = simulator.seed(
        {
            "subAccounts": ["sandbox", "east"],
            "users": [
                {"identifier": "u1", "username": "ann", "subAccountName": "east"},
                {"identifier": "u2", "username": "bob"},
            ],
            "groups": [
                {"identifier": "g1", "name": "Acme", "type": "COMPANY", "members": ["u1"]},
                {"identifier": "g2", "name": "Ops", "type": "TEAM", "parentIdentifier": "g1"},
            ],
            "courses": [
                {
                    "identifier": "c1",
                    "name": "Safety",
                    "type": "COURSE",
                    "categories": ["HSE"],
                    "learners": ["u2"],
                    "groups": [{"identifier": "g1", "recursive": True}],
                }
            ],
            "certificates": [
                {"externalCertificateId": "cert", "name": "Safe", "courseIds": ["c1"]}
            ],
            "activity": [{"user": "u1", "channel": "c1", "action": "complete", "score": 90}],
        }
    )
    assert counts == {
        "users": 2,
        "groups": 2,
        "masters": 0,
        "channels": 1,
        "certificates": 1,
        "activity": 1,
    }
    account = simulator.account
    assert account.learners(account.channels["c1"]) == ["u1", "u2"]
    assert account.activity[("u1", "c1")].progress == 100


def test_reset_restores_construction_settings() -> None:
    simulator = EnableySimulator(page_size=7, token_lifetime_seconds=5)
    simulator.seed({"subAccounts": ["x"], "clients": {"k2": "s2"}})
    simulator.paginator.page_size = 1
    simulator.account.clock_offset = 99
    simulator.reset()
    assert simulator.account.sub_accounts == ["sandbox"]
    assert simulator.account.clients == {"sandbox-client": "sandbox-secret"}
    assert simulator.paginator.page_size == 7 and simulator.issuer.lifetime_seconds == 5
    assert simulator.account.clock_offset == 0


def test_simulator_needs_at_least_one_client() -> None:
    with pytest.raises(ValueError, match="at least one client"):
        EnableySimulator(clients={})
