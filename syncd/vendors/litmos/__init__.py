"""Litmos (SAP Litmos LMS, API v1.svc): the connector, its profile and its wire format."""

from syncd.vendors.litmos.connector import LitmosConnector
from syncd.vendors.litmos.profile import PROFILE

__all__ = ["PROFILE", "LitmosConnector"]
