"""Self-enrollment links kept as declared: what the vendor must be told, as plain values.

A connection declares its links (``[[connections.NAME.signup_links]]``); the vendor holds
links of its own. :func:`link_changes` pairs them by identity and says, per link, whether
to create it, update the fields that differ, or leave it. It never deletes and never
creates a link it found: a declared link found at the vendor is updated, a link at the
vendor that is not declared is left alone (and reported when it carries syncd's tag, so
that a link dropped from the configuration is noticed rather than silently kept open).

The identity is the vendor's: Litmos tokens are found by their code, SCORM Cloud public
invitations (which have no key of their own; every POST makes a new one) by the tag
``syncd:<connection>:<name>`` syncd puts on each invitation it creates. The connector says
which (``identity``) and which fields it keeps (``fields``); nothing here names a vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.config import SignupLink

LINK_FIELDS: tuple[str, ...] = ("code", "kind", "target", "limit", "expires", "active", "tags")
"""Every field a link may keep; a connector keeps a subset (``Connector.link_fields``)."""

TEAM = "team"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredLink:
    """One link as the configuration wants it (``expires`` aware UTC, whole seconds)."""

    name: str
    target: str
    kind: str = "course"
    code: str = ""
    limit: int = 0
    expires: datetime | None = None
    active: bool = True
    tags: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, link: SignupLink) -> DeclaredLink:
        return cls(
            name=link.name,
            target=link.target,
            kind=link.kind,
            code=link.code or link.name,
            limit=link.limit,
            expires=expiry(link.expires),
            active=link.active,
            tags=tuple(sorted(set(link.tags))),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteLink:
    """One link as the vendor holds it.

    ``name`` is its identity as the vendor shows it (a Litmos token code, the name in a
    SCORM Cloud invitation's syncd tag); ``tagged`` says it carries syncd's tag (made by
    syncd, so worth reporting when no longer declared). ``used`` is how many signed up
    through it so far, None when the vendor does not say (Litmos lists no activations).
    """

    vendor_id: str
    name: str
    target: str
    kind: str = "course"
    code: str = ""
    limit: int = 0
    expires: datetime | None = None
    active: bool = True
    tags: tuple[str, ...] = ()
    used: int | None = None
    url: str = ""
    tagged: bool = False


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    NOT_DECLARED = "not declared"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class LinkChange:
    """What one link needs: ``fields`` are those an update must change (LINK_FIELDS order)."""

    name: str
    action: Action
    declared: DeclaredLink | None = None
    remote: RemoteLink | None = None
    fields: tuple[str, ...] = ()


def expiry(value: date | datetime | None) -> datetime | None:
    """A configured expiry as an aware UTC datetime to the second: a date lasts to the end
    of that day, a naive date and time is UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(23, 59, 59))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def resolve_targets(
    declared: Iterable[DeclaredLink], group_remote_ids: Mapping[str, str]
) -> list[DeclaredLink]:
    """Team targets given as group keys (``org:Commercial/Sales``) as the team's remote id.

    A key the mirror holds in another case is the same group (teams match case-blind); a
    target that is no known key is taken as a team id as written.
    """
    folded = {key.casefold(): remote for key, remote in group_remote_ids.items()}
    resolved = []
    for link in declared:
        if link.kind == TEAM:
            remote = group_remote_ids.get(link.target) or folded.get(link.target.casefold())
            if remote:
                link = _with_target(link, remote)
        resolved.append(link)
    return resolved


def _with_target(link: DeclaredLink, target: str) -> DeclaredLink:
    return DeclaredLink(
        name=link.name,
        target=target,
        kind=link.kind,
        code=link.code,
        limit=link.limit,
        expires=link.expires,
        active=link.active,
        tags=link.tags,
    )


def by_name(link: DeclaredLink) -> str:
    """The identity of a declared link that the vendor finds by syncd's name (a tag)."""
    return link.name


def differing(declared: DeclaredLink, remote: RemoteLink, fields: Sequence[str]) -> tuple[str, ...]:
    """The kept ``fields`` whose remote value is not the declared one (LINK_FIELDS order)."""
    return tuple(
        name
        for name in LINK_FIELDS
        if name in fields and _value(declared, name) != _value(remote, name)
    )


def _value(link: DeclaredLink | RemoteLink, name: str) -> object:
    value = getattr(link, name)
    if name == "tags":
        return tuple(sorted(set(value)))
    return value


def link_changes(
    declared: Sequence[DeclaredLink],
    remote: Iterable[RemoteLink],
    *,
    fields: Sequence[str] = LINK_FIELDS,
    identity: Callable[[DeclaredLink], str] = by_name,
) -> list[LinkChange]:
    """One change per declared link (in declared order), then one per remote link syncd
    tagged that no declaration claims, and one per second remote link of a declared name.

    Identities compare case-blind (Litmos token codes are unique ignoring case). Of two
    remote links with one identity the first listed is the declared one's.
    """
    found: dict[str, RemoteLink] = {}
    extra: list[LinkChange] = []
    for listed in remote:
        key = listed.name.casefold()
        if key in found:
            extra.append(LinkChange(listed.name, Action.DUPLICATE, remote=listed))
        else:
            found[key] = listed
    changes: list[LinkChange] = []
    claimed: set[str] = set()
    for link in declared:
        key = identity(link).casefold()
        claimed.add(key)
        held = found.get(key)
        if held is None:
            changes.append(LinkChange(link.name, Action.CREATE, declared=link))
            continue
        diff = differing(link, held, fields)
        action = Action.UPDATE if diff else Action.UNCHANGED
        changes.append(LinkChange(link.name, action, declared=link, remote=held, fields=diff))
    for key, held in found.items():
        if key not in claimed and held.tagged:
            changes.append(LinkChange(held.name, Action.NOT_DECLARED, remote=held))
    for change in extra:
        assert change.remote is not None
        if change.name.casefold() in claimed or change.remote.tagged:
            changes.append(change)
    return changes
