"""Initial schema: providers, products, exchanges, observations, fingerprint runs, connections,
daily rollups.

Revision ID: 0001_initial
Revises:
Create Date: 2026-05-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Integer on SQLite so that the id is the rowid; 64-bit on PostgreSQL.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", BIG_ID, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "providers",
        _id(),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("slug", name=op.f("uq_providers_slug")),
    )
    op.create_table(
        "products",
        _id(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("name", name=op.f("uq_products_name")),
    )
    op.create_table(
        "exchanges",
        _id(),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=True),
        sa.Column("provider_id", BIG_ID, nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("scheme", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("api", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("ttfb_ms", sa.Float(), nullable=True),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("request_size", sa.BigInteger(), nullable=True),
        sa.Column("response_size", sa.BigInteger(), nullable=True),
        sa.Column("request_headers", sa.JSON(), nullable=False),
        sa.Column("response_headers", sa.JSON(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("request_digest", sa.Text(), nullable=True),
        sa.Column("response_digest", sa.Text(), nullable=True),
        sa.Column("bodies_truncated", sa.Boolean(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=True),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=True),
        sa.Column("total_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("usage_raw", sa.JSON(), nullable=True),
        sa.Column("parse_errors", sa.JSON(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("http_version", sa.Text(), nullable=True),
        sa.Column("client_ja4", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("secret_hashes", sa.JSON(), nullable=False),
        sa.Column("deployment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_exchanges_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_exchanges_provider_id_providers")
        ),
    )
    op.create_index("ix_exchanges_started_at", "exchanges", ["started_at"])
    op.create_index("ix_exchanges_product_id", "exchanges", ["product_id"])
    op.create_index("ix_exchanges_provider_id", "exchanges", ["provider_id"])

    op.create_table(
        "observations",
        _id(),
        sa.Column("exchange_id", BIG_ID, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.ForeignKeyConstraint(
            ["exchange_id"],
            ["exchanges.id"],
            name=op.f("fk_observations_exchange_id_exchanges"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_observations_model_id", "observations", ["model_id", "exchange_id"])
    op.create_index("ix_observations_exchange_id", "observations", ["exchange_id"])

    op.create_table(
        "fingerprint_runs",
        _id(),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("family", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fingerprint_runs")),
    )
    op.create_index("ix_fingerprint_runs_started_at", "fingerprint_runs", ["started_at"])

    op.create_table(
        "connections",
        _id(),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("src_ip", sa.Text(), nullable=True),
        sa.Column("src_port", sa.Integer(), nullable=True),
        sa.Column("dst_ip", sa.Text(), nullable=True),
        sa.Column("dst_port", sa.Integer(), nullable=True),
        sa.Column("sni", sa.Text(), nullable=True),
        sa.Column("alpn", sa.Text(), nullable=True),
        sa.Column("tls_version", sa.Text(), nullable=True),
        sa.Column("ja4", sa.Text(), nullable=True),
        sa.Column("ja3", sa.Text(), nullable=True),
        sa.Column("client", sa.Text(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    op.create_index("ix_connections_sni_ja4", "connections", ["sni", "ja4"])
    op.create_index("ix_connections_last_seen", "connections", ["last_seen"])
    op.create_table(
        "traffic_days",
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("provider_id", BIG_ID, nullable=False),
        sa.Column("day", sa.Text(), nullable=False),
        sa.Column("exchanges", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.PrimaryKeyConstraint("product_id", "provider_id", "day", name=op.f("pk_traffic_days")),
    )
    op.create_table(
        "model_days",
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("provider_id", BIG_ID, nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("day", sa.Text(), nullable=False),
        sa.Column("exchanges", sa.BigInteger(), nullable=False),
        sa.Column("served", sa.BigInteger(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.PrimaryKeyConstraint(
            "product_id", "provider_id", "model_id", "kind", "day", name=op.f("pk_model_days")
        ),
    )
    op.create_index("ix_model_days_model_id", "model_days", ["model_id"])


def downgrade() -> None:
    op.drop_table("model_days")
    op.drop_table("traffic_days")
    op.drop_table("connections")
    op.drop_table("fingerprint_runs")
    op.drop_table("observations")
    op.drop_table("exchanges")
    op.drop_table("products")
    op.drop_table("providers")
