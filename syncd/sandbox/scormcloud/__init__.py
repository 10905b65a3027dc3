"""SCORM Cloud API v2 simulator (``/api/v2``), faithful to the official v2 client's spec.

Built from ``shared/vendor-docs/scormcloud-v2-reference.md`` (paths, parameters, models),
``scormcloud-v2-invitations.txt`` and part A of ``scormcloud-enabley-notes.md`` (recorded
live behaviour: duplicate ids, unknown courses, auth answers, ``more`` paging, async learner
updates). The official Python client ``rustici-software-cloud-v2`` works against it
unchanged apart from its host. ``create_simulator()`` is what ``syncd.sandbox`` and the
``syncd sandbox --vendor scormcloud`` command use; the admin endpoints are described in
:mod:`syncd.sandbox.scormcloud.admin`.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.scormcloud.simulator import (
    DEFAULT_RATE,
    DEMO_APP_ID,
    DEMO_SECRET_KEY,
    ScormCloudSimulator,
)

__all__ = [
    "DEFAULT_RATE",
    "DEMO_APP_ID",
    "DEMO_SECRET_KEY",
    "ScormCloudSimulator",
    "create_simulator",
]


def create_simulator(**kwargs: Any) -> ScormCloudSimulator:
    """A fresh simulator; keyword arguments as :class:`ScormCloudSimulator` takes them
    (``apps``, ``rate``, ``page_size``, ``async_delay``, ``clock``)."""
    return ScormCloudSimulator(**kwargs)
