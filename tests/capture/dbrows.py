"""Read back what a capture stored (plain SQL over the store's tables), for assertions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, text

JSON_COLUMNS = ("request_headers", "response_headers", "parse_errors", "secret_hashes", "usage_raw")


def exchanges(url: str) -> list[dict[str, Any]]:
    """Every exchange row (as dicts, ordered by id) with its observations under ``"ids"``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = [
                dict(r._mapping) for r in conn.execute(text("SELECT * FROM exchanges ORDER BY id"))
            ]
            obs = [
                dict(r._mapping)
                for r in conn.execute(text("SELECT * FROM observations ORDER BY id"))
            ]
    finally:
        engine.dispose()
    for row in rows:
        for column in JSON_COLUMNS:
            if isinstance(row.get(column), str):
                row[column] = json.loads(row[column])
        row["ids"] = [
            (o["model_id"], o["source"], o["location"], o["role"])
            for o in obs
            if o["exchange_id"] == row["id"]
        ]
    return rows
