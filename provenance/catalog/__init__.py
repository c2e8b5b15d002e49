"""The catalog: host → provider, model id → family/vendor/tags, headers → product.

All knowledge lives in ``fingerprints/{hosts,models,products}.json`` (each entry with its source);
this package only loads, validates and queries it. The module-level functions use the shipped
catalog, loaded once; a malformed file raises :class:`~provenance.errors.CatalogError` on first
use, naming the file and the entry.
"""

from __future__ import annotations

from provenance.catalog.catalog import Catalog, clear_cache, load_catalog
from provenance.catalog.models import Resolution
from provenance.catalog.products import Headers, ProductMatch
from provenance.catalog.shape import has_generic_id_shape

__all__ = [
    "Catalog",
    "ProductMatch",
    "Resolution",
    "clear_cache",
    "family_vendors",
    "load_catalog",
    "looks_like_model_id",
    "match_product",
    "product_for_headers",
    "provider_for_host",
    "provider_vendor",
    "resolve",
]


def provider_for_host(host: str) -> str | None:
    """Provider slug for a host (``api.openai.com``, ``x.openai.azure.com:443``, a URL), or None."""
    return load_catalog().hosts.provider_for_host(host)


def provider_vendor(provider: str) -> str | None:
    """The vendor a first-party provider exclusively serves (``anthropic`` → ``anthropic``).

    None for providers that serve many vendors' models (OpenRouter, Bedrock, Azure, Fireworks …)
    and for unknown slugs.
    """
    return load_catalog().hosts.provider_vendor(provider)


def family_vendors() -> dict[str, str]:
    """Every family key the catalog can return, mapped to its vendor slug."""
    return {f.family: f.vendor for f in load_catalog().models.families}


def resolve(model_id: str) -> Resolution:
    """Family, vendor, provider hint and tags of ``model_id``; unknown ids give family None.

    Never raises for any text (only CatalogError if the shipped catalog itself is broken).
    """
    return load_catalog().models.resolve(model_id)


def match_product(headers: Headers | None, *, host: str | None = None) -> ProductMatch | None:
    """The product (and version, and the rule) that request headers claim, or None."""
    return load_catalog().products.match(headers, host=host)


def product_for_headers(headers: Headers | None, *, host: str | None = None) -> str | None:
    """The product slug that request headers claim (``cursor``, ``claude-code`` …), or None.

    ``headers`` is a list of (name, value) pairs or a mapping. ``host`` (optional) enables the
    few host-based rules; without it the ``Host``/``:authority`` header is used if present.
    """
    found = match_product(headers, host=host)
    return found.product if found is not None else None


def looks_like_model_id(text: str) -> bool:
    """True if ``text`` is a catalogued id, has an id shape a provider uses, or looks id-shaped.

    For picking model ids out of schema-less strings (protobuf fields). Never raises.
    """
    if not isinstance(text, str) or not text or text != text.strip() or len(text) > 200:
        return False
    analysis = load_catalog().models.analyse(text)
    if analysis.resolution.family is not None:
        return True
    if analysis.id_shape and analysis.normalised and "/" not in analysis.normalised:
        return True
    return has_generic_id_shape(text)
