"""List endpoints: filters, ordering and the opaque ``more`` continuation token.

Every SCORM Cloud list works the same way: filters (``since``/``until`` inclusive on the
field ``datetimeFilter`` names, ``tags`` matching any, ``filter`` on the field ``filterBy``
names, ``orderBy``) and a ``more`` token when results remain. "When passing this token, no
other filter parameters can be sent as part of the request. The resources will continue to
respect the filters passed in by the original request." So the token carries the original
parameters and the sort key of the last item served; the next page is every item after that
key in the same order (keyset paging, so items created between pages neither repeat nor
shift the page). The page size is not documented; it is a simulator setting.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from syncd.sandbox.scormcloud.wire import (
    bad_request,
    format_datetime,
    parse_bool,
    parse_csv,
    parse_datetime,
)


class _Sequenced(Protocol):
    """Listed items carry an insertion number, the tie-breaker of every order."""

    seq: int


T = TypeVar("T", bound=_Sequenced)

# Parameters that never restrict the result set: allowed beside ``more``.
_SHAPE_PREFIX = "include"


@dataclass(frozen=True)
class ListSpec(Generic[T]):
    """How one list endpoint filters and orders its items."""

    kind: str
    datetime_fields: Mapping[str, Callable[[T], datetime]]
    default_datetime_filter: str
    filter_by: Mapping[str, Callable[[T], Sequence[str | None]]]
    default_filter_by: str
    order_by: Mapping[str, Callable[[T], str]]
    default_order_by: str
    tags: Callable[[T], Sequence[str]] | None = None
    exact: Mapping[str, Callable[[T], str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """A parsed list request: the original parameters and where the page starts."""

    params: dict[str, str]
    after: tuple[str, int] | None
    initial: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    more: str | None
    total: int | None


def read_query(spec: ListSpec[Any], raw: Mapping[str, str], *, scope: str = "") -> Query:
    """Turn request parameters (with or without ``more``) into a validated ``Query``."""
    token = raw.get("more")
    shape = {k: v for k, v in raw.items() if k.startswith(_SHAPE_PREFIX)}
    if token is None or token == "":
        params = {k: v for k, v in raw.items() if k != "more"}
        _validate(spec, params)
        return Query(params=params, after=None, initial=True)
    extra = sorted(k for k in raw if k != "more" and not k.startswith(_SHAPE_PREFIX))
    if extra:
        raise bad_request(
            "No other filter parameters can be sent with 'more'; got: " + ", ".join(extra)
        )
    kind, token_scope, params, after = _decode(token)
    if kind != spec.kind or token_scope != scope:
        raise bad_request("The 'more' token does not belong to this list")
    params.update(shape)
    _validate(spec, params)
    return Query(params=params, after=after, initial=False)


def run(
    spec: ListSpec[T], query: Query, items: Sequence[T], *, page_size: int, scope: str = ""
) -> Page[T]:
    """Filter, order and cut one page; the token is set only when items remain."""
    matched = [item for item in items if _matches(spec, query.params, item)]
    order = query.params.get("orderBy") or spec.default_order_by
    base, descending = _split_order(order)
    key_of = spec.order_by[base]

    def key(item: T) -> tuple[str, int]:
        return (key_of(item), item.seq)

    ordered = sorted(matched, key=key, reverse=descending)
    if query.after is not None:
        after = query.after
        ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
    chunk = ordered[:page_size]
    more = None
    if len(ordered) > page_size:
        params = {k: v for k, v in query.params.items() if not k.startswith(_SHAPE_PREFIX)}
        more = _encode(spec.kind, scope, params, key(chunk[-1]))
    total = len(matched) if query.initial and _include_total(query) else None
    return Page(items=chunk, more=more, total=total)


def flag(query: Query, name: str) -> bool:
    """Read one of the ``include...`` switches of the request."""
    return parse_bool(query.params.get(name), field=name)


def datetime_key(moment: datetime | None) -> str:
    """Sort key of a timestamp: the printed form sorts chronologically (fixed width, UTC)."""
    return format_datetime(moment) or ""


def text_key(value: str | None) -> str:
    """Sort key of a text field: case-insensitive, missing first."""
    return (value or "").casefold()


def _include_total(query: Query) -> bool:
    return parse_bool(query.params.get("includeTotalCount"), field="includeTotalCount")


def _split_order(order: str) -> tuple[str, bool]:
    base, _, direction = order.rpartition("_")
    return base, direction == "desc"


def _validate(spec: ListSpec[Any], params: Mapping[str, str]) -> None:
    for name in ("since", "until"):
        if params.get(name):
            parse_datetime(params[name], field=name)
    dtf = params.get("datetimeFilter")
    if dtf and dtf not in spec.datetime_fields:
        raise bad_request(
            f"Invalid value for 'datetimeFilter': '{dtf}'; expected one of "
            + ", ".join(spec.datetime_fields)
        )
    filter_by = params.get("filterBy")
    if filter_by and filter_by not in spec.filter_by:
        raise bad_request(
            f"Invalid value for 'filterBy': '{filter_by}'; expected one of "
            + ", ".join(spec.filter_by)
        )
    order = params.get("orderBy")
    if order:
        base, _ = _split_order(order)
        if base not in spec.order_by or not order.endswith(("_asc", "_desc")):
            allowed = [f"{b}_{d}" for b in spec.order_by for d in ("asc", "desc")]
            raise bad_request(
                f"Invalid value for 'orderBy': '{order}'; expected one of " + ", ".join(allowed)
            )
    for name, value in params.items():
        if name.startswith(_SHAPE_PREFIX):
            parse_bool(value, field=name)


def _matches(spec: ListSpec[T], params: Mapping[str, str], item: T) -> bool:
    for name, getter in spec.exact.items():
        wanted = params.get(name)
        if wanted and getter(item) != wanted:
            return False
    stamp = spec.datetime_fields[params.get("datetimeFilter") or spec.default_datetime_filter]
    if params.get("since") and stamp(item) < parse_datetime(params["since"], field="since"):
        return False
    if params.get("until") and stamp(item) > parse_datetime(params["until"], field="until"):
        return False
    wanted_tags = parse_csv(params.get("tags"))
    if wanted_tags and spec.tags is not None and not set(wanted_tags) & set(spec.tags(item)):
        return False
    needle = params.get("filter")
    if needle:
        values = spec.filter_by[params.get("filterBy") or spec.default_filter_by](item)
        lowered = needle.casefold()
        if not any(v and lowered in v.casefold() for v in values):
            return False
    return True


def _encode(kind: str, scope: str, params: dict[str, str], after: tuple[str, int]) -> str:
    payload = json.dumps({"k": kind, "s": scope, "p": params, "a": list(after)}, sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(token: str) -> tuple[str, str, dict[str, str], tuple[str, int]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = (str(data["a"][0]), int(data["a"][1]))
        params = {str(k): str(v) for k, v in dict(data["p"]).items()}
        return str(data["k"]), str(data["s"]), params, after
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error):
        raise bad_request("Invalid 'more' token") from None
