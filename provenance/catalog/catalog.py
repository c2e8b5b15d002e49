"""Loading the three catalog files once, validated, from ``paths.fingerprints_dir()``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from provenance import paths
from provenance.catalog._files import fail, read_document
from provenance.catalog.hosts import HostTable
from provenance.catalog.models import ModelCatalog
from provenance.catalog.products import ProductRules

HOSTS_FILE = "hosts.json"
MODELS_FILE = "models.json"
PRODUCTS_FILE = "products.json"


@dataclass(frozen=True)
class Catalog:
    """The three validated catalogs of one ``fingerprints/`` directory."""

    directory: Path
    hosts: HostTable
    models: ModelCatalog
    products: ProductRules

    @classmethod
    def from_directory(cls, directory: Path) -> Catalog:
        """Read and validate every file; raise CatalogError naming the first bad file and entry."""
        hosts = HostTable.from_document(
            read_document(directory / HOSTS_FILE, "provenance.hosts/1"), HOSTS_FILE
        )
        models = ModelCatalog.from_document(
            read_document(directory / MODELS_FILE, "provenance.models/1"), MODELS_FILE
        )
        products = ProductRules.from_document(
            read_document(directory / PRODUCTS_FILE, "provenance.products/1"), PRODUCTS_FILE
        )
        _check_cross_references(hosts, models)
        return cls(directory, hosts, models, products)


def _check_cross_references(hosts: HostTable, models: ModelCatalog) -> None:
    """Slugs one file uses must be declared in the other."""
    for rule in models.rules:
        if rule.provider_hint is not None and rule.provider_hint not in hosts.providers:
            raise fail(
                MODELS_FILE,
                f"normalise ({rule.name})",
                f"provider_hint {rule.provider_hint!r} is not a provider declared in {HOSTS_FILE}",
            )
    for provider, vendor in hosts.exclusive_vendors.items():
        if vendor not in models.vendors:
            raise fail(
                HOSTS_FILE,
                f"providers.{provider}",
                f"exclusive_vendor {vendor!r} is not a vendor declared in {MODELS_FILE}",
            )


@lru_cache(maxsize=8)
def _load(directory: str) -> Catalog:
    return Catalog.from_directory(Path(directory))


@lru_cache(maxsize=1)
def _default() -> Catalog:
    return _load(str(paths.fingerprints_dir().resolve()))


def load_catalog(directory: Path | str | None = None) -> Catalog:
    """The catalog of ``directory`` (default: the shipped ``fingerprints/``), loaded once."""
    if directory is None:
        return _default()
    return _load(str(Path(directory).resolve()))


def clear_cache() -> None:
    """Forget loaded catalogs (tests that edit catalog files call this)."""
    _default.cache_clear()
    _load.cache_clear()
