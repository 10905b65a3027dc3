"""Pure parts of the SCORM Cloud simulator: wire formats, listing and ``more``, the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncd.sandbox.scormcloud import listing
from syncd.sandbox.scormcloud.auth import Caller
from syncd.sandbox.scormcloud.model import Store
from syncd.sandbox.scormcloud.wire import (
    ApiError,
    format_datetime,
    parse_bool,
    parse_csv,
    parse_datetime,
)
from tests.unit.sandbox.kit import FakeClock

# --------------------------------------------------------------------------- wire


def test_format_datetime_is_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2024, 5, 1, 14, 30, 0, 250_999, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(moment) == "2024-05-01T12:30:00.250Z"
    assert format_datetime(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00.250Z", datetime(2024, 5, 1, 12, 30, 0, 250_000, tzinfo=UTC)),
        ("2024-05-01T14:30:00+02:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        # no offset: "defaults to UTC" (the Python client sends naive isoformat())
        ("2024-05-01T12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime_accepts_iso_forms(text: str, expected: datetime) -> None:
    assert parse_datetime(text, field="since") == expected


def test_parse_datetime_names_the_field() -> None:
    with pytest.raises(ApiError) as caught:
        parse_datetime("yesterday", field="since")
    assert caught.value.status == 400
    assert "since" in caught.value.message and "yesterday" in caught.value.message


def test_parse_bool_and_csv() -> None:
    assert parse_bool("True", field="x") is True
    assert parse_bool("false", field="x") is False
    assert parse_bool(None, field="x") is False
    with pytest.raises(ApiError):
        parse_bool("yes please", field="includeRuntime")
    assert parse_csv("a, b,,c") == ["a", "b", "c"]
    assert parse_csv(None) == []


# --------------------------------------------------------------------------- listing


@dataclass
class Item:
    id: str
    seq: int
    created: datetime
    tags: list[str] = field(default_factory=list)
    group: str = "g"


def _spec() -> listing.ListSpec[Item]:
    return listing.ListSpec(
        kind="items",
        datetime_fields={"created": lambda i: i.created, "updated": lambda i: i.created},
        default_datetime_filter="created",
        filter_by={"item_id": lambda i: [i.id], "tags": lambda i: i.tags},
        default_filter_by="item_id",
        order_by={
            "created": lambda i: listing.datetime_key(i.created),
            "id": lambda i: listing.text_key(i.id),
        },
        default_order_by="created_asc",
        tags=lambda i: i.tags,
        exact={"group": lambda i: i.group},
    )


T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", seq=k, created=T0 + timedelta(minutes=k)) for k in range(n)]


def _walk(items: list[Item], raw: dict[str, str], size: int) -> list[str]:
    spec = _spec()
    seen: list[str] = []
    query = listing.read_query(spec, raw)
    while True:
        page = listing.run(spec, query, items, page_size=size)
        seen.extend(i.id for i in page.items)
        if page.more is None:
            return seen
        query = listing.read_query(spec, {"more": page.more})


def test_more_pages_to_the_end_without_repeats() -> None:
    items = _items(10)
    assert _walk(items, {}, 3) == [f"i{k}" for k in range(10)]
    assert _walk(items, {"orderBy": "created_desc"}, 4) == [f"i{k}" for k in reversed(range(10))]


def test_exact_page_size_multiple_gives_no_empty_last_page() -> None:
    spec = _spec()
    items = _items(6)
    first = listing.run(spec, listing.read_query(spec, {}), items, page_size=3)
    assert first.more is not None
    second = listing.run(spec, listing.read_query(spec, {"more": first.more}), items, page_size=3)
    assert [i.id for i in second.items] == ["i3", "i4", "i5"]
    assert second.more is None


def test_more_keeps_original_filters_and_survives_inserts_between_pages() -> None:
    spec = _spec()
    items = _items(8)
    for item in items[::2]:
        item.tags = ["even"]
    query = listing.read_query(spec, {"tags": "even"})
    first = listing.run(spec, query, items, page_size=2)
    assert [i.id for i in first.items] == ["i0", "i2"]
    # An item created before the cursor appears between pages: keyset paging skips it and
    # neither repeats nor shifts what follows.
    items.append(Item(id="late", seq=99, created=T0 - timedelta(days=1), tags=["even"]))
    assert first.more is not None
    second = listing.run(spec, listing.read_query(spec, {"more": first.more}), items, page_size=2)
    assert [i.id for i in second.items] == ["i4", "i6"]


def test_more_refuses_other_filter_parameters_but_allows_include_switches() -> None:
    spec = _spec()
    first = listing.run(spec, listing.read_query(spec, {}), _items(5), page_size=2)
    assert first.more is not None
    with pytest.raises(ApiError) as caught:
        listing.read_query(spec, {"more": first.more, "since": "2024-01-01"})
    assert caught.value.status == 400 and "since" in caught.value.message
    query = listing.read_query(spec, {"more": first.more, "includeTotalCount": "true"})
    assert query.after is not None


@pytest.mark.parametrize("token", ["garbage!!", "eyJ4IjogMX0"])
def test_bad_more_token_is_400(token: str) -> None:
    with pytest.raises(ApiError) as caught:
        listing.read_query(_spec(), {"more": token})
    assert caught.value.status == 400


def test_token_of_another_list_is_refused() -> None:
    spec = _spec()
    page = listing.run(spec, listing.read_query(spec, {}), _items(5), page_size=2)
    other = listing.ListSpec(
        kind="others",
        datetime_fields=spec.datetime_fields,
        default_datetime_filter="created",
        filter_by=spec.filter_by,
        default_filter_by="item_id",
        order_by=spec.order_by,
        default_order_by="created_asc",
    )
    assert page.more is not None
    with pytest.raises(ApiError):
        listing.read_query(other, {"more": page.more})


def test_since_until_inclusive_and_filters() -> None:
    items = _items(6)
    items[1].group = "other"
    items[4].tags = ["x"]
    spec = _spec()

    def ids(raw: dict[str, str]) -> list[str]:
        return [
            i.id
            for i in listing.run(spec, listing.read_query(spec, raw), items, page_size=50).items
        ]

    since, until = format_datetime(items[1].created), format_datetime(items[3].created)
    assert since and until
    assert ids({"since": since, "until": until}) == ["i1", "i2", "i3"]
    assert ids({"group": "other"}) == ["i1"]
    assert ids({"tags": "nope,x"}) == ["i4"]
    assert ids({"filter": "I5"}) == ["i5"]
    assert ids({"filter": "x", "filterBy": "tags"}) == ["i4"]
    assert ids({"orderBy": "id_desc"})[0] == "i5"


@pytest.mark.parametrize(
    "raw",
    [
        {"datetimeFilter": "launched"},
        {"filterBy": "colour"},
        {"orderBy": "created"},
        {"orderBy": "size_asc"},
        {"since": "not a date"},
        {"includeTotalCount": "maybe"},
    ],
)
def test_invalid_list_parameters_are_400(raw: dict[str, str]) -> None:
    with pytest.raises(ApiError) as caught:
        listing.read_query(_spec(), raw)
    assert caught.value.status == 400
    assert next(iter(raw)) in caught.value.message


def test_total_only_on_initial_request_when_asked() -> None:
    spec = _spec()
    items = _items(5)
    first = listing.run(
        spec, listing.read_query(spec, {"includeTotalCount": "true"}), items, page_size=2
    )
    assert first.total == 5 and first.more is not None
    later = listing.run(spec, listing.read_query(spec, {"more": first.more}), items, page_size=2)
    assert later.total is None
    assert listing.run(spec, listing.read_query(spec, {}), items, page_size=2).total is None


# --------------------------------------------------------------------------- store


def test_stamps_are_strictly_increasing_whole_milliseconds() -> None:
    clock = FakeClock(datetime(2024, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC))
    store = Store(clock=clock)
    first, second = store.stamp(), store.stamp()
    assert first == datetime(2024, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)
    assert second == first + timedelta(milliseconds=1)


def test_deferred_actions_run_when_due_or_flushed() -> None:
    clock = FakeClock()
    store = Store(clock=clock, async_delay=5)
    ran: list[str] = []
    with store.app("A"):
        store.defer(lambda: ran.append("first"))
    with store.app("A"):
        assert ran == []
    clock.advance(5)
    with store.app("A"):
        assert ran == ["first"]
    with store.app("A"):
        store.defer(lambda: ran.append("second"))
    assert store.pending() == 1
    assert store.flush() == 1
    assert ran == ["first", "second"] and store.pending() == 0


def test_caller_scopes() -> None:
    basic = Caller("A", None)
    token = Caller("A", frozenset({"read:registration", "write"}))
    assert basic.allows("delete:course")
    assert token.allows("read:registration")
    assert token.allows("write:invitation")  # coarse "write" covers it
    assert not token.allows("read:course")
    assert token.allows(None)
