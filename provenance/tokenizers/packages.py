"""``pkg:NAME[:FILE]`` sources: tokenizer vocabularies that installed packages carry.

Which packages, which of their files, the version each was checked at and the SHA-256 of each
vocabulary are data (``fingerprints/tokenizers/packages.json``), not code: a new package is a new
entry there, read by one of a few loaders (``file``: a tokenizer file inside the package, read by
:mod:`.loaders`; ``quicktok``; ``splintr``: vocabularies compiled into the ``splintr-rs`` wheel;
``llama4``: Meta's tiktoken file with the split pattern and specials of ``llama_models``).

Every load checks the vocabulary's digest against the pinned one. An audit tool must not count
with a vocabulary that an unrelated release swapped in, so a mismatch is an error naming the
package, the installed and the pinned version, never a silent fallback. A file the table does not
list is refused too: pass its path instead (the digest is then recorded, not checked).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from provenance.errors import CatalogError, MissingDependencyError, UsageError
from provenance.optional import DISTRIBUTION
from provenance.paths import fingerprints_dir
from provenance.tokenizers.handle import TokenizerHandle

REGISTRY_SCHEMA = "provenance.tokenizer-packages/1"
LOADERS = ("file", "quicktok", "splintr", "llama4")


@dataclass(frozen=True)
class PackageFile:
    """One pinned vocabulary of a package: its digest and how to read it."""

    name: str
    sha256: str
    pattern: str | None = None  # split-pattern preset of a bare *.tiktoken file


@dataclass(frozen=True)
class PackageLayout:
    """Where a distribution keeps its tokenizers, and which of them are pinned."""

    distribution: str
    module: str
    folder: str
    default: str
    version: str
    loader: str
    files: dict[str, PackageFile]
    source: str = ""


def registry_path() -> Path:
    return fingerprints_dir() / "tokenizers" / "packages.json"


@cache
def packages() -> dict[str, PackageLayout]:
    """The package table (read once); a malformed file raises :class:`CatalogError`."""
    path = registry_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != REGISTRY_SCHEMA:
            raise ValueError(f"schema is {doc.get('schema')!r}")
        out: dict[str, PackageLayout] = {}
        for dist, item in doc["packages"].items():
            loader = item.get("loader", "file")
            if loader not in LOADERS:
                raise ValueError(f"{dist}: unknown loader {loader!r}")
            files = {
                name: PackageFile(name, str(f["sha256"]), f.get("pattern"))
                for name, f in item["files"].items()
            }
            out[dist] = PackageLayout(
                dist,
                item["module"],
                item.get("folder", ""),
                item["default"],
                item["version"],
                loader,
                files,
                item.get("source", ""),
            )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CatalogError(f"tokenizer package table {path} is malformed ({exc})") from None
    return out


def known_bpe_pattern(digest: str) -> str | None:
    """Split-pattern preset of a bare BPE file with this sha256, if the table pins one."""
    for layout in packages().values():
        for f in layout.files.values():
            if f.sha256 == digest and f.pattern:
                return f.pattern
    return None


def installed_version(layout: PackageLayout) -> str | None:
    try:
        return importlib.metadata.version(layout.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _require(layout: PackageLayout) -> None:
    if importlib.util.find_spec(layout.module) is None:
        raise MissingDependencyError(
            f"package {layout.distribution!r} is not installed; run pip install "
            f"'{layout.distribution}=={layout.version}' (or '{DISTRIBUTION}[tokenizers]')"
        )


def package_dir(layout: PackageLayout) -> Path:
    """The folder of ``layout`` inside its installed package."""
    _require(layout)
    spec = importlib.util.find_spec(layout.module)
    assert spec is not None
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(Path(spec.origin).parent)]
    for root in roots:
        folder = Path(root) / layout.folder
        if folder.is_dir():
            return folder
    raise UsageError(
        f"package {layout.distribution!r} has no folder {layout.folder!r}; "
        f"reinstall {layout.distribution}=={layout.version}"
    )


def resolve_package_file(source: str) -> tuple[PackageLayout, PackageFile]:
    """Split ``pkg:NAME[:FILE]`` into the package's layout and the pinned file."""
    parts = source.split(":", 2)
    name = parts[1] if len(parts) > 1 else ""
    table = packages()
    layout = table.get(name)
    if layout is None:
        raise UsageError(
            f"unknown tokenizer package {name!r} in {source!r}; known: {', '.join(sorted(table))}"
        )
    file = parts[2] if len(parts) > 2 and parts[2] else layout.default
    pinned = layout.files.get(file)
    if pinned is None:
        raise UsageError(
            f"{name} has no pinned tokenizer {file!r} (pinned: {', '.join(sorted(layout.files))});"
            " pass the file's path to use it unverified"
        )
    return layout, pinned


