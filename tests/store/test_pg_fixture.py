"""The shared PostgreSQL fixture really starts a server and hands out empty databases."""

from __future__ import annotations

import pytest


@pytest.mark.postgres
def test_postgres_urls_are_empty_and_isolated(postgres_server, postgres_url: str) -> None:
    import psycopg

    other = postgres_server.create_schema()
    for url in (postgres_url, other):
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            count = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [schema]
            ).fetchone()
            assert count == (0,)
            assert schema != "public"
            conn.execute("CREATE TABLE only_here (id int)")
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'only_here'"
        ).fetchall()
    assert len(tables) == 2  # one in each schema: neither saw the other's


@pytest.mark.postgres
def test_create_database_gives_a_real_database(postgres_server) -> None:
    import psycopg

    url = postgres_server.create_database("real")
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("real_")
