"""``paginationKey`` paging: server-side cursors over a result fixed at the first call.

The reference: the first call returns the first page and, when more items remain, a
``paginationKey``; passing it back returns the next page, whose own key is null on the last
page; an unknown key is a 404. Pages are ``PaginationResponse{currentPage, items, pageSize,
paginationKey, totalPages}``. The simulator snapshots the full result at the first call so a
walk sees one consistent list even while the account changes, and a key may be presented
again (a client retrying after a lost answer gets the same page back).
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from syncd.sandbox.enabley.errors import EnableyError


@dataclass(frozen=True)
class _Cursor:
    kind: str
    rows: tuple[dict[str, Any], ...]
    page: int


class Paginator:
    """Holds the open cursors; at most ``capacity`` of them, the oldest forgotten first."""

    def __init__(self, page_size: int, *, capacity: int = 10_000) -> None:
        self.page_size = page_size
        self._capacity = capacity
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Page 0 of ``rows``; ``kind`` ties later keys to the endpoint that issued them."""
        return self._page(_Cursor(kind, tuple(rows), 0))

    def resume(self, kind: str, key: str) -> dict[str, Any]:
        """The page ``key`` points at; 404 ``not_found`` for a key this endpoint never gave."""
        with self._lock:
            cursor = self._cursors.get(key)
            if cursor is not None:
                self._cursors.move_to_end(key)
        if cursor is None or cursor.kind != kind:
            raise EnableyError(404, "not_found", "paginationKey is invalid or has expired")
        return self._page(cursor)

    def clear(self) -> None:
        """Forget every cursor (the sandbox was reset)."""
        with self._lock:
            self._cursors.clear()

    def _page(self, cursor: _Cursor) -> dict[str, Any]:
        size = self.page_size
        total_pages = math.ceil(len(cursor.rows) / size)
        start = cursor.page * size
        items = list(cursor.rows[start : start + size])
        key = None
        if cursor.page + 1 < total_pages:
            key = secrets.token_urlsafe(18)
            with self._lock:
                self._cursors[key] = _Cursor(cursor.kind, cursor.rows, cursor.page + 1)
                while len(self._cursors) > self._capacity:
                    self._cursors.popitem(last=False)
        return {
            "currentPage": cursor.page,
            "items": items,
            "pageSize": size,
            "paginationKey": key,
            "totalPages": total_pages,
        }
