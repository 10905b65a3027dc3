"""The connector interface's plain values, the registry and the Litmos profile."""

from __future__ import annotations

import pytest

from syncd.config import ConnectionConfig, RateConfig
from syncd.errors import ConfigError
from syncd.limiter import RateRule, forget_limiters
from syncd.plan.model import VendorProfile
from syncd.plan.ops import CreateUser
from syncd.vendors import REGISTRY, connect, connector_class, profile
from syncd.vendors.base import Outcome, Status
from syncd.vendors.litmos import PROFILE, LitmosConnector, wire

OP = CreateUser(external_id="E1", match_value="a@x.test", attrs=(("UserName", "a@x.test"),))


def test_outcome_constructors_carry_the_op_key():
    done = Outcome.done(OP, calls=1, remote_id="R1", detail={"active": True})
    retry = Outcome.retry(OP, "later", calls=0, retry_after=3.0, attempted=False)
    dead = Outcome.dead(OP, "no", calls=1)
    assert (done.key, retry.key, dead.key) == (OP.key,) * 3
    assert (done.status, retry.status, dead.status) == (Status.DONE, Status.RETRY, Status.DEAD)
    assert retry.retry_after == 3.0 and not retry.attempted
    assert str(Status.DONE) == "done"


def test_registry_and_profiles():
    assert REGISTRY["litmos"] is LitmosConnector
    assert profile("litmos") is PROFILE
    assert isinstance(PROFILE, VendorProfile)
    assert sorted(REGISTRY) == ["enabley", "litmos", "scormcloud"]
    with pytest.raises(ConfigError, match="no connector for vendor `moodle`"):
        connector_class("moodle")


def test_litmos_profile_fields_are_in_wire_order_and_costs_match_the_calls_made():
    names = list(PROFILE.default_fields)
    assert names == wire.user_order(names)
    assert PROFILE.default_fields["UserName"] == "{username}"
    assert PROFILE.calls_for("update_user") == 2
    assert PROFILE.calls_for("link_user") == 0
    assert PROFILE.calls_for("add_members") == 1


def test_remote_user_match_values():
    attrs = {"UserName": "u@x.test", "Email": "e@x.test", "ExternalEmployeeId": "E7"}
    user = LitmosConnector.remote_user("R", True, attrs)
    assert (user.username, user.email) == ("u@x.test", "e@x.test")
    assert user.match_value("username") == "u@x.test"
    assert user.match_value("email") == "e@x.test"
    assert user.match_value("employee_id") == "E7"


def connection(**kwargs) -> ConnectionConfig:
    return ConnectionConfig(
        vendor="litmos", base_url="http://127.0.0.1:9/v1.svc", **{"credentials": {}, **kwargs}
    )


def test_missing_api_key_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="credential `api_key` is missing"):
        connect(connection())


def test_limiters_are_shared_per_credential_and_the_stricter_rule_wins():
    forget_limiters()
    try:
        first = connect(connection(credentials={"api_key": "k-1234"}))
        second = connect(
            connection(
                credentials={"api_key": "k-1234"}, rate=RateConfig(requests=50, per_seconds=60)
            )
        )
        assert first.client.limiter is second.client.limiter
        assert first.client.limiter.rule == RateRule(50, 60.0)
        assert LitmosConnector.rate == RateRule(100, 60)
        first.close()
        second.close()
    finally:
        forget_limiters()
