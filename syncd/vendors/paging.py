"""Walk a vendor's list pages to the end, and refuse to walk in circles.

Vendors page in two ways: by offset (``start``/``limit``: Litmos) and by continuation token
(SCORM Cloud's ``more``, Enabley's ``paginationKey``). Both are tiny objects here, given a
``fetch`` function, so a connector declares *how* it pages and never writes the loop.

The guards exist because real APIs misbehave: an endpoint that ignores ``start`` returns
the first page forever; a page may hold more items than asked for; records inserted while
paging shift later pages so one item appears twice; a token may come back unchanged. Items
already seen (by ``key``) are dropped; a page that brings nothing new although it is full,
or a token seen before, raises :class:`PagingError` rather than looping, and rather than
silently returning a partial listing that a full reconcile would misread.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from syncd.errors import Permanent

T = TypeVar("T")


class PagingError(Permanent):
    """The vendor's pages do not advance; listing further would loop or be incomplete."""


@dataclass(frozen=True)
class OffsetPaginator(Generic[T]):
    """``fetch(start, limit)`` pages until a short or empty page.

    ``key`` identifies an item (e.g. its ``Id``) for de-duplication; ``max_pages`` is the
    last line of defence against an endpoint that never ends.
    """

    fetch: Callable[[int, int], Sequence[T]]
    key: Callable[[T], Hashable]
    limit: int = 1000
    max_pages: int = 100_000
    what: str = "list"
    bounded: bool = False
    """Remember only the previous page's items, not the whole walk's: for reads whose
    repeats are harmless (result pulls, upserted), so a walk of a million rows holds one
    page of keys. An item shifted onto the next page is still dropped, and an endpoint
    that ignores ``start`` is still caught."""

    def __iter__(self) -> Iterator[T]:
        seen: set[Hashable] = set()
        start = 0
        for _ in range(self.max_pages):
            page = self.fetch(start, self.limit)
            if not page:
                return
            fresh = 0
            earlier = seen
            if self.bounded:
                seen = set()
            for item in page:
                ident = self.key(item)
                if ident in earlier or ident in seen:
                    continue
                seen.add(ident)
                fresh += 1
                yield item
            if len(page) < self.limit:
                return
            if fresh == 0:
                raise PagingError(
                    f"{self.what}: the page at start={start} repeats earlier items; "
                    "the endpoint does not seem to honour `start`",
                    start=start,
                )
            start += len(page)
        raise PagingError(f"{self.what}: more than {self.max_pages} pages", pages=self.max_pages)


@dataclass(frozen=True)
class TokenPaginator(Generic[T]):
    """``fetch(token)`` -> (items, next token); the first call gets None, the last returns none.

    Ends when the next token is empty; a token that repeats is an error.
    """

    fetch: Callable[[str | None], tuple[Sequence[T], str | None]]
    key: Callable[[T], Hashable]
    max_pages: int = 100_000
    what: str = "list"
    bounded: bool = False
    """As :attr:`OffsetPaginator.bounded`: remember only the previous page's items."""

    def __iter__(self) -> Iterator[T]:
        seen: set[Hashable] = set()
        tokens: set[str] = set()
        token: str | None = None
        for _ in range(self.max_pages):
            items, token = self.fetch(token)
            earlier = seen
            if self.bounded:
                seen = set()
            for item in items:
                ident = self.key(item)
                if ident not in earlier and ident not in seen:
                    seen.add(ident)
                    yield item
            if not token:
                return
            if token in tokens:
                raise PagingError(f"{self.what}: continuation token repeated", token_seen=True)
            tokens.add(token)
        raise PagingError(f"{self.what}: more than {self.max_pages} pages", pages=self.max_pages)
