"""Starting ``spawn`` processes without re-running the embedding program in them.

``spawn`` normally re-imports the parent's main script in the child (as ``__mp_main__``) so that
pickled functions defined there resolve. Our children need only provenance's own modules, and
the main script is whatever embeds us (mitmdump's launcher, a test runner, a Streamlit page, a
user's script with no ``if __name__ == "__main__"`` guard): running it again in the child is
slow at best and, at worst, starts the whole program again in every child. Inside
:func:`bare_main`, process starts see a bare ``__main__``.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def bare_main() -> Iterator[None]:
    """Swap ``sys.modules["__main__"]`` for an empty module while the block starts processes."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main