def verify(layout: PackageLayout, pinned: PackageFile, digest: str) -> None:
    """Refuse a vocabulary whose digest differs from the pinned one."""
    if digest == pinned.sha256:
        return
    have = installed_version(layout) or "unknown"
    raise UsageError(
        f"vocabulary {pinned.name!r} of {layout.distribution} {have} has sha256 {digest[:16]}…, "
        f"not the {pinned.sha256[:16]}… pinned for {layout.distribution}=={layout.version}; "
        f"install that version (pip install '{layout.distribution}=={layout.version}')"
    )


def load_package(source: str) -> TokenizerHandle:
    """Load a ``pkg:`` source and check its vocabulary digest."""
    layout, pinned = resolve_package_file(source)
    _require(layout)
    handle = _LOADERS[layout.loader](layout, pinned, source)
    verify(layout, pinned, handle.sha256)
    return handle


def _load_file(layout: PackageLayout, pinned: PackageFile, source: str) -> TokenizerHandle:
    from provenance.tokenizers import loaders

    folder = package_dir(layout)
    path = folder / pinned.name
    if not path.is_file() or path.parent.resolve() != folder.resolve():
        raise UsageError(
            f"cannot read tokenizer file {path}: not a file of package {layout.distribution!r}; "
            f"reinstall {layout.distribution}=={layout.version}"
        )
    if pinned.pattern:
        return loaders.load_tiktoken_file(path, name=source, pattern=pinned.pattern)
    return loaders.load_file(path, name=source)


def _load_quicktok(layout: PackageLayout, pinned: PackageFile, source: str) -> TokenizerHandle:
    import quicktok

    from provenance.tokenizers.loaders import file_sha256

    encoding = pinned.name
    enc = quicktok.get_encoding(encoding)
    folder = package_dir(layout)
    stem = {"cl100k_base": "cl100k", "o200k_base": "o200k", "o200k_harmony": "o200k"}.get(
        encoding, encoding
    )
    special_stem = "o200k_harmony" if encoding == "o200k_harmony" else stem
    files = [folder / f"{stem}.vocab", folder / f"{special_stem}.special"]
    specials = frozenset(str(s) for s in enc.special_tokens_set)
    return TokenizerHandle(
        source,
        file_sha256(files),
        "quicktok",
        enc.encode_ordinary,
        specials,
        piece=enc.decode_single_token_bytes,
    )


def vocabulary_digest(ranks: list[tuple[int, bytes]], specials: dict[str, int]) -> str:
    """sha256 over ``id<TAB>hex(bytes)`` lines of every rank, then ``id<TAB>spelling`` lines of
    the specials (sorted by id): a digest of what counts tokens, whatever file it came from."""
    digest = hashlib.sha256()
    for rank, data in ranks:
        digest.update(f"{rank}\t{data.hex()}\n".encode())
    for spelling, rank in sorted(specials.items(), key=lambda kv: kv[1]):
        digest.update(f"{rank}\ts\t{spelling}\n".encode())
    return digest.hexdigest()


def _splintr_specials(tok: Any, base: int) -> dict[str, int]:
    """The model's own special tokens among ranks below ``base`` (splintr appends agent tokens
    of its own above ``base``; those are not the model's and are left out)."""
    out: dict[str, int] = {}
    for rank in range(base):
        try:
            text = tok.decode_with_special([rank])
        except ValueError:
            continue
        if (
            len(text) > 2
            and text[0] in "<["
            and text[-1] in ">]"
            and tok.encode_ordinary(text) != [rank]
            and tok.encode_with_special(text) == [rank]
        ):
            out[text] = rank
    return out


@cache
def _splintr(name: str) -> tuple[Any, str, frozenset[str]]:
    import splintr

    tok = splintr.Tokenizer.from_pretrained(name)
    base = splintr.base_vocab_size(name)
    specials = _splintr_specials(tok, base)
    ranks = []
    for rank in range(base):
        try:
            data = tok.decode_token_bytes(rank)
        except ValueError:
            continue
        if rank not in specials.values():
            ranks.append((rank, data))
    return tok, vocabulary_digest(ranks, specials), frozenset(specials)


def _load_splintr(layout: PackageLayout, pinned: PackageFile, source: str) -> TokenizerHandle:
    tok, digest, specials = _splintr(pinned.name)
    return TokenizerHandle(
        source, digest, "splintr", tok.encode_ordinary, specials, piece=tok.decode_token_bytes
    )


def _load_llama4(layout: PackageLayout, pinned: PackageFile, source: str) -> TokenizerHandle:
    from provenance.tokenizers.loaders import file_sha256

    path = package_dir(layout) / pinned.name
    from llama_models.llama4.tokenizer import Tokenizer

    tok = Tokenizer(path)
    enc = tok.model
    return TokenizerHandle(
        source,
        file_sha256([path]),
        "tiktoken-bpe",
        enc.encode_ordinary,
        frozenset(tok.special_tokens),
        piece=enc.decode_single_token_bytes,
    )


_LOADERS = {
    "file": _load_file,
    "quicktok": _load_quicktok,
    "splintr": _load_splintr,
    "llama4": _load_llama4,
}
