"""Alembic from code: creation, drift against the models, outdated and newer schemas."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from provenance.errors import SchemaOutdatedError, StoreError
from provenance.store import migrate, open_store
from provenance.store.models import Base
from tests.store.factories import make_record

HEAD = "0002_stream_deltas"

NEXT_REVISION = '''"""test-only: a later revision adding a column."""
import sqlalchemy as sa
from alembic import op

revision = "0003_test_later"
down_revision = "0002_stream_deltas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchanges") as batch:
        batch.add_column(sa.Column("test_only", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_column("test_only")
'''


@pytest.fixture
def later_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped migrations plus one later revision (a future provenance)."""
    location = tmp_path / "migrations"
    shutil.copytree(migrate.SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "0003_test_later.py").write_text(NEXT_REVISION)
    return location


def test_create_migrates_an_empty_database_to_head(store_url: str) -> None:
    with open_store(store_url, create=True) as store, store.engine.connect() as c:
        state = migrate.schema_state(c)
        assert state.current == state.head == HEAD
        tables = set(inspect(c).get_table_names())
    assert tables >= migrate.OUR_TABLES | {"alembic_version"}


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    with open_store(store_url, create=True) as store, store.engine.connect() as c:
        context = MigrationContext.configure(c, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_empty_database_without_create_is_an_error(store_url: str) -> None:
    if store_url.startswith("sqlite"):
        with pytest.raises(StoreError, match=r"no database at .*provenance db upgrade"):
            open_store(store_url)
    else:
        with pytest.raises(StoreError, match="is empty: create its tables with `provenance db"):
            open_store(store_url)


def test_outdated_schema_is_detected_and_upgraded(
    store_url: str, later_scripts: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    with open_store(store_url, create=True) as store:  # made by today's provenance
        store.write_exchanges([make_record(0)])
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", later_scripts)  # a newer provenance
    with pytest.raises(
        SchemaOutdatedError, match=r"0002_stream_deltas.*run `provenance db upgrade`"
    ):
        open_store(store_url, create=True)  # create never migrates an existing database

    result = cli("db", "current", "--db", store_url, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["schema"] == "provenance.db/1"
    assert (doc["current"], doc["head"], doc["up_to_date"]) == (
        HEAD,
        "0003_test_later",
        False,
    )

    result = cli("db", "upgrade", "--db", store_url)
    assert result.code == 0, result.err
    assert "upgraded from 0002_stream_deltas to 0003_test_later" in result.out
    with open_store(store_url) as store, store.engine.connect() as c:
        columns = {col["name"] for col in inspect(c).get_columns("exchanges")}
        assert "test_only" in columns
        assert c.execute(text("SELECT count(*) FROM exchanges")).scalar() == 1  # data kept
    assert "already at revision 0003_test_later" in cli("db", "upgrade", "--db", store_url).out


def test_newer_schema_is_refused(
    store_url: str, later_scripts: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    shipped = migrate.SCRIPT_LOCATION
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", later_scripts)
    open_store(store_url, create=True).close()
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", shipped)  # today's provenance: older
    with pytest.raises(StoreError, match=r"newer than this provenance .*upgrade provenance"):
        open_store(store_url)
    result = cli("db", "upgrade", "--db", store_url)
    assert result.code == 2
    assert "newer than this provenance" in result.err


def test_foreign_tables_without_revision_are_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE exchanges (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match="has provenance tables but no schema revision"):
        open_store(sqlite_url, create=True)


def test_db_upgrade_creates_a_new_database(tmp_path: Path, cli) -> None:
    path = tmp_path / "new" / "team.sqlite"
    result = cli("db", "upgrade", "--db", str(path), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert (doc["before"], doc["current"], doc["up_to_date"]) == (None, HEAD, True)
    assert path.exists()
    with open_store(str(path)) as store:
        assert store.write_exchanges([make_record(0)]) == [1]


def test_db_current_table_output(sqlite_url: str, cli) -> None:
    open_store(sqlite_url, create=True).close()
    result = cli("db", "current", "--db", sqlite_url)
    assert result.code == 0
    assert "revision 0002_stream_deltas, head 0002_stream_deltas (up to date)" in result.out


def test_concurrent_creation_of_one_new_database(store_url: str) -> None:
    """Capture and import started at once on a fresh database: both open it, one migrates."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def opener() -> None:
        barrier.wait()
        try:
            with open_store(store_url, create=True) as store:
                store.write_exchanges([make_record(0)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_store(store_url) as store, store.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM exchanges")).scalar() == 4
        assert c.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_upgrade_from_the_first_schema_keeps_rows_and_adds_stream_deltas(sqlite_url: str, cli):
    """A store made before stream boundaries were recorded upgrades in place."""
    from alembic import command

    from provenance.store.engine import make_engine

    engine = make_engine(sqlite_url, create=True)
    with engine.begin() as c:
        config = migrate.alembic_config(c)
        command.upgrade(config, "0001_initial")
        c.execute(
            text(
                "INSERT INTO exchanges (started_at, method, scheme, host, path, streamed, "
                "request_headers, response_headers, bodies_truncated, parse_errors, origin, "
                "secret_hashes) VALUES ('2026-01-01 00:00:00', 'POST', 'https', 'h', '/', 1, "
                "'[]', '[]', 0, '[]', 'live', '[]')"
            )
        )
    engine.dispose()
    with pytest.raises(SchemaOutdatedError):
        open_store(sqlite_url)
    assert cli("db", "upgrade", "--db", sqlite_url).code == 0
    with open_store(sqlite_url) as store:
        store.write_exchanges([make_record(1)])
        with store.engine.connect() as c:
            rows = c.execute(text("SELECT stream_deltas FROM exchanges ORDER BY id")).all()
    assert len(rows) == 2 and rows[0][0] is None
