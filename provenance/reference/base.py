"""The reference-model interface: what a local (or remotely hosted) candidate base must answer.

A *reference* is a candidate base model that an endpoint is compared with. Every backend
(in-process ``transformers``, a remote vLLM/SGLang/``serve-reference`` server, the disk cache that
wraps either) implements :class:`ReferenceModel`; the logit fingerprint stage sees nothing else.

Contract of :meth:`ReferenceModel.score` (teacher forcing):

* ``sequences[i]`` is a list of token ids in this reference's vocabulary;
* ``positions[i]`` lists indexes ``j`` with ``1 <= j < len(sequences[i])`` (``None``: all of them);
* the result ``[i][n]`` describes the next-token distribution *given* ``sequences[i][:j]`` for the
  ``n``-th requested ``j``: the log-probability of the token actually at ``j`` and the ``top_k``
  most likely tokens with their log-probabilities, best first (natural log, full-vocabulary softmax
  of the raw logits, no temperature or penalties).

Backends differ in precision (bf16 on GPU) but must agree within float tolerance on one model.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOKEN_ID_PREFIX = "token_id:"  # vLLM's ``return_tokens_as_token_ids`` spelling of a token


@dataclass(frozen=True)
class PositionLogprobs:
    """The next-token distribution at one position of one sequence (teacher-forced)."""

    position: int
    token_id: int  # the token actually at ``position``
    logprob: float  # its log-probability given the prefix
    top: tuple[tuple[int, float], ...]  # (token id, log-probability), most likely first

    def to_json(self) -> list[Any]:
        """A compact JSON form (used by the disk cache)."""
        return [self.position, self.token_id, self.logprob, [list(t) for t in self.top]]

    @classmethod
    def from_json(cls, row: Sequence[Any]) -> PositionLogprobs:
        """Inverse of :meth:`to_json`."""
        return cls(
            int(row[0]), int(row[1]), float(row[2]), tuple((int(i), float(v)) for i, v in row[3])
        )


def check_positions(
    sequences: Sequence[Sequence[int]], positions: Sequence[Sequence[int]] | None
) -> list[list[int]]:
    """Validate ``positions`` against ``sequences``; ``None`` expands to every scorable index."""
    if positions is None:
        return [list(range(1, len(seq))) for seq in sequences]
    if len(positions) != len(sequences):
        raise ValueError("positions must give one list per sequence")
    out: list[list[int]] = []
    for seq, pos in zip(sequences, positions, strict=True):
        for j in pos:
            if not 1 <= j < len(seq):
                raise ValueError(f"position {j} is outside 1..{len(seq) - 1}")
        out.append(list(pos))
    return out


class ReferenceModel(abc.ABC):
    """A candidate base model that can be asked for teacher-forced next-token distributions."""

    name: str

    @property
    @abc.abstractmethod
    def identity(self) -> str:
        """A stable hex digest of what this reference computes (weights/config and tokenizer).

        Two references with one identity must give the same scores; the disk cache keys on it.
        """

    @abc.abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """``text`` as token ids, without special tokens."""

    @abc.abstractmethod
    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """The decoded text of each id on its own (what an OpenAI-style API prints as ``token``)."""

    @abc.abstractmethod
    def vocab(self) -> Mapping[str, int]:
        """Decoded token text → id (where several ids decode alike, the lowest id)."""

    @abc.abstractmethod
    def apply_chat_template(
        self, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True
    ) -> list[int]:
        """The ids of ``messages`` rendered with this reference's chat template."""

    @abc.abstractmethod
    def score(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]] | None = None,
        *,
        top_k: int = 20,
    ) -> list[list[PositionLogprobs]]:
        """Teacher-forced next-token distributions; see the module docstring for the contract."""

    def score_tokens(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]],
        candidates: Sequence[Sequence[Sequence[int]]],
    ) -> list[list[list[float]]]:
        """The log-probability of each id of ``candidates[i][n]`` as the next token given
        ``sequences[i][:positions[i][n]]``, same contract as :meth:`score` otherwise.

        Default: from :meth:`score` with ``top_k`` 20, a candidate outside the top 20 getting
        the 20th log-probability (an upper bound); backends that see the whole distribution
        answer exactly.
        """
        rows = self.score(sequences, positions, top_k=20)
        out: list[list[list[float]]] = []
        for seq_rows, seq_cands in zip(rows, candidates, strict=True):
            seq_out = []
            for row, cands in zip(seq_rows, seq_cands, strict=True):
                table = dict(row.top)
                # the 20th log-probability bounds every token outside the top 20 (the prompt
                # token may rank lower: its own value is exact but no bound for the others)
                floor = min(table.values()) if table else row.logprob
                table[row.token_id] = row.logprob
                seq_out.append([table.get(c, floor) for c in cands])
            out.append(seq_out)
        return out

    def embedding_norms(self) -> list[float] | None:
        """The L2 norm of each input-embedding row, by token id; None when the weights are not
        visible (a remote server). Used to find the reference's under-trained tokens."""
        return None

    def embedding_rows(self, ids: Sequence[int]) -> list[list[float]] | None:
        """The input-embedding rows of ``ids``, in order; None when the weights are not visible.
        Used to tell which references are related to each other (:mod:`…logits.kinship`)."""
        return None

    def lookup_tokens(self, strings: Sequence[str]) -> list[int | None]:
        """Map token texts printed by an endpoint to ids of this vocabulary (``None``: absent).

        Accepts vLLM's ``token_id:N`` spelling too (taken as the id N when it is in range).
        """
        table = self.vocab()
        size = len(table)
        out: list[int | None] = []
        for s in strings:
            if s.startswith(TOKEN_ID_PREFIX) and s[len(TOKEN_ID_PREFIX) :].isdigit():
                n = int(s[len(TOKEN_ID_PREFIX) :])
                out.append(n if n < max(size, self.vocab_size()) else None)
            else:
                out.append(table.get(s))
        return out

    def vocab_size(self) -> int:
        """Number of ids the model can emit (defaults to the vocabulary's size)."""
        return len(self.vocab())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (a model, an HTTP client). Default: nothing to release."""


def build_vocab(decoded: Sequence[str]) -> dict[str, int]:
    """``decoded[i]`` is the text of id ``i``; keep the lowest id for each text."""
    table: dict[str, int] = {}
    for i, text in enumerate(decoded):
        table.setdefault(text, i)
    return table
