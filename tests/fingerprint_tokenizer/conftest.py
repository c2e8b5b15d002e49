"""Fixtures for the tokenizer fingerprint tests: real shipped tokenizers (loaded once), three
tokenizers trained here on local text, and the shipped probe set and signatures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from provenance.tokenizers import TokenizerHandle, load_tokenizer
from provenance.tokenizers.manifest import ManifestEntry, load_manifest
from provenance.tokenizers.probes import ProbeSet, load_probe_set
from provenance.tokenizers.signatures import Signature, load_signatures

_CACHE: dict[str, TokenizerHandle] = {}


def cached_tokenizer(source: str) -> TokenizerHandle:
    """Load a tokenizer once per test session."""
    if source not in _CACHE:
        _CACHE[source] = load_tokenizer(source)
    return _CACHE[source]


@pytest.fixture(scope="session")
def tokenizer_for() -> Callable[[str], TokenizerHandle]:
    return cached_tokenizer


@pytest.fixture(scope="session")
def manifest() -> list[ManifestEntry]:
    return load_manifest()


@pytest.fixture(scope="session")
def probe_set() -> ProbeSet:
    return load_probe_set()


@pytest.fixture(scope="session")
def signatures() -> list[Signature]:
    from provenance.tokenizers.signatures import signature_dirs

    return load_signatures(signature_dirs()[:1])  # shipped only


def local_corpus() -> list[str]:
    """Training text found on this machine: the repository's own sources and docs."""
    root = Path(__file__).resolve().parents[2]
    texts = []
    for path in sorted(root.glob("provenance/**/*.py"))[:25]:
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
    from provenance.fingerprint.tokenizer.probe_search import TEXT_UNITS

    texts.extend(TEXT_UNITS.values())
    return texts


@pytest.fixture(scope="session")
def trained_tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TokenizerHandle]:
    """BPE (600), Unigram (900) and WordPiece (1200) tokenizers trained here, saved as
    ``tokenizer.json`` folders and loaded through the registry's folder loader."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    corpus = local_corpus()
    built: dict[str, TokenizerHandle] = {}

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=600,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<|endoftext|>"],
        ),
    )

    uni = Tokenizer(models.Unigram())
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.train_from_iterator(
        corpus,
        trainers.UnigramTrainer(
            vocab_size=900, unk_token="<unk>", special_tokens=["<unk>", "<s>", "</s>"]
        ),
    )

    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(
        corpus,
        trainers.WordPieceTrainer(vocab_size=1200, special_tokens=["[UNK]", "[CLS]", "[SEP]"]),
    )

    for name, tok in (
        ("trained-bpe-600", bpe),
        ("trained-unigram-900", uni),
        ("trained-wordpiece-1200", wp),
    ):
        folder = tmp_path_factory.mktemp(name)
        tok.save(str(folder / "tokenizer.json"))
        built[name] = load_tokenizer(str(folder))
    return built
