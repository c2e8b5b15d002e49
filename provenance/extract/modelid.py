"""Is a free-standing string (a protobuf string field) a model id?

Protobuf has no field names without a schema, so a string is recorded as a model id only when
it has the shape of one. The catalog owns that decision
(:func:`provenance.catalog.looks_like_model_id`: a catalog pattern, or a generic id shape);
:func:`looks_like_model_id` defers to it and uses :func:`_generic_id_shape_fallback` only when
the catalog cannot be imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_GENERIC_ID = re.compile(r"[A-Za-z][A-Za-z0-9._:@/-]{2,199}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_checker: Callable[[str], bool] | None = None


def _generic_id_shape_fallback(text: str) -> bool:
    """Used only while ``provenance.catalog`` is unavailable: one token of id characters,
    with a separator and a digit (``gpt-4o``, ``accounts/a/models/m-1``), not a URL or UUID."""
    return (
        _GENERIC_ID.fullmatch(text) is not None
        and "://" not in text
        and any(c.isdigit() for c in text)
        and any(c in "-/" for c in text)
        and _UUID.search(text) is None
    )


def looks_like_model_id(text: str) -> bool:
    """True when ``text`` has the shape of a model id (catalog decision). Never raises."""
    global _checker
    if _checker is None:
        try:
            from provenance.catalog import looks_like_model_id as catalog_check
        except Exception:
            return _generic_id_shape_fallback(text)
        _checker = catalog_check
    try:
        return bool(_checker(text))
    except Exception:
        return False
