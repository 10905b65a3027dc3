"""A faithful simulator of the Litmos REST API (``/v1.svc``), built from the vendor docs and
recorded real traffic in ``vendor-docs/litmos-*``."""

from __future__ import annotations

from syncd.sandbox.litmos.simulator import DEMO_API_KEY, DEMO_SOURCE, LitmosSimulator

__all__ = ["DEMO_API_KEY", "DEMO_SOURCE", "LitmosSimulator", "create_simulator"]


def create_simulator() -> LitmosSimulator:
    """A fresh, empty Litmos account with the demo API key."""
    return LitmosSimulator()
