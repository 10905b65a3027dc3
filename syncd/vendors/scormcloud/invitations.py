"""SCORM Cloud public invitations (``vendor-docs/scormcloud-v2-invitations.txt``, notes A5)
as signup links: the bodies sent and the answers read back.

An invitation has no key of its own and every ``POST /invitations/public`` makes a new one,
so syncd names its invitations with tags set in the create body itself (one request: there
is no moment where an invitation exists untagged): ``syncd:<connection>`` finds all of a
connection's invitations in one filtered listing, ``syncd:<connection>:<name>`` says which
declared link each one is. The listing does not show tags, so each listed invitation's tags
are read (``GET /invitations/{id}/tags``): 1 + N reads for N links.

Usage is the invitation's ``registrationCount`` (``includeRegistrationCount=true``; the
vendor caches list counts for up to 24 hours). ``PUT /invitations/public/{id}`` changes
only the non-null attributes it is sent, so an expiry once set cannot be taken off, and
the course of an invitation cannot change at all: both are refused with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from syncd.errors import Permanent
from syncd.plan.links import DeclaredLink, RemoteLink
from syncd.vendors.scormcloud.wire import text

FIELDS: tuple[str, ...] = ("target", "limit", "expires", "active", "tags")
"""What a public invitation keeps of a declared link (no kind, no code)."""

OURS = "syncd:"


def owner_tag(owner: str) -> str:
    """The tag on every invitation syncd made for the connection ``owner``."""
    return f"{OURS}{owner}"


def name_tag(owner: str, name: str) -> str:
    """The tag that names the declared link an invitation is."""
    return f"{OURS}{owner}:{name}"


def create_body(owner: str, link: DeclaredLink, creator: str) -> dict[str, Any]:
    """``CreatePublicInvitationSchema``, tagged with syncd's two tags and the declared ones."""
    body: dict[str, Any] = {
        "courseId": link.target,
        "creatingUserEmail": creator,
        "registrationCap": link.limit,
        "tags": [owner_tag(owner), name_tag(owner, link.name), *link.tags],
    }
    if link.expires is not None:
        body["expirationDate"] = stamp(link.expires)
    return body


def update_body(link: DeclaredLink) -> dict[str, Any]:
    """``PublicInvitationUpdateSchema`` with every attribute syncd keeps (each non-null, so
    each is considered)."""
    body: dict[str, Any] = {
        "allowLaunch": link.active,
        "allowNewRegistrations": link.active,
        "registrationCap": link.limit,
    }
    if link.expires is not None:
        body["expirationDate"] = stamp(link.expires)
    return body


def unchangeable(remote: RemoteLink, link: DeclaredLink, fields: Sequence[str]) -> str | None:
    """Why the vendor cannot make ``remote`` what ``link`` declares, or None."""
    if "target" in fields:
        return (
            f"scormcloud: link `{link.name}` is invitation {remote.vendor_id} to course "
            f"{remote.target}; an invitation cannot move to course {link.target}: declare "
            "that course under a new name"
        )
    if "expires" in fields and link.expires is None:
        return (
            f"scormcloud: link `{link.name}` (invitation {remote.vendor_id}) expires "
            f"{stamp(remote.expires)} and SCORM Cloud cannot take an expiry off: set a later "
            "`expires` instead"
        )
    return None


def stamp(moment: datetime | None) -> str:
    """An ISO-8601 UTC date-time, as the API writes them."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(value: Any) -> datetime | None:
    """A date-time of an answer, aware UTC to the second (no offset means UTC)."""
    raw = text(value).strip()
    if not raw:
        return None
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Permanent(f"scormcloud: unreadable date-time `{raw}` in an answer") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def invitations(data: Any) -> list[dict[str, Any]]:
    """The ``invitations`` of a ``PublicInvitationList``."""
    items = data.get("invitations") if isinstance(data, dict) else None
    return [item for item in items or () if isinstance(item, dict)]


def tags_of(data: Any) -> list[str]:
    """The ``tags`` of a ``TagListSchema``."""
    items = data.get("tags") if isinstance(data, dict) else None
    return [text(tag) for tag in items or ()]


def remote_link(
    owner: str, invitation: Mapping[str, Any], tags: Sequence[str], used: int | None
) -> RemoteLink:
    """A listed invitation with its tags: named by its syncd name tag ("" when it has
    none), its own tags those that are not syncd's."""
    prefix = name_tag(owner, "")
    names = [tag[len(prefix) :] for tag in tags if tag.startswith(prefix)]
    cap = invitation.get("registrationCap")
    return RemoteLink(
        vendor_id=text(invitation.get("id")),
        name=names[0] if names else "",
        target=text(invitation.get("courseId")),
        limit=int(cap) if isinstance(cap, int) else 0,
        expires=parse_stamp(invitation.get("expirationDate")),
        active=bool(invitation.get("allowLaunch", True))
        and bool(invitation.get("allowNewRegistrations", True)),
        tags=tuple(sorted({tag for tag in tags if not tag.startswith(OURS)})),
        used=used,
        url=text(invitation.get("url")),
        tagged=True,
    )


def count_of(invitation: Mapping[str, Any]) -> int | None:
    count = invitation.get("registrationCount")
    return count if isinstance(count, int) and not isinstance(count, bool) else None
