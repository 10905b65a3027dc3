"""A small client for a running simulator's ``/_sandbox`` admin API, for tests and tools.

Tests should drive the simulator the way they drive the vendor, over HTTP, so the admin
handle is an HTTP client too (the sandbox may use httpx; the daemon's own code uses it only
in ``syncd/http.py``). Every method raises ``httpx.HTTPStatusError`` on a refusal, whose
JSON body says what was wrong.
"""

from __future__ import annotations

import ssl
from functools import cache
from types import TracebackType
from typing import Any, Self

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """One default TLS context per process: building one per client costs ~0.1 s."""
    return ssl.create_default_context()


class AdminClient:
    """Wraps ``{base_url}/_sandbox``; vendor-specific endpoints via :meth:`get`/:meth:`post`."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/_sandbox", timeout=timeout, verify=tls_context()
        )

    def get(self, path: str, **params: Any) -> Any:
        """GET an admin endpoint (``path`` relative to ``/_sandbox``) and return its JSON."""
        response = self._http.get(_rel(path), params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, json: Any = None) -> Any:
        """POST JSON to an admin endpoint and return the JSON answer."""
        response = self._http.post(_rel(path), json=json if json is not None else {})
        response.raise_for_status()
        return response.json()

    def info(self) -> dict[str, Any]:
        return self.get("/")

    def counters(self) -> dict[str, Any]:
        """Requests by "METHOD template" and status, by_status, creates, rate_limited, faults."""
        return self.get("/counters")

    def log(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Logged requests after sequence number ``since``, oldest first."""
        params: dict[str, Any] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        return self.get("/log", **params)["entries"]

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the fault settings (see ``FaultSettings``); unnamed knobs go back to 0."""
        return self.post("/faults", settings)

    def clear_faults(self) -> dict[str, Any]:
        return self.post("/faults", {})

    def set_rate(
        self, requests: int, per_seconds: float, *, count_rejected: bool | None = None
    ) -> dict[str, Any]:
        """Set the rate rule at runtime; every window starts empty."""
        body: dict[str, Any] = {"requests": requests, "per_seconds": per_seconds}
        if count_rejected is not None:
            body["count_rejected"] = count_rejected
        return self.post("/rate", body)

    def reset(self, *, data: bool = True) -> dict[str, Any]:
        """Vendor rule, no faults, empty log; ``data=True`` also forgets all vendor data."""
        return self.post("/reset", {"data": data})

    def seed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Load vendor data; the payload format is the vendor's (see its seed docstring)."""
        return self.post("/seed", payload)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _rel(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"
