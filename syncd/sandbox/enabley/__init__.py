"""A faithful simulator of the Enabley (Time To Know) REST API.

Built from ``shared/vendor-docs/enabley-api.txt`` and part B of
``scormcloud-enabley-notes.md``: JWT bearer tokens from ``POST /api/v1/token``, users,
groups, channels, performance and certificates with the documented paths, parameters,
status codes and ``ErrorResponse`` bodies. Where the documents are silent the choice made is
written down in the module that makes it (see :mod:`.errors` for status codes,
:mod:`.simulator` for the rate limit, :mod:`.paging` for ``paginationKey``).

    from syncd.sandbox.core import build_app
    from syncd.sandbox.enabley import create_simulator

    app = build_app(create_simulator(), admin=True)
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.enabley.simulator import EnableySimulator

__all__ = ["EnableySimulator", "create_simulator"]


def create_simulator(**kwargs: Any) -> EnableySimulator:
    """A fresh simulator; keyword arguments as :class:`EnableySimulator` takes them."""
    return EnableySimulator(**kwargs)
