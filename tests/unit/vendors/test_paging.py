"""Paginators walk to the end and refuse to loop on misbehaving endpoints."""

from __future__ import annotations

import pytest

from syncd.errors import Permanent
from syncd.vendors.paging import OffsetPaginator, PagingError, TokenPaginator


def offset_source(items: list[int], *, ignore_start: bool = False, extra: int = 0):
    calls: list[tuple[int, int]] = []

    def fetch(start: int, limit: int) -> list[int]:
        calls.append((start, limit))
        begin = 0 if ignore_start else start
        return items[begin : begin + limit + extra]

    return fetch, calls


def test_offset_pages_until_a_short_page():
    fetch, calls = offset_source(list(range(25)))
    assert list(OffsetPaginator(fetch, key=lambda i: i, limit=10)) == list(range(25))
    assert calls == [(0, 10), (10, 10), (20, 10)]


def test_offset_full_last_page_costs_one_empty_page():
    fetch, calls = offset_source(list(range(20)))
    assert list(OffsetPaginator(fetch, key=lambda i: i, limit=10)) == list(range(20))
    assert calls[-1] == (20, 10)


def test_offset_endpoint_ignoring_start_raises_instead_of_looping():
    fetch, calls = offset_source(list(range(25)), ignore_start=True)
    pages = OffsetPaginator(fetch, key=lambda i: i, limit=10, what="teams")
    with pytest.raises(PagingError, match="teams: the page at start=10 repeats"):
        list(pages)
    assert len(calls) == 2
    assert issubclass(PagingError, Permanent)


def test_offset_drops_items_repeated_by_shifting_pages():
    pages = {0: [1, 2, 3], 3: [3, 4, 5], 6: [6]}
    got = OffsetPaginator(lambda start, limit: pages[start], key=lambda i: i, limit=3)
    assert list(got) == [1, 2, 3, 4, 5, 6]


def test_offset_page_larger_than_asked_advances_by_its_size():
    fetch, calls = offset_source(list(range(23)), extra=2)
    assert list(OffsetPaginator(fetch, key=lambda i: i, limit=10)) == list(range(23))
    assert [start for start, _ in calls] == [0, 12, 23]


def test_offset_max_pages_guard():
    fetch, _ = offset_source(list(range(1000)))
    with pytest.raises(PagingError, match="more than 3 pages"):
        list(OffsetPaginator(fetch, key=lambda i: i, limit=10, max_pages=3))


def test_token_pages_until_no_token():
    pages = {None: ([1, 2], "a"), "a": ([3], "b"), "b": ([4], None)}
    assert list(TokenPaginator(lambda t: pages[t], key=lambda i: i)) == [1, 2, 3, 4]


def test_token_repeated_raises():
    pages = {None: ([1], "a"), "a": ([2], "a")}
    with pytest.raises(PagingError, match="token repeated"):
        list(TokenPaginator(lambda t: pages[t], key=lambda i: i))


def test_a_bounded_walk_still_drops_an_item_shifted_onto_the_next_page():
    items = list(range(25))

    def fetch(start: int, limit: int) -> list[int]:
        page = items[start : start + limit]
        return [start - 1, *page[:-1]] if start == 10 else page  # 9 shows up again

    walk = list(OffsetPaginator(fetch, key=lambda i: i, limit=10, bounded=True))
    assert walk.count(9) == 1, "the item the vendor shifted onto the next page comes once"


def test_a_bounded_walk_catches_an_endpoint_ignoring_start():
    fetch, calls = offset_source(list(range(25)), ignore_start=True)
    with pytest.raises(PagingError, match="repeats"):
        list(OffsetPaginator(fetch, key=lambda i: i, limit=10, bounded=True))
    assert len(calls) == 2


def test_a_bounded_walk_remembers_one_page_not_the_whole_walk():
    """An item seen two pages back comes again: only its neighbour page is remembered."""
    pages = {0: [0, 1], 2: [2, 3], 4: [0, 5], 6: []}
    walk = list(
        OffsetPaginator(lambda start, limit: pages[start], key=lambda i: i, limit=2, bounded=True)
    )
    assert walk == [0, 1, 2, 3, 0, 5]
    unbounded = list(OffsetPaginator(lambda start, limit: pages[start], key=lambda i: i, limit=2))
    assert unbounded == [0, 1, 2, 3, 5]


def test_a_bounded_token_walk_drops_repeats_of_the_previous_page_only():
    pages = {None: ([1, 2], "a"), "a": ([2, 3], "b"), "b": ([1, 4], None)}
    walk = list(TokenPaginator(lambda token: pages[token], key=lambda i: i, bounded=True))
    assert walk == [1, 2, 3, 1, 4]
