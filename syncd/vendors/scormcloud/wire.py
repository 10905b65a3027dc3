"""SCORM Cloud on the wire: registration ids, learner bodies and the answers read back.

A registration id is chosen by the caller and unique per application; a second create with
the same id is refused ``400 Registration with id [..] already exists`` (notes A3, live).
syncd derives it from the person and the course, so a retry after a lost answer asks for
the very same id and can never make a second registration: readable parts (letters, digits,
``-`` and ``_`` only, each cut short) for whoever browses the account, and a hash of the
exact pair so that any characters, and pairs that slug alike, stay distinct.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEARNER_FIELDS: tuple[str, ...] = ("email", "firstName", "lastName")
"""The learner details a registration carries besides its id (``LearnerSchema``)."""

COMPLETED = "COMPLETED"
REGISTRATION_EXISTS = "already exists"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PART = 40


def registration_id(learner_id: str, course_id: str) -> str:
    """``syncd-<learner>-<course>-<hash>``: the same pair always gives the same id."""
    exact = hashlib.sha256(f"{learner_id}\x00{course_id}".encode()).hexdigest()[:12]
    return f"syncd-{_slug(learner_id)}-{_slug(course_id)}-{exact}"


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_")[:_PART] or "x"


def learner(learner_id: str, details: Mapping[str, str]) -> dict[str, str]:
    """A ``LearnerSchema``: the id and every detail field, complete (an absent field would
    keep a stale value, an empty one blanks it: what syncd holds is what is sent)."""
    body = {"id": learner_id}
    for name in LEARNER_FIELDS:
        body[name] = details.get(name, "")
    return body


def text(value: Any) -> str:
    return "" if value is None else str(value)


def registrations(data: Any) -> list[dict[str, Any]]:
    """The ``registrations`` of a ``RegistrationListSchema`` (nothing else is trusted)."""
    items = data.get("registrations") if isinstance(data, dict) else None
    return [item for item in items or () if isinstance(item, dict)]


def more(data: Any) -> str | None:
    """The continuation token of a list answer; None (or empty) on the last page."""
    token = data.get("more") if isinstance(data, dict) else None
    return str(token) if token else None


def learner_of(registration: Mapping[str, Any]) -> dict[str, str]:
    """The learner a listed registration names, as plain strings (id and details)."""
    found = registration.get("learner")
    found = found if isinstance(found, dict) else {}
    return {"id": text(found.get("id")), **{f: text(found.get(f)) for f in LEARNER_FIELDS}}


def course_of(registration: Mapping[str, Any]) -> str:
    found = registration.get("course")
    return text(found.get("id")) if isinstance(found, dict) else ""


def completed(registration: Mapping[str, Any]) -> bool:
    return text(registration.get("registrationCompletion")).upper() == COMPLETED


@dataclass(frozen=True)
class Sent:
    """What a private invitation's send job did with each address it was given.

    ``failed``: address -> the job's reason, for addresses that got no registration;
    ``existing``: addresses whose registration for the course existed already (refused
    under ``duplicateRegistrationOption=FAIL``: the goal holds); ``unplaced``: errors that
    name none of the addresses (a job-wide reason)."""

    invitation_id: str
    failed: Mapping[str, str]
    existing: frozenset[str]
    unplaced: tuple[str, ...]


def invitation_outcome(
    invitation_id: str, addresses: Sequence[str], complete: bool, errors: Sequence[str]
) -> Sent:
    """Each address's fate from ``InvitationJobStatusSchema`` (``status``, ``errors``).

    The schema's errors are plain texts; one that names an address (as a whole, compared
    case-blind) is about that address, and one saying the registration ``already exists``
    means it is there. An address no error names was sent when the job is ``COMPLETE``;
    when it ended ``ERROR`` or ``CANCELLED`` it failed with the job-wide errors."""
    failed: dict[str, str] = {}
    existing: set[str] = set()
    named: set[int] = set()
    for address in addresses:
        pattern = re.compile(rf"(?<![\w.+@-]){re.escape(address)}(?![\w.+@-])", re.IGNORECASE)
        mine = [n for n, error in enumerate(errors) if pattern.search(error)]
        named.update(mine)
        if mine and all(REGISTRATION_EXISTS in errors[n].lower() for n in mine):
            existing.add(address)
        elif mine:
            failed[address] = "; ".join(errors[n] for n in mine)
    unplaced = tuple(error for n, error in enumerate(errors) if n not in named)
    if not complete:
        reason = "; ".join(unplaced) or "the send job ended without sending"
        for address in addresses:
            if address not in existing and address not in failed:
                failed[address] = reason
    return Sent(invitation_id, failed, frozenset(existing), unplaced)
