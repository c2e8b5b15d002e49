"""Optional dependencies: one check, one message.

Heavy or optional libraries are imported inside the functions that need them. Before such an
import, :func:`require` turns a missing module into
:class:`~provenance.errors.MissingDependencyError` (exit 2, one line naming the pip extra), so no
command ends in a ``ModuleNotFoundError`` traceback because an extra was not installed.
"""

from __future__ import annotations

import importlib.util

from provenance.errors import MissingDependencyError

# The distribution's name on the package index (``provenance`` there is an unrelated project);
# the import package and the command are ``provenance``.
DISTRIBUTION = "provenance-audit"


def require(module: str, extra: str, purpose: str) -> None:
    """Raise MissingDependencyError unless ``module`` can be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingDependencyError(
            f"{purpose} needs the Python package {module!r}, which is not installed; "
            f"run pip install '{DISTRIBUTION}[{extra}]'"
        )
