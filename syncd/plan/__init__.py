"""PURE stage: from a Roster, the configuration and the mirror to an ordered, safe Plan.

``build_plan`` is the entry point; ``effects`` gives the reference meaning of each op on the
mirror; ``hash_attrs`` is how ``attrs_hash`` of a mirror row is computed. This package
imports nothing from ``state``, ``queue``, ``vendors`` or ``http``.
"""

from syncd.plan.apply import apply
from syncd.plan.build import build_plan, check_safeguards, desire
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import Listing, Mirror, Plan, VendorProfile
from syncd.plan.safeguards import SafeguardCheck
from syncd.plan.summary import describe, summarize

__all__ = [
    "Listing",
    "Mirror",
    "Plan",
    "SafeguardCheck",
    "VendorProfile",
    "apply",
    "build_plan",
    "check_safeguards",
    "describe",
    "desire",
    "hash_attrs",
    "summarize",
]
