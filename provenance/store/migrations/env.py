"""Alembic environment for provenance's store, run from code (see ``provenance.store.migrate``).

The caller passes an open connection in ``config.attributes["connection"]`` (it owns the
transaction). Without one (the plain ``alembic`` command pointed at this directory), the engine
comes from ``sqlalchemy.url``, else ``--db``'s usual fallbacks (``$PROVENANCE_DB``, default file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from provenance.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.get_main_option("version_table") or "alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite: ALTER via table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL instead of running it (``alembic upgrade --sql``)."""
    from provenance.store.engine import resolve_db_url

    context.configure(
        url=resolve_db_url(config.get_main_option("sqlalchemy.url")),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from provenance.store.engine import make_engine, resolve_db_url

    engine = make_engine(resolve_db_url(config.get_main_option("sqlalchemy.url")), create=True)
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
