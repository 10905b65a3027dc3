"""UTCDateTime: aware in, aware UTC out, naive refused; checked per dialect without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from syncd.state.models import UTCDateTime

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_sqlite_stores_utc_wall_time_and_reads_it_back_aware():
    kind, dialect = UTCDateTime(), sqlite.dialect()
    stored = kind.process_bind_param(datetime(2026, 7, 1, 14, 30, tzinfo=PARIS_SUMMER), dialect)
    assert stored == datetime(2026, 7, 1, 12, 30)
    assert stored.tzinfo is None
    assert kind.process_result_value(stored, dialect) == datetime(2026, 7, 1, 12, 30, tzinfo=UTC)


def test_postgres_gets_aware_utc_and_results_are_normalised_to_utc():
    kind, dialect = UTCDateTime(), postgresql.dialect()
    stored = kind.process_bind_param(datetime(2026, 7, 1, 14, 30, tzinfo=PARIS_SUMMER), dialect)
    assert stored == datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)
    back = kind.process_result_value(stored.astimezone(PARIS_SUMMER), dialect)
    assert back.tzinfo is UTC


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_naive_datetimes_are_refused(dialect):
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2026, 7, 1, 12, 30), dialect)


def test_none_passes_through():
    assert UTCDateTime().process_bind_param(None, sqlite.dialect()) is None
    assert UTCDateTime().process_result_value(None, sqlite.dialect()) is None
