"""Faithful simulators of each vendor's API, with rate limits, fault knobs and an admin API.

``SIMULATORS`` maps a vendor name to the module holding its simulator; each such module
exposes ``create_simulator()`` returning an object that satisfies
:class:`syncd.sandbox.core.Simulator`. Modules are imported only when asked for, so a
vendor whose simulator is not written yet does not break the others.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.sandbox.core import Simulator

SIMULATORS: dict[str, str] = {
    "litmos": "syncd.sandbox.litmos",
    "scormcloud": "syncd.sandbox.scormcloud",
    "enabley": "syncd.sandbox.enabley",
}


def available() -> list[str]:
    """Vendor names whose simulator package exists in this installation."""
    return [name for name, module in SIMULATORS.items() if importlib.util.find_spec(module)]


def create_simulator(vendor: str) -> Simulator:
    """A fresh simulator for ``vendor``; LookupError names the known and available ones."""
    if vendor not in SIMULATORS:
        raise LookupError(f"unknown sandbox vendor {vendor!r}; known: {', '.join(SIMULATORS)}")
    if vendor not in available():
        raise LookupError(
            f"the {vendor} simulator is not available in this build; "
            f"available: {', '.join(available()) or 'none'}"
        )
    module = importlib.import_module(SIMULATORS[vendor])
    simulator: Simulator = module.create_simulator()
    return simulator
