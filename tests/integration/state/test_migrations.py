"""Migrations on a real database: empty -> head -> base, schema equal to the models, refusals."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from syncd.errors import StateError
from syncd.state import db
from syncd.state.models import Base

TABLES = {
    "runs",
    "source_files",
    "quarantine",
    "mirror_users",
    "mirror_groups",
    "mirror_memberships",
    "mirror_assignments",
    "outbox",
    "outbox_deps",
    "results",
    "cursors",
    "leases",
    "mirror_versions",
    "absences",
    "applied_ops",
}


def tables(engine):
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_upgrade_from_empty_to_head_then_downgrade_to_base(db_url):
    engine = db.create_engine_for(db_url)
    try:
        assert db.current_revision(engine) is None
        assert db.upgrade(engine) == (None, db.head_revision())
        assert tables(engine) == TABLES | {"alembic_version"}
        assert db.current_revision(engine) == db.head_revision()
        assert db.upgrade(engine) == (db.head_revision(), db.head_revision())
        assert db.downgrade(engine, "base") == (db.head_revision(), None)
        assert tables(engine) == {"alembic_version"}
        assert db.upgrade(engine)[1] == db.head_revision()
    finally:
        engine.dispose()


def test_migrated_schema_equals_the_models_so_autogenerate_is_stable(state_engine):
    with state_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_every_index_and_constraint_has_its_conventional_name(state_engine):
    with state_engine.connect() as connection:
        inspector = inspect(connection)
        indexes = inspector.get_indexes("outbox")
        # PostgreSQL also lists the index behind the unique constraint; it is not an index of ours.
        assert {i["name"] for i in indexes if not i.get("duplicates_constraint")} == {
            "ix_outbox_connection_state_next_attempt_at_id",
            "ix_outbox_run_id",
        }
        unique = inspector.get_unique_constraints("outbox")
        assert [u["name"] for u in unique] == ["uq_outbox_connection_idempotency_key"]
        assert inspector.get_pk_constraint("mirror_users")["name"] == "pk_mirror_users"


def test_old_schema_is_refused_with_what_to_do_unless_auto_upgrade(db_url):
    engine = db.create_engine_for(db_url)
    try:
        with pytest.raises(StateError) as caught:
            db.ensure_schema(engine, auto_upgrade=False)
        message = str(caught.value)
        assert "is at revision none (empty database)" in message
        assert f"this syncd needs {db.head_revision()}: run `syncd db upgrade`" in message
        assert tables(engine) == set()
        assert db.ensure_schema(engine, auto_upgrade=True) == db.head_revision()
        assert db.ensure_schema(engine, auto_upgrade=False) == db.head_revision()
    finally:
        engine.dispose()


def test_a_revision_from_a_newer_syncd_is_refused_even_with_auto_upgrade(state_engine):
    with state_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StateError, match="9999_future, which this syncd does not know"):
        db.ensure_schema(state_engine, auto_upgrade=True)


def test_open_state_upgrades_or_refuses(db_url):
    with pytest.raises(StateError, match="run `syncd db upgrade`"):
        db.open_state(db_url, auto_upgrade=False)
    engine = db.open_state(db_url, auto_upgrade=True)
    try:
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_concurrent_upgrades_take_turns(db_url):
    """Replicas starting together: both upgrades succeed, the schema is created once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        try:
            db.upgrade(db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = db.create_engine_for(db_url)
    try:
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_unreachable_server_is_a_state_error_without_the_password(pg_server_url):
    url = "postgresql://syncd:s3cr3t-pw@127.0.0.1:1/nowhere"
    engine = db.create_engine_for(url)
    try:
        with pytest.raises(StateError) as caught:
            db.current_revision(engine)
    finally:
        engine.dispose()
    assert "postgresql+psycopg://syncd:***@127.0.0.1:1/nowhere" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)
