"""Database URLs: driver normalisation, password masking, refused backends (no database)."""

from __future__ import annotations

import pytest

from syncd.errors import StateError
from syncd.state.db import create_engine_for, masked, normalise_url


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgresql://u:pw@db.example/syncd", "postgresql+psycopg://u:***@db.example/syncd"),
        ("postgres://u:pw@db.example/syncd", "postgresql+psycopg://u:***@db.example/syncd"),
        ("postgresql+psycopg://u@db.example/syncd", "postgresql+psycopg://u@db.example/syncd"),
        ("sqlite:///state/syncd.db", "sqlite:///state/syncd.db"),
    ],
)
def test_postgres_urls_get_the_psycopg3_driver(given, expected):
    assert normalise_url(given).render_as_string(hide_password=True) == expected


def test_masked_hides_the_password_of_any_url_form():
    assert masked("postgresql://syncd:s3cr3t-pw@db/x") == "postgresql://syncd:***@db/x"
    assert "s3cr3t-pw" not in masked(normalise_url("postgres://syncd:s3cr3t-pw@db/x"))
    engine = create_engine_for("postgresql://syncd:s3cr3t-pw@db.invalid/x")
    try:
        assert masked(engine) == "postgresql+psycopg://syncd:***@db.invalid/x"
    finally:
        engine.dispose()


def test_unsupported_backend_is_refused_without_the_password():
    with pytest.raises(StateError) as caught:
        normalise_url("mysql://root:s3cr3t-pw@db/syncd")
    assert "supports SQLite and PostgreSQL, not mysql" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


def test_garbage_url_is_a_state_error():
    with pytest.raises(StateError, match="is not a database URL"):
        normalise_url("no url here")


def test_sqlite_file_in_a_missing_folder_is_refused_clearly(tmp_path):
    url = f"sqlite:///{tmp_path}/missing/state.db"
    with pytest.raises(StateError, match=r"folder .*missing does not exist"):
        create_engine_for(url)
