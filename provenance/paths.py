"""Where provenance keeps its files: the user's data directory, created private (0700/0600)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "PROVENANCE_HOME"


def data_dir() -> Path:
    """The directory for the default database, the redaction key and user signatures.

    ``PROVENANCE_HOME`` overrides the platform's user data directory (tests set it to a temp dir).
    The directory is created with mode 0700 if missing.
    """
    override = os.environ.get(ENV_HOME)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("provenance", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def checkout_root() -> Path | None:
    """The repository root when running from a source checkout, else None."""
    root = Path(__file__).resolve().parent.parent
    if (root / "fingerprints").is_dir() and (root / "pyproject.toml").is_file():
        return root
    return None


def fingerprints_dir() -> Path:
    """The shipped data: ``fingerprints/`` in a checkout, ``provenance/fingerprints`` installed."""
    root = checkout_root()
    if root is not None:
        return root / "fingerprints"
    import provenance.fingerprints as pkg  # mapped by the build backend

    return Path(pkg.__file__).resolve().parent


def read_data_file(name: str) -> dict:
    """The JSON object in ``fingerprints/NAME``, or ``{}`` when it is missing or malformed: for
    loaders that must never stop capture (the catalog validator reports bad files)."""
    import json

    try:
        doc = json.loads((fingerprints_dir() / name).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def create_private_file(path: Path) -> None:
    """Create ``path`` (and its parent directory) with mode 0600 if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
