"""Enabley (Time To Know REST API): the connector, its profile, its wire format and token."""

from syncd.vendors.enabley.connector import EnableyConnector
from syncd.vendors.enabley.profile import PROFILE

__all__ = ["PROFILE", "EnableyConnector"]
