"""What a connection asks of its vendor that the vendor cannot do, as plain messages.

The plan engine never asks a vendor's name: each connector declares its capabilities in its
``VendorProfile`` (groups, hierarchy, learning paths, deactivation, ...), and a connection
whose configuration needs a missing one is refused here, before anything is read or sent:
by ``syncd config check`` (every problem at once) and by the planning path (the first).
"""

from __future__ import annotations

from syncd.config import ConnectionConfig
from syncd.plan.model import VendorProfile


def refusals(
    connection: ConnectionConfig, profile: VendorProfile, where: str = "connection"
) -> list[str]:
    """One line per configured wish the vendor cannot grant, each naming its key."""
    vendor = profile.vendor
    problems = []
    if connection.groups and not profile.groups:
        problems.append(
            f"{where}.groups: {vendor} has no groups to push; remove `groups` from this connection"
        )
    if not profile.learning_paths:
        for index, rule in enumerate(connection.rules):
            if rule.assign.learning_paths:
                problems.append(
                    f"{where}.rules[{index}] ({rule.name}): {vendor} has no learning paths; "
                    "assign courses instead"
                )
    if not profile.deactivation:
        deprovision = connection.deprovision
        for key in ("on_termination", "on_absent"):
            if getattr(deprovision, key) == "deactivate":
                problems.append(
                    f"{where}.deprovision.{key}: {vendor} cannot deactivate an account; "
                    'choose "ignore" (or the vendor\'s own leaver option)'
                )
    problems += _link_refusals(connection, profile, where)
    return problems


_LINK_KEYS = ("kind", "code", "tags")
"""Signup link keys that only some vendors honour (``VendorProfile.signup_link_keys``)."""


def _link_refusals(connection: ConnectionConfig, profile: VendorProfile, where: str) -> list[str]:
    vendor = profile.vendor
    if connection.signup_links and not profile.signup_links:
        return [
            f"{where}.signup_links: {vendor} has no self-enrollment links; "
            "remove `signup_links` from this connection"
        ]
    problems = []
    for index, link in enumerate(connection.signup_links):
        for key in _LINK_KEYS:
            if key in link.model_fields_set and key not in profile.signup_link_keys:
                problems.append(
                    f"{where}.signup_links[{index}].{key} ({link.name}): {vendor} links have "
                    f"no `{key}`; remove it"
                )
    return problems


def rekey_caution(profile: VendorProfile, where: str = "connection") -> str:
    """The warning of a connection whose source names a ``previous_key`` that its vendor
    cannot honour (``VendorProfile.rekey`` "none"). A warning, not a refusal: one source
    feeds every vendor, and the others may need the column."""
    return (
        f"{where}: {profile.vendor} cannot change a person's key (the source's previous_key "
        "is not used here): a person whose key changed is a new person there, and the old "
        "key a leaver"
    )
