"""Alembic, driven from code: no ``alembic.ini`` on the user's side.

The migration scripts ship inside the package (``provenance/store/migrations``). ``upgrade``
runs them in one transaction; on PostgreSQL it first takes an advisory lock, so two proxies
creating the same fresh database at once do not race.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from provenance.errors import SchemaOutdatedError, StoreError
from provenance.store.engine import describe_error, mask_url

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
_ALEMBIC_LOCK = threading.Lock()
_PG_LOCK_KEY = 0x70726F76  # "prov": serialises concurrent migrations of one PostgreSQL database
OUR_TABLES = frozenset(
    {"exchanges", "observations", "providers", "products", "fingerprint_runs", "connections"}
)


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database stands: its revision (None: never migrated) and this code's head."""

    current: str | None
    head: str
    has_tables: bool  # any of provenance's tables exist

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config pointing at the packaged scripts; ``connection`` is what env.py migrates."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StoreError("no migrations found in the installed package: reinstall provenance")
    return head


def schema_state(connection: Connection) -> SchemaState:
    """Read the database's revision and whether provenance tables exist."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    current = context.get_current_revision()
    tables = set(inspect(connection).get_table_names())
    return SchemaState(current=current, head=head_revision(), has_tables=bool(tables & OUR_TABLES))


def check_schema(state: SchemaState, url: str) -> None:
    """Raise unless a database in ``state`` can be used by this version as it is."""
    if state.up_to_date:
        return
    where = mask_url(url)
    if state.current is None:
        if state.has_tables:
            raise StoreError(
                f"database {where} has provenance tables but no schema revision: it was not "
                "made by provenance; use another database"
            )
        raise StoreError(
            f"database {where} is empty: create its tables with `provenance db upgrade --db URL`"
        )
    known = {rev.revision for rev in script_directory().walk_revisions()}
    if state.current not in known:
        raise StoreError(
            f"database {where} has schema revision {state.current}, newer than this provenance "
            f"(head {state.head}): upgrade provenance"
        )
    raise SchemaOutdatedError(
        f"database {where} has schema revision {state.current}, this provenance needs "
        f"{state.head}: run `provenance db upgrade`"
    )


def upgrade(engine: Engine, url: str, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``revision`` in one transaction; return (before, after).

    Refuses (StoreError) a database that holds provenance tables without a revision, or a
    revision newer than this code.
    """
    try:
        return _upgrade(engine, url, revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate database {mask_url(url)}: {describe_error(exc)}") from exc


def _upgrade(engine: Engine, url: str, revision: str) -> tuple[str | None, str]:
    # SQLite: BEGIN IMMEDIATE takes the write lock before reading the revision (see engine.py),
    # so a second process creating the same new file waits, then finds it at head.
    with engine.execution_options(sqlite_immediate=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        before = schema_state(connection)
        if before.current is None and before.has_tables:
            check_schema(before, url)
        known = {rev.revision for rev in script_directory().walk_revisions()}
        if before.current is not None and before.current not in known:
            check_schema(before, url)
        with _ALEMBIC_LOCK:  # alembic keeps its running context in module globals
            command.upgrade(alembic_config(connection), revision)
        after = schema_state(connection)
    assert after.current is not None
    return before.current, after.current
