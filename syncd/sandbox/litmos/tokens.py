"""Self-signup tokens: ``GET/POST/PUT /tokens`` and ``GET /tokens/{id}``.

A token enrols whoever claims it into a course (type 1), team (2), learning path (3) or
collection listing (4); the type must be one of those integers and the target must exist.
Every answer is a ``Tokens`` collection, even for one token.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from syncd.sandbox.litmos import views
from syncd.sandbox.litmos.endpoint import Call, page, paging
from syncd.sandbox.litmos.store import Store, Token
from syncd.sandbox.litmos.wire import (
    LitmosError,
    as_list,
    read_body,
    render_list,
    to_bool,
    to_int,
    to_str,
)

TOKEN_ORDER = (
    "TokenId",
    "TokenCode",
    "TokenType",
    "TokenTypeId",
    "Active",
    "MaximumActivations",
    "TokenExpiration",
)
TYPE_400 = "Token Type must be an integer value of either 1, 2, 3 or 4."
_EXPIRATION = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


def _target_exists(store: Store, kind: int, target: str) -> bool:
    if kind == 1:
        return target in store.courses
    if kind == 2:
        return store.team(target) is not None
    if kind == 3:
        return target in store.paths
    return bool(target)


def _values(store: Store, entry: dict[str, Any], current: Token | None) -> dict[str, Any]:
    try:
        kind = to_int(entry.get("TokenType")) if "TokenType" in entry else None
    except LitmosError:
        raise LitmosError(400, TYPE_400) from None
    kind = kind if kind is not None else (current.type if current else None)
    if kind not in {1, 2, 3, 4}:
        raise LitmosError(400, TYPE_400)
    code = to_str(entry.get("TokenCode"), field="TokenCode", max_length=250)
    code = code if code is not None else (current.code if current else "")
    if not code:
        raise LitmosError(400, "TokenCode is required.")
    target = to_str(entry.get("TokenTypeId"), field="TokenTypeId", max_length=50)
    target = target if target is not None else (current.type_id if current else "")
    if not _target_exists(store, kind, target or ""):
        raise LitmosError(404, f"No item of token type {kind} with id {target} exists.")
    active = to_bool(entry.get("Active"))
    maximum = to_int(entry.get("MaximumActivations"))
    if maximum is not None and maximum < 0:
        raise LitmosError(400, "MaximumActivations must be 0 or more.")
    expiration = to_str(entry.get("TokenExpiration"), field="TokenExpiration")
    if expiration and not _EXPIRATION.match(expiration.strip()):
        raise LitmosError(400, "TokenExpiration must look like YYYY-MM-DD HH:MM:SS.")
    for other in store.tokens.values():
        if other.code.lower() == code.lower() and (current is None or other.id != current.id):
            raise LitmosError(409, "Token code already exists")
    return {
        "code": code,
        "type": kind,
        "type_id": target or "",
        "active": active if active is not None else (current.active if current else True),
        "maximum_activations": (
            maximum if maximum is not None else (current.maximum_activations if current else 0)
        ),
        "expiration": (
            expiration.strip().replace(" ", "T")
            if expiration
            else (current.expiration if current and expiration is None else "")
        ),
    }


async def list_tokens(call: Call) -> Response:
    records = page([views.token(t) for t in call.store.tokens.values()], paging(call))
    return render_list(call.request, "Tokens", "Token", records)


async def get_token(call: Call) -> Response:
    token = call.store.tokens.get(call.path("token_id"))
    if token is None:
        raise LitmosError(404, "Not Found. The record you requested does not exist.")
    return render_list(call.request, "Tokens", "Token", [views.token(token)])


async def create_tokens(call: Call) -> Response:
    """``POST /tokens``: one or more; all are checked before any is created."""
    entries = as_list(await read_body(call.request, root="Tokens", item="Token", order=TOKEN_ORDER))
    if not entries:
        raise LitmosError(400, "Please provide at least one token.")
    store = call.store
    prepared = [_values(store, entry, None) for entry in entries]
    codes = [values["code"].lower() for values in prepared]
    if len(set(codes)) != len(codes):
        raise LitmosError(409, "Token code already exists")
    created = []
    for values in prepared:
        token = Token(id=store.new_id(), **values)
        store.tokens[token.id] = token
        created.append(views.token(token))
    return render_list(call.request, "Tokens", "Token", created, status=201)


async def update_tokens(call: Call) -> Response:
    """``PUT /tokens``: each entry names its ``TokenId``; all are checked first."""
    entries = as_list(await read_body(call.request, root="Tokens", item="Token", order=TOKEN_ORDER))
    if not entries:
        raise LitmosError(400, "Please provide at least one token.")
    store = call.store
    changes = []
    for entry in entries:
        token = store.tokens.get(str(entry.get("TokenId") or ""))
        if token is None:
            raise LitmosError(404, "Not Found. The record you requested does not exist.")
        changes.append((token, _values(store, entry, token)))
    for token, values in changes:
        for name, value in values.items():
            setattr(token, name, value)
    return render_list(call.request, "Tokens", "Token", [views.token(t) for t, _ in changes])
