"""Is a free-standing string (a protobuf string field) a model id?

Protobuf has no field names without a schema, so a string is recorded as a model id only when
the catalog says it has the shape of one (:func:`provenance.catalog.looks_like_model_id`: a
catalogued id, a provider's id shape, or the generic id shape). This wrapper only guarantees
that the answer never raises, even with a broken catalog file.
"""

from __future__ import annotations

from provenance import catalog


def looks_like_model_id(text: str) -> bool:
    """True when the catalog calls ``text`` model-id shaped. Never raises."""
    try:
        return bool(catalog.looks_like_model_id(text))
    except Exception:
        return False
