"""Signup links, pure: the declaration from config, the diff against the vendor's links,
and what config asks of a vendor that has no links (or other keys)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from syncd.config import ConnectionConfig, SignupLink
from syncd.errors import ConfigError
from syncd.plan.capabilities import refusals
from syncd.plan.links import (
    Action,
    DeclaredLink,
    RemoteLink,
    expiry,
    link_changes,
    resolve_targets,
)
from syncd.vendors import profile

LATER = datetime(2031, 6, 30, 12, tzinfo=UTC)


def declared(name: str = "safety", **values: object) -> DeclaredLink:
    return DeclaredLink.from_config(
        SignupLink.model_validate({"name": name, "target": "C1", **values})
    )


def remote(name: str = "safety", **values: object) -> RemoteLink:
    fields: dict[str, object] = {
        "vendor_id": f"id-{name}",
        "name": name,
        "target": "C1",
        "code": name,
    }
    fields.update(values)
    return RemoteLink(**fields)  # type: ignore[arg-type]


def test_a_declared_link_not_found_is_created():
    (change,) = link_changes([declared()], [])
    assert (change.name, change.action, change.remote) == ("safety", Action.CREATE, None)


def test_a_declared_link_found_as_it_is_declared_is_left_unchanged():
    (change,) = link_changes([declared(limit=5)], [remote(limit=5)])
    assert (change.action, change.fields) == (Action.UNCHANGED, ())


def test_a_found_link_is_updated_with_exactly_the_fields_that_differ():
    link = declared(limit=5, expires=LATER, active=False)
    (change,) = link_changes([link], [remote(limit=9, expires=LATER, active=True)])
    assert change.action is Action.UPDATE
    assert change.fields == ("limit", "active")
    assert change.remote is not None and change.remote.vendor_id == "id-safety"


def test_only_the_fields_the_vendor_keeps_are_compared():
    link = declared(tags=["b", "a"])
    (change,) = link_changes([link], [remote(tags=())], fields=("target", "limit"))
    assert change.action is Action.UNCHANGED
    (change,) = link_changes([link], [remote(tags=("a", "b"))], fields=("tags",))
    assert change.action is Action.UNCHANGED
    (change,) = link_changes([link], [remote(tags=("a",))], fields=("tags",))
    assert change.fields == ("tags",)


def test_identity_is_the_vendors_key_compared_ignoring_case():
    link = declared("safety", code="JOIN-NOW")
    by_code = [remote("join-now", code="join-now")]
    (change,) = link_changes([link], by_code, identity=lambda d: d.code)
    assert (change.action, change.fields) == (Action.UPDATE, ("code",))
    (change, *rest) = link_changes([link], by_code)
    assert change.action is Action.CREATE and rest == []


def test_remote_links_not_declared_are_never_changed_and_reported_only_when_tagged():
    changes = link_changes(
        [declared()], [remote(), remote("hand-made"), remote("dropped", tagged=True)]
    )
    assert [(c.name, c.action) for c in changes] == [
        ("safety", Action.UNCHANGED),
        ("dropped", Action.NOT_DECLARED),
    ]


def test_a_second_remote_link_of_one_name_is_reported_as_a_duplicate_never_chosen():
    first = remote(vendor_id="one", limit=5)
    second = remote(vendor_id="two", limit=9)
    changes = link_changes([declared(limit=5)], [first, second])
    assert [(c.action, c.remote and c.remote.vendor_id) for c in changes] == [
        (Action.UNCHANGED, "one"),
        (Action.DUPLICATE, "two"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (date(2031, 6, 30), datetime(2031, 6, 30, 23, 59, 59, tzinfo=UTC)),
        (datetime(2031, 6, 30, 12, 0, 0, 999), LATER),
        (datetime.fromisoformat("2031-06-30T14:00:00+02:00"), LATER),
    ],
)
def test_an_expiry_is_utc_to_the_second_and_a_date_lasts_its_whole_day(value, expected):
    assert expiry(value) == expected


def test_a_team_target_given_as_a_group_key_becomes_the_teams_id_in_any_case():
    links = [
        declared("a", kind="team", target="org:Commercial/Sales"),
        declared("b", kind="team", target="ORG:commercial/sales"),
        declared("c", kind="team", target="T-42"),
        declared("d", target="org:Commercial/Sales"),
    ]
    resolved = resolve_targets(links, {"org:Commercial/Sales": "T-7"})
    assert [link.target for link in resolved] == ["T-7", "T-7", "T-42", "org:Commercial/Sales"]


def test_the_code_defaults_to_the_name():
    assert declared("walk-in").code == "walk-in"
    assert declared("walk-in", code="WALK").code == "WALK"


# --------------------------------------------------------------------------- config


def connection(vendor: str, *links: dict[str, object]) -> ConnectionConfig:
    return ConnectionConfig.model_validate(
        {
            "vendor": vendor,
            "base_url": "sandbox:",
            "credentials": {},
            "signup_links": list(links),
        }
    )


def test_links_on_a_vendor_without_them_are_refused_naming_the_key():
    problems = refusals(connection("enabley", {"name": "a", "target": "C1"}), profile("enabley"))
    assert problems == [
        "connection.signup_links: enabley has no self-enrollment links; remove `signup_links` "
        "from this connection"
    ]


def test_keys_of_the_other_vendor_are_refused_naming_link_and_key():
    scorm = connection("scormcloud", {"name": "a", "target": "C1", "kind": "course", "code": "X"})
    assert refusals(scorm, profile("scormcloud"), "connections.sc") == [
        "connections.sc.signup_links[0].kind (a): scormcloud links have no `kind`; remove it",
        "connections.sc.signup_links[0].code (a): scormcloud links have no `code`; remove it",
    ]
    litmos = connection(
        "litmos", {"name": "a", "target": "C1"}, {"name": "b", "target": "C1", "tags": ["x"]}
    )
    assert refusals(litmos, profile("litmos"), "connections.lm") == [
        "connections.lm.signup_links[1].tags (b): litmos links have no `tags`; remove it"
    ]
    both_fine = connection("litmos", {"name": "a", "target": "C1", "kind": "team", "code": "A"})
    assert refusals(both_fine, profile("litmos")) == []


def write_config(tmp_path, links: str) -> str:
    path = tmp_path / "syncd.toml"
    path.write_text(
        '[sources.hris]\npath = "x.csv"\n'
        '[connections.lm]\nvendor = "litmos"\nbase_url = "sandbox:"\ncredentials = {}\n' + links,
        encoding="utf-8",
    )
    return str(path)


def test_config_errors_in_a_link_name_its_index_and_key(tmp_path):
    from syncd.config import load

    links = (
        '[[connections.lm.signup_links]]\nname = "a"\ntarget = "C1"\n'
        '[[connections.lm.signup_links]]\nname = "b"\ntarget = "C1"\nkind = "cohort"\nlimit = -1\n'
        '[[connections.lm.signup_links]]\nname = "A"\ntarget = "C1"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load(write_config(tmp_path, links))
    message = str(raised.value)
    assert "connections.lm.signup_links[1].kind: Input should be" in message
    assert (
        "connections.lm.signup_links[1].limit: Input should be greater than or equal to 0"
        in message
    )
    with pytest.raises(ConfigError) as raised:
        load(write_config(tmp_path, links.replace('kind = "cohort"\nlimit = -1\n', "")))
    assert "connections.lm.signup_links: [2].name `A` is already the name of [0]" in str(
        raised.value
    )
