"""A disk cache of reference scores, so that auditing ten products computes each base once.

Entries live under ``data_dir()/reference-cache/<identity[:16]>/`` and are keyed by
(reference identity, template tag, ``top_k``, the token ids, the positions): the probe set and
the chat template enter the key through the exact ids they produce, and the caller's template tag
names the rendering. A reference whose identity changes (new weights, new tokenizer, a server now
serving another model) therefore never reads stale entries. One JSON file per sequence; writes go
to a temp file and are renamed into place, so concurrent audits never see a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from provenance.reference.base import PositionLogprobs, ReferenceModel, check_positions


def default_cache_dir() -> Path:
    """``data_dir()/reference-cache``."""
    from provenance.paths import data_dir

    return data_dir() / "reference-cache"


class CachedReference(ReferenceModel):
    """Wraps a reference: :meth:`score` answers from disk where it can, scores only the misses."""

    def __init__(
        self, inner: ReferenceModel, *, root: Path | None = None, template: str = ""
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.template = template
        self.root = (root or default_cache_dir()) / inner.identity[:16]
        self.hits = 0
        self.misses = 0

    @property
    def identity(self) -> str:
        return self.inner.identity

    def tokenize(self, text: str) -> list[int]:
        return self.inner.tokenize(text)

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return self.inner.token_strings(ids)

    def vocab(self) -> Mapping[str, int]:
        return self.inner.vocab()

    def vocab_size(self) -> int:
        return self.inner.vocab_size()

    def embedding_norms(self) -> list[float] | None:
        return self.inner.embedding_norms()

    def lookup_tokens(self, strings: Sequence[str]) -> list[int | None]:
        return self.inner.lookup_tokens(strings)

    def apply_chat_template(
        self, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True
    ) -> list[int]:
        return self.inner.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)

    def key(self, ids: Sequence[int], positions: Sequence[int], top_k: int) -> str:
        """The cache key of one sequence."""
        doc = json.dumps(
            [self.inner.identity, self.template, top_k, list(ids), list(positions)],
            separators=(",", ":"),
        )
        return hashlib.sha256(doc.encode()).hexdigest()

    def score(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]] | None = None,
        *,
        top_k: int = 20,
    ) -> list[list[PositionLogprobs]]:
        wanted = check_positions(sequences, positions)
        results: list[list[PositionLogprobs] | None] = []
        missing: list[int] = []
        keys = [self.key(seq, pos, top_k) for seq, pos in zip(sequences, wanted, strict=True)]
        for i, key in enumerate(keys):
            hit = self._read(key)
            results.append(hit)
            if hit is None:
                missing.append(i)
        self.hits += len(sequences) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.score(
                [sequences[i] for i in missing], [wanted[i] for i in missing], top_k=top_k
            )
            for i, rows in zip(missing, fresh, strict=True):
                results[i] = rows
                self._write(keys[i], rows)
        return [r if r is not None else [] for r in results]

    def score_tokens(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]],
        candidates: Sequence[Sequence[Sequence[int]]],
    ) -> list[list[list[float]]]:
        """Not cached: the tokens read are the endpoint's alternatives, so a second run against
        another endpoint would never hit (and the permutation null reads 40× the probes)."""
        return self.inner.score_tokens(sequences, positions, candidates)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _read(self, key: str) -> list[PositionLogprobs] | None:
        try:
            rows = json.loads(self._path(key).read_text(encoding="utf-8"))
            return [PositionLogprobs.from_json(r) for r in rows]
        except (OSError, ValueError, TypeError, IndexError):
            return None

    def _write(self, key: str, rows: list[PositionLogprobs]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump([r.to_json() for r in rows], fh, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time

    def generate_greedy(self, ids: Sequence[int], max_new_tokens: int) -> tuple[list[int], bool]:
        """The wrapped reference's greedy continuation (never cached); AttributeError when the
        wrapped backend cannot generate."""
        return self.inner.generate_greedy(ids, max_new_tokens)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.inner.close()
