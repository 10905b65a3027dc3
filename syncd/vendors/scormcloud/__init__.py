"""SCORM Cloud (Rustici, API v2): the connector, its profile and its wire format."""

from syncd.vendors.scormcloud.connector import ScormCloudConnector
from syncd.vendors.scormcloud.profile import PROFILE

__all__ = ["PROFILE", "ScormCloudConnector"]
