"""The build manifest of the shipped signatures (``fingerprints/tokenizers/manifest.json``).

It records, per tokenizer id, the exact ``signatures build`` inputs: sources, family keys with the
source of each claim, ``base`` and notes. ``provenance signatures build --manifest`` regenerates
every shipped ``<id>.jsonl`` from it; the golden tests check that regenerating gives the same
records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from provenance.errors import CatalogError
from provenance.paths import fingerprints_dir

MANIFEST_SCHEMA = "provenance.tokenizer-manifest/1"


@dataclass(frozen=True)
class ManifestEntry:
    """Build inputs of one id."""

    id: str
    sources: tuple[str, ...]
    families: tuple[dict[str, str], ...]
    base: str | None = None
    notes: str = ""


def default_manifest_path() -> Path:
    return fingerprints_dir() / "tokenizers" / "manifest.json"


def load_manifest(path: Path | None = None) -> list[ManifestEntry]:
    """Read the manifest; entries come in file order (a ``base`` precedes the ids that name it)."""
    path = path or default_manifest_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"schema is {doc.get('schema')!r}")
        entries = []
        for item in doc["signatures"]:
            families = tuple(
                {"family": f["family"], "source": f["source"]} for f in item["families"]
            )
            entries.append(
                ManifestEntry(
                    item["id"],
                    tuple(item["sources"]),
                    families,
                    item.get("base"),
                    item.get("notes", ""),
                )
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CatalogError(f"tokenizer manifest {path} is malformed ({exc})") from None
    return entries
