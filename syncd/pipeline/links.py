"""The signup-links stage: make the vendor's self-enrollment links match the declaration.

Run by the reconcile stage once per connection after the drain, for a real run with
declared links (``[[connections.NAME.signup_links]]``). It lists the vendor's links (with
their usage), diffs them against the declaration (:func:`syncd.plan.links.link_changes`)
and applies the changes, one link at a time: a vendor error on one link is that link's
failure, reported with its one-line reason, and the others go on (the reconcile then ends
as with a dead op). A create is never repeated within a run: when its answer is lost the
next run's listing finds the link and updates it, so a link is never made twice.

Nothing is stored: the vendor's listing is the truth each run, and the report says per
link what was done, with its vendor id, usage, limit, expiry and whether it is open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.config import SignupLink
from syncd.errors import VendorError
from syncd.log import get_logger
from syncd.plan.links import (
    TEAM,
    Action,
    DeclaredLink,
    LinkChange,
    RemoteLink,
    link_changes,
    resolve_targets,
)
from syncd.vendors.base import Connector

log = get_logger("syncd.pipeline.links")

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
FAILED = "failed"
CHECKED = "checked at reconcile"
"""What a dry run reports of each declared link: the vendor is not asked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRow:
    """One link in the report; ``used`` is None when the vendor does not say."""

    name: str
    action: str
    vendor_id: str = ""
    target: str = ""
    used: int | None = None
    limit: int = 0
    expires: datetime | None = None
    active: bool | None = None
    changed: tuple[str, ...] = ()
    url: str = ""
    reason: str = ""

    @property
    def usage(self) -> str:
        """``used / limit`` as shown: ``-`` for an unknown count, ``unlimited`` for 0."""
        used = "-" if self.used is None else str(self.used)
        return f"{used} / {self.limit or 'unlimited'}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, for the ``reconcile.links`` log line."""
        return {
            "name": self.name,
            "action": self.action,
            "vendor_id": self.vendor_id,
            "target": self.target,
            "used": self.used,
            "limit": self.limit,
            "expires": self.expires.isoformat() if self.expires else None,
            "active": self.active,
            "changed": list(self.changed),
            "url": self.url,
            "reason": self.reason,
        }


@dataclass
class LinksReport:
    """What the stage did to each link of one connection, and the vendor calls it cost."""

    rows: list[LinkRow] = field(default_factory=list)
    calls: int = 0

    @property
    def failed(self) -> int:
        return sum(1 for row in self.rows if row.action == FAILED)

    @property
    def writes(self) -> int:
        """Links created or updated."""
        return sum(1 for row in self.rows if row.action in (CREATED, UPDATED))

    def as_dicts(self) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.rows]


def declared_links(links: Iterable[SignupLink]) -> list[DeclaredLink]:
    return [DeclaredLink.from_config(link) for link in links]


def checked(links: Iterable[SignupLink]) -> LinksReport:
    """A dry run's report: the declaration, to be checked by a real reconcile."""
    return LinksReport(
        [
            LinkRow(
                name=link.name,
                action=CHECKED,
                target=link.target,
                limit=link.limit,
                expires=link.expires,
                active=link.active,
            )
            for link in declared_links(links)
        ]
    )


def needs_groups(links: Iterable[SignupLink]) -> bool:
    """Whether a link targets a team, whose group key the mirror turns into a remote id."""
    return any(link.kind == TEAM for link in links)


def sync_links(
    connector: Connector, connection: str, group_remote_ids: Mapping[str, str]
) -> LinksReport:
    """List, diff and apply the connection's declared links; see the module docstring.

    ``group_remote_ids`` maps the group keys the mirror holds to their team ids, for team
    targets given as group keys (``org:Commercial/Sales``).
    """
    config = connector.connection
    report = LinksReport()
    before = connector.client.calls.total
    try:
        declared = resolve_targets(declared_links(config.signup_links), group_remote_ids)
        try:
            remote = list(connector.list_links(connection))
        except VendorError as exc:
            reason = f"cannot list the links: {exc.message}"
            report.rows = [_failed(link, reason) for link in declared]
            return report
        changes = link_changes(
            declared, remote, fields=connector.link_fields, identity=connector.link_identity
        )
        pushed = tuple(f"{grouping}:" for grouping in config.groups)
        for change in changes:
            report.rows.append(_apply(connector, connection, change, pushed))
        return report
    finally:
        report.calls = connector.client.calls.total - before


def _apply(
    connector: Connector, connection: str, change: LinkChange, pushed: Sequence[str]
) -> LinkRow:
    declared, remote = change.declared, change.remote
    if change.action in (Action.NOT_DECLARED, Action.DUPLICATE):
        assert remote is not None
        why = "not declared" if change.action is Action.NOT_DECLARED else "duplicate"
        return _row(remote, name=remote.name or f"({remote.vendor_id})", action=why)
    assert declared is not None
    if change.action is Action.UNCHANGED:
        assert remote is not None
        return _row(remote, name=declared.name, action=UNCHANGED)
    unknown = _unknown_group(declared, pushed)
    if unknown:
        return _failed(declared, unknown)
    try:
        if change.action is Action.CREATE:
            made = connector.create_link(declared, connection)
            log.info("links.created", connection=connection, link=declared.name, id=made.vendor_id)
            return _row(made, name=declared.name, action=CREATED)
        assert remote is not None
        made = connector.update_link(remote, declared, connection)
        log.info(
            "links.updated",
            connection=connection,
            link=declared.name,
            id=remote.vendor_id,
            fields=list(change.fields),
        )
        used = made.used if made.used is not None else remote.used
        return _row(made, name=declared.name, action=UPDATED, used=used, changed=change.fields)
    except VendorError as exc:
        log.warning("links.failed", connection=connection, link=declared.name, error=exc.message)
        return _failed(declared, exc.message, remote)


def _unknown_group(link: DeclaredLink, pushed: Sequence[str]) -> str | None:
    """A team target still spelled as a key of a pushed grouping: that group has no team."""
    if link.kind == TEAM and link.target.startswith(tuple(pushed)):
        return (
            f"link `{link.name}`: group `{link.target}` has no team yet (not in the export, "
            "or its team not created)"
        )
    return None


def _row(
    remote: RemoteLink,
    *,
    name: str,
    action: str,
    used: int | None = None,
    changed: tuple[str, ...] = (),
) -> LinkRow:
    return LinkRow(
        name=name,
        action=action,
        vendor_id=remote.vendor_id,
        target=remote.target,
        used=remote.used if used is None else used,
        limit=remote.limit,
        expires=remote.expires,
        active=remote.active,
        changed=changed,
        url=remote.url,
    )


def _failed(link: DeclaredLink, reason: str, remote: RemoteLink | None = None) -> LinkRow:
    return LinkRow(
        name=link.name,
        action=FAILED,
        vendor_id=remote.vendor_id if remote else "",
        target=link.target,
        used=remote.used if remote else None,
        limit=link.limit,
        expires=link.expires,
        active=link.active,
        reason=reason,
    )
