"""One connector per LMS behind one interface (:mod:`syncd.vendors.base`); never the DB.

``REGISTRY`` is a literal dict and the one place a vendor is named: adding a vendor is one
module and one line here. Whatever else depends on the vendor (its profile for the plan,
its match fields, its demo credentials for ``sandbox:`` runs) is asked of the class found
here. The contract suite in ``tests/contract`` runs every entry against its simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncd.errors import ConfigError
from syncd.vendors.base import Connector
from syncd.vendors.enabley import EnableyConnector
from syncd.vendors.litmos import LitmosConnector
from syncd.vendors.scormcloud import ScormCloudConnector

if TYPE_CHECKING:
    from syncd.config import Config, ConnectionConfig
    from syncd.plan.model import VendorProfile

REGISTRY: dict[str, type[Connector]] = {
    "enabley": EnableyConnector,
    "litmos": LitmosConnector,
    "scormcloud": ScormCloudConnector,
}


def connector_class(vendor: str) -> type[Connector]:
    """The connector class of ``vendor``; a vendor without one is a configuration error."""
    try:
        return REGISTRY[vendor]
    except KeyError:
        raise ConfigError(
            f"no connector for vendor `{vendor}` yet (have: {', '.join(sorted(REGISTRY))})",
            vendor=vendor,
        ) from None


def profile(vendor: str) -> VendorProfile:
    """What the plan needs to know about ``vendor`` (plain data, see ``syncd.plan.model``)."""
    return connector_class(vendor).profile


def unsupported(config: Config) -> list[str]:
    """Every line of ``config`` that asks a vendor for what it cannot do (or names a vendor
    without a connector), each with its key: what ``syncd config check`` refuses."""
    from syncd.plan.capabilities import refusals

    problems = []
    for name, connection in config.connections.items():
        where = f"connections.{name}"
        if connection.vendor not in REGISTRY:
            have = ", ".join(sorted(REGISTRY))
            problems.append(f"{where}.vendor: no connector for `{connection.vendor}` yet ({have})")
            continue
        problems += refusals(connection, REGISTRY[connection.vendor].profile_for(connection), where)
    return problems


def cautions(config: Config) -> list[str]:
    """What ``syncd config check`` warns about without refusing: a source's
    ``previous_key`` on a connection whose vendor cannot change a person's key."""
    from syncd.plan.capabilities import rekey_caution

    found = []
    for name, connection in config.connections.items():
        if connection.vendor not in REGISTRY or connection.source not in config.sources:
            continue
        profile = REGISTRY[connection.vendor].profile_for(connection)
        if config.sources[connection.source].previous_key and profile.rekey == "none":
            found.append(rekey_caution(profile, f"connections.{name}"))
    return found


def connect(connection: ConnectionConfig) -> Connector:
    """A ready connector for one configured connection, paced by its credential's limiter."""
    return connector_class(connection.vendor)(connection)


__all__ = [
    "REGISTRY",
    "Connector",
    "cautions",
    "connect",
    "connector_class",
    "profile",
    "unsupported",
]
