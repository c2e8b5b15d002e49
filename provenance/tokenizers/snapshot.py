"""Hugging Face snapshot folders that ship a tiktoken vocabulary instead of ``tokenizer.json``.

Kimi K2's repositories, for example, hold ``tiktoken.model`` (ranks), ``tokenizer_config.json``
(``added_tokens_decoder``: the special tokens) and ``tokenization_kimi.py``, whose tokenizer class
assigns the split regex to ``pat_str``. The regex is read from that file's syntax tree (a string
literal or ``"…".join([literals])``); the file is never imported or run: a downloaded snapshot
is data, not code we trust.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from provenance.errors import UsageError


def _literal(node: ast.AST) -> str | None:
    """The string a ``pat_str`` value spells, for literals and ``SEP.join([literals])``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List | ast.Tuple)
    ):
        parts = [_literal(e) for e in node.args[0].elts]
        if all(p is not None for p in parts):
            return node.func.value.value.join(parts)  # type: ignore[arg-type]
    return None


def pattern_from_source(source: str) -> str | None:
    """The first ``pat_str = …`` (or ``self.pat_str = …``) string in Python ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [
                t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else ""
                for t in targets
            ]
            if "pat_str" in names and node.value is not None:
                found = _literal(node.value)
                if found:
                    return found
    return None


def pattern_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("tokenization_*.py"))


def snapshot_pattern(folder: Path) -> str:
    """The split regex of a snapshot folder; a clear error when none can be read."""
    for path in pattern_files(folder):
        try:
            found = pattern_from_source(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if found:
            return found
    raise UsageError(
        f"cannot read tokenizer folder {folder}: its tiktoken vocabulary needs a split pattern, "
        "and no tokenization_*.py there assigns a string to pat_str; pass --pattern"
    )


def snapshot_specials(folder: Path) -> dict[str, int]:
    """Special tokens (spelling → id) from ``tokenizer_config.json``'s ``added_tokens_decoder``."""
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        decoder = doc.get("added_tokens_decoder") or {}
        return {
            str(v["content"]): int(k)
            for k, v in decoder.items()
            if isinstance(v, dict) and v.get("content") and v.get("special", True)
        }
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        raise UsageError(
            f"cannot read tokenizer folder {folder}: tokenizer_config.json is not valid JSON "
            "with an added_tokens_decoder object"
        ) from None


def snapshot_digest(vocab: Path, folder: Path, pattern: str) -> str:
    """sha256 over the vocabulary file, the split regex and the config's special tokens."""
    digest = hashlib.sha256()
    with vocab.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"\0pattern\0" + pattern.encode("utf-8"))
    config = folder / "tokenizer_config.json"
    if config.is_file():
        digest.update(b"\0config\0" + config.read_bytes())
    return digest.hexdigest()
