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
from syncd.vendors.litmos import LitmosConnector

if TYPE_CHECKING:
    from syncd.config import ConnectionConfig
    from syncd.plan.model import VendorProfile

REGISTRY: dict[str, type[Connector]] = {
    "litmos": LitmosConnector,
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


def connect(connection: ConnectionConfig) -> Connector:
    """A ready connector for one configured connection, paced by its credential's limiter."""
    return connector_class(connection.vendor)(connection)


__all__ = ["REGISTRY", "Connector", "connect", "connector_class", "profile"]
