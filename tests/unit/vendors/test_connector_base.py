"""The loop every connector inherits (``Connector.execute``) and what a vendor declares.

``ToyConnector`` is a real subclass: each handler records that it ran, then does what the
test scripted for the op's subject (raise a given VendorError, or send one real request to
a loopback port nobody listens on), so the loop is seen stopping, skipping and answering.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import ClassVar, get_args

import pytest

from syncd.config import ConnectionConfig
from syncd.errors import (
    Conflict,
    CredentialRefused,
    Permanent,
    RateLimited,
    Retryable,
    TlsFailure,
    VendorError,
)
from syncd.http import HttpClient, build_client
from syncd.limiter import RateRule
from syncd.plan import ops
from syncd.plan.model import VendorProfile
from syncd.plan.ops import Op, Refs
from syncd.vendors import REGISTRY
from syncd.vendors.base import (
    Connector,
    Handler,
    MatchKey,
    Outcome,
    RemoteGroup,
    RemoteUser,
    Status,
    handles,
)

CALL = "call"
"""Script entry: the handler sends one real request (to a port that refuses it)."""


class ToyConnector(Connector):
    """A vendor of two op kinds whose handlers do what ``script`` says per subject."""

    vendor: ClassVar[str] = "toy"
    profile: ClassVar[VendorProfile] = VendorProfile(
        vendor="toy", default_fields={}, groups=False, learning_paths=False
    )
    rate: ClassVar[RateRule] = RateRule(requests=10, per_seconds=1)
    match_fields: ClassVar[Mapping[MatchKey, str]] = {
        "username": "login",
        "employee_id": "staff_no",
    }
    sandbox_credentials: ClassVar[Mapping[str, str]] = {"token": "demo_token"}
    sandbox_options: ClassVar[Mapping[str, str]] = {"tenant": "demo_tenant"}

    def __init__(
        self, connection: ConnectionConfig, script: Mapping[str, VendorError | str]
    ) -> None:
        super().__init__(connection)
        self.script = script
        self.ran: list[str] = []

    @classmethod
    def client_for(cls, connection: ConnectionConfig) -> HttpClient:
        return build_client(
            vendor=cls.vendor, base_url=connection.base_url, timeout=5.0, limiter=None
        )

    def handlers(self) -> Iterable[Handler]:
        return (
            handles(ops.CreateUser, self._create_user),
            handles(ops.UpdateUser, self._update_user),
        )

    def refuses_the_key(self, exc: VendorError) -> bool:
        return exc.status == 403 and exc.fields.get("reason") == "key revoked"

    def _create_user(self, op: ops.CreateUser, refs: Refs) -> Outcome:
        return self._scripted(op, op.external_id)

    def _update_user(self, op: ops.UpdateUser, refs: Refs) -> Outcome:
        return self._scripted(op, op.external_id)

    def _scripted(self, op: Op, subject: str) -> Outcome:
        before = self.client.calls.total
        self.ran.append(subject)
        action = self.script.get(subject)
        if isinstance(action, VendorError):
            raise action
        if action == CALL:
            self.client.request("GET", "/ping")
        return Outcome.done(op, calls=self.calls_since(before), remote_id=f"R-{subject}")

    def list_users(self) -> Iterator[RemoteUser]:
        return iter(())

    def list_groups(self) -> Iterator[RemoteGroup]:
        return iter(())


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A loopback address that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def toy(
    script: Mapping[str, VendorError | str], base_url: str = "http://127.0.0.1:9"
) -> ToyConnector:
    connection = ConnectionConfig(vendor="litmos", base_url=base_url, credentials={})
    return ToyConnector(connection, script)


def creates(*subjects: str) -> list[Op]:
    return [ops.CreateUser(external_id=s, match_value=s, attrs=()) for s in subjects]


def statuses(outcomes: Iterable[Outcome]) -> list[str]:
    return [str(o.status) for o in outcomes]


# --------------------------------------------------------------------------- the loop


def test_each_error_kind_becomes_one_outcome_and_the_batch_goes_on(refusing_url: str) -> None:
    connector = toy(
        {
            "E2": Retryable("toy: 502", status=502, retry_after=3.0),
            "E3": Permanent("toy: bad name", status=400),
            "E4": Conflict("toy: exists, and nobody resolved it", status=409),
            "E5": CALL,
        },
        refusing_url,
    )
    outcomes = list(connector.execute(creates("E1", "E2", "E3", "E4", "E5", "E6"), Refs()))
    assert statuses(outcomes) == ["done", "retry", "dead", "dead", "retry", "done"]
    assert connector.ran == ["E1", "E2", "E3", "E4", "E5", "E6"]
    retry, dead, conflict, refused = outcomes[1:5]
    assert (retry.error, retry.retry_after, retry.rate_limited) == ("toy: 502", 3.0, False)
    assert (dead.error, conflict.error) == ("toy: bad name", "toy: exists, and nobody resolved it")
    assert refused.calls == 1 and refused.attempted and "connection failed" in refused.error
    assert outcomes[0].remote_id == "R-E1" and outcomes[0].calls == 0


def test_a_rate_limit_stops_the_batch_and_leaves_the_rest_unattempted() -> None:
    connector = toy({"E2": RateLimited("toy: too fast", status=429, retry_after=7.0)})
    outcomes = list(connector.execute(creates("E1", "E2", "E3", "E4"), Refs()))
    assert connector.ran == ["E1", "E2"]
    assert statuses(outcomes) == ["done", "retry", "retry", "retry"]
    limited, *rest = outcomes[1:]
    assert limited.rate_limited and limited.attempted and limited.retry_after == 7.0
    for skipped in rest:
        assert (skipped.attempted, skipped.calls, skipped.retry_after) == (False, 0, 7.0)
        assert skipped.error == "not attempted: toy: too fast"
    assert [o.key for o in outcomes] == [op.key for op in creates("E1", "E2", "E3", "E4")]


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (CredentialRefused("toy: 401", status=401), CredentialRefused),
        (TlsFailure("toy: certificate verify failed"), TlsFailure),
        (Permanent("toy: 403", status=403, reason="key revoked"), CredentialRefused),
    ],
    ids=["refused-key", "tls", "vendor-says-key"],
)
def test_a_refused_key_or_tls_failure_stops_the_drain(
    error: VendorError, raised: type[VendorError]
) -> None:
    connector = toy({"E2": error})
    seen: list[Outcome] = []
    with pytest.raises(raised):
        seen.extend(connector.execute(creates("E1", "E2", "E3"), Refs()))
    assert statuses(seen) == ["done"]
    assert connector.ran == ["E1", "E2"]


def test_a_403_about_one_object_is_that_ops_dead_letter_only() -> None:
    connector = toy({"E1": Permanent("toy: 403 not yours", status=403, reason="forbidden")})
    outcomes = list(connector.execute(creates("E1", "E2"), Refs()))
    assert statuses(outcomes) == ["dead", "done"]


def test_an_op_kind_without_a_handler_is_a_clear_dead_letter_and_the_rest_runs() -> None:
    connector = toy({})
    batch = [ops.DeleteUser(external_id="E1"), *creates("E2")]
    outcomes = list(connector.execute(batch, Refs()))
    assert statuses(outcomes) == ["dead", "done"]
    assert outcomes[0].error == "toy: no support for `delete_user` ops"
    assert outcomes[0].calls == 0 and connector.ran == ["E2"]


def test_the_handler_is_chosen_by_op_kind() -> None:
    connector = toy({})
    update = ops.UpdateUser(external_id="E7", changes=(("FirstName", "A", "B"),))
    (outcome,) = connector.execute([update], Refs())
    assert outcome.status is Status.DONE and outcome.key == update.key


def test_two_handlers_for_one_kind_are_refused_when_the_connector_is_built() -> None:
    class Twice(ToyConnector):
        def handlers(self) -> Iterable[Handler]:
            return (*super().handlers(), handles(ops.CreateUser, self._create_user))

    connection = ConnectionConfig(vendor="litmos", base_url="http://127.0.0.1:9", credentials={})
    with pytest.raises(TypeError, match="toy: two handlers for `create_user` ops"):
        Twice(connection, {})


# --------------------------------------------------------------------------- declarations


def test_match_values_come_from_the_fields_the_vendor_declares() -> None:
    user = ToyConnector.remote_user("R1", True, {"login": "ann", "staff_no": "7", "mail": "a@x"})
    assert user.match_value("username") == user.username == "ann"
    assert user.match_value("employee_id") == "7"
    assert user.match_value("email") == user.email == ""  # no field declared: matches none


def test_a_sandbox_run_gets_the_credentials_and_options_the_vendor_declares() -> None:
    connection = ConnectionConfig(
        vendor="litmos",
        base_url="sandbox:",
        credentials={},
        options={"tenant": "mine", "keep": True},
    )
    demo = {"demo_token": "t0k3n", "demo_tenant": "demo", "unrelated": "x"}
    pointed = ToyConnector.sandbox_connection(connection, demo, "http://127.0.0.1:5/api")
    assert pointed.base_url == "http://127.0.0.1:5/api"
    assert {k: v.get_secret_value() for k, v in pointed.credentials.items()} == {"token": "t0k3n"}
    assert pointed.options == {"tenant": "demo", "keep": True}


@pytest.mark.parametrize("vendor", sorted(REGISTRY))
def test_every_registered_vendor_handles_exactly_the_op_kinds_its_profile_prices(
    vendor: str,
) -> None:
    cls = REGISTRY[vendor]
    credentials = {name: "not-used" for name in cls.sandbox_credentials}
    connection = ConnectionConfig(
        vendor=vendor, base_url="http://127.0.0.1:9", credentials=credentials
    )
    client = build_client(vendor=vendor, base_url=connection.base_url, timeout=1, limiter=None)
    with cls(connection, client=client) as connector:
        kinds = {h.kind for h in connector.handlers()}
    assert kinds == set(cls.profile.calls)
    assert cls.match_fields and set(cls.match_fields) <= set(get_args(MatchKey))
    assert cls.sandbox_credentials
