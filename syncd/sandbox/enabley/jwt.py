"""HS256 JSON Web Tokens built from the standard library (base64url + hmac).

Enabley hands out a JWT bearer token from ``POST /api/v1/token``; the simulator issues real,
verifiable tokens so a client that decodes or caches them meets the same thing it would in
production. Only HS256 is accepted: a token claiming any other ``alg`` (including ``none``)
is invalid, which closes the classic algorithm-confusion hole.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


class InvalidToken(Exception):
    """The token is malformed, badly signed, not HS256, or past its ``exp``."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("token segment is not base64url") from exc


def _json_segment(text: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidToken("token segment is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("token segment is not a JSON object")
    return value


def encode(claims: dict[str, Any], key: bytes) -> str:
    """Sign ``claims`` with HS256 and return the compact ``header.payload.signature`` form."""
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = _b64encode(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def decode(token: str, key: bytes, *, now: float) -> dict[str, Any]:
    """Verify ``token`` and return its claims; an ``exp`` at or before ``now`` is expired."""
    if not token.isascii():
        raise InvalidToken("token is not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidToken("token is not three dot-separated segments")
    header = _json_segment(parts[0])
    if header.get("alg") != "HS256":
        raise InvalidToken("token algorithm is not HS256")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64decode(parts[2])):
        raise InvalidToken("token signature does not match")
    claims = _json_segment(parts[1])
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("token has no numeric exp claim")
    if exp <= now:
        raise InvalidToken("token has expired")
    return claims
