"""Litmos self-signup tokens (``vendor-docs/litmos-self-signup-tokens.txt``) as signup links.

A token is found by its code (unique per account, compared ignoring case), which is the
link's identity: syncd never creates a second token with a code it listed. ``GET /tokens``
lists them (paged by ``start``/``limit`` like every Litmos list); ``POST /tokens`` and
``PUT /tokens`` take a ``Tokens`` collection, here always of one token, and answer with it.
An update sends the token complete (WCF keeps nothing it is not sent for certain), in the
documented member order. Litmos documents no activation count: usage is unknown (None).

``TokenExpiration`` travels as ``YYYY-MM-DD HH:MM:SS`` (the documented form, not WCF's
``/Date()/``) and is read back in either; syncd treats it as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syncd.errors import Permanent, Retryable
from syncd.plan.links import DeclaredLink, RemoteLink
from syncd.vendors.litmos import wire

TOKEN_TYPES: Mapping[str, int] = {"course": 1, "team": 2, "learning_path": 3, "collection": 4}
KINDS: Mapping[int, str] = {number: kind for kind, number in TOKEN_TYPES.items()}
FIELDS: tuple[str, ...] = ("code", "kind", "target", "limit", "expires", "active")
"""What a token keeps of a declared link (no tags)."""


def token_key(item: Mapping[str, Any]) -> str:
    """What tells two listed tokens apart across pages."""
    return wire.as_text(wire.get_field(item, "TokenId")) or repr(sorted(item.items()))


def body(link: DeclaredLink) -> dict[str, Any]:
    """One ``Token`` in the documented member order."""
    return {
        "TokenCode": link.code,
        "TokenType": TOKEN_TYPES[link.kind],
        "TokenTypeId": link.target,
        "Active": link.active,
        "MaximumActivations": link.limit,
        "TokenExpiration": _expiration(link.expires),
    }


def _expiration(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def answered(answer: Any, call: str, link: DeclaredLink) -> RemoteLink:
    """The token the answer holds (a one-token collection); without one the write may or
    may not have happened, so the next run's listing decides (never a blind repeat)."""
    tokens = [remote_link(item) for item in wire.as_items(answer)]
    for token in tokens:
        if token.name.casefold() == link.code.casefold() and token.vendor_id:
            return token
    raise Retryable(f"litmos: {call} answered without the token `{link.code}`")


def remote_link(item: Mapping[str, Any]) -> RemoteLink:
    code = wire.as_text(wire.get_field(item, "TokenCode"))
    raw_type = wire.as_text(wire.get_field(item, "TokenType"))
    kind = KINDS.get(int(raw_type)) if raw_type.isdigit() else None
    try:
        expires = wire.parse_date(wire.get_field(item, "TokenExpiration"))
    except ValueError:
        raise Permanent(f"litmos: token `{code}` has an unreadable TokenExpiration") from None
    limit = wire.as_text(wire.get_field(item, "MaximumActivations"))
    return RemoteLink(
        vendor_id=wire.as_text(wire.get_field(item, "TokenId")),
        name=code,
        code=code,
        kind=kind or f"type {raw_type}",
        target=wire.as_text(wire.get_field(item, "TokenTypeId")),
        limit=int(limit) if limit.lstrip("-").isdigit() else 0,
        expires=expires.replace(microsecond=0) if expires else None,
        active=wire.as_bool(wire.get_field(item, "Active")),
    )
