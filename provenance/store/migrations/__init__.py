"""Alembic migration scripts of the store (a package so that env.py ships in the wheel)."""
