"""Alembic revisions, one small concern each (alembic skips this file)."""
