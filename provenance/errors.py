"""The library's error hierarchy.

Who sees the message: the CLI prints ``str(error)`` as one line (prefixed with ``error:``) and exits
with ``error.exit_code``. Messages therefore say what went wrong *and what to do*, in one sentence,
and never contain secrets or tracebacks.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class of every error the library raises on purpose. Exit code 1."""

    exit_code: int = 1


class UsageError(ProvenanceError):
    """The user gave a bad argument, path, URL or file. Exit code 2."""

    exit_code = 2


class StoreError(ProvenanceError):
    """The store cannot be opened, written or migrated. Exit code 2: it is the user's --db."""

    exit_code = 2


class SchemaOutdatedError(StoreError):
    """The database exists but its schema is older than this version.

    The message tells the user to run `provenance db upgrade`.
    """


class CatalogError(ProvenanceError):
    """A data file under fingerprints/ is malformed. Exit code 1: it is our bug or a bad edit."""


class FingerprintError(ProvenanceError):
    """A fingerprint run could not be carried out (not: it found nothing). Exit code 1."""


class MissingDependencyError(UsageError):
    """An optional dependency is not installed; the message names the pip extra to install."""
