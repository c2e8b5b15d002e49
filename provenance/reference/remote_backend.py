"""Remote reference: a vLLM, SGLang or ``serve-reference`` server that returns prompt logprobs.

This is how a base too large for one machine (a 1T-parameter MoE across many GPUs) is used. The
backend fills the interface's hooks from the server:

* scoring, flavour ``openai`` (vLLM, ``serve-reference``): ``POST /v1/completions`` with the token
  ids as ``prompt``, ``echo: true``, ``max_tokens: 1``, ``logprobs: k`` and vLLM's
  ``prompt_logprobs: k`` / ``return_tokens_as_token_ids: true`` (ids, not strings, come back);
* scoring, flavour ``sglang``: ``POST /generate`` with ``input_ids``, ``sampling_params:
  {max_new_tokens: 0}``, ``return_logprob``, ``logprob_start_len: 0``, ``top_logprobs_num: k``
  (SGLang's native API, ``GenerateReqInput`` in ``sglang/srt/managers/io_struct.py``; the
  first prompt position comes back as ``[null, id, text]``);
* tokens: a local tokenizer folder when given (``tokenizer=``), else the server's ``/tokenize``
  (``prompt``; ``messages`` for the chat template) and ``/detokenize`` (``tokens``,
  ``skip_special_tokens: false``). vLLM answers ``/detokenize`` with ``prompt``, SGLang with
  ``text``. A server that ignores ``add_special_tokens: false`` and puts a BOS in front is
  detected once (the BOS detokenizes to nothing when special tokens are skipped) and the BOS
  stripped;
* errors: vLLM ≥ 0.10.1 answers ``{"error": {"message", "type", "param", "code"}}``, older vLLM
  and SGLang's OpenAI-style handlers the flat ``{"object": "error", "message", …}``, SGLang's
  ``/generate`` ``{"error": {"message"}}`` or ``{"error": "…"}``: all read by :func:`error_text`;
* scoring requests go out concurrently (``concurrency``, default 8) so a multi-GPU server is
  not left idle by one request at a time; the order of the results is the order of the input.

Servers cap ``k`` (vLLM: ``--max-logprobs``, 20 by default); ask for at most that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from provenance.errors import FingerprintError, UsageError
from provenance.reference.base import (
    TOKEN_ID_PREFIX,
    PositionLogprobs,
    ReferenceModel,
    build_vocab,
    check_positions,
)
from provenance.reference.http import HttpJson, _public

CANARY_TEXT = "provenance canary: the quick brown fox jumps over the lazy dog."


def _as_id(key: str | int) -> int:
    if isinstance(key, int):
        return key
    if key.startswith(TOKEN_ID_PREFIX):
        key = key[len(TOKEN_ID_PREFIX) :]
    return int(key)


def parse_openai_prompt_logprobs(
    choice: Mapping[str, Any], ids: Sequence[int], positions: Sequence[int], top_k: int
) -> list[PositionLogprobs]:
    """Rows from a completions choice: vLLM ``prompt_logprobs`` if present, else echo logprobs.

    Echo logprobs must carry ids (``return_tokens_as_token_ids``); plain strings are rejected.
    """
    rows: list[PositionLogprobs] = []
    plp = choice.get("prompt_logprobs")
    if isinstance(plp, list) and len(plp) >= len(ids):
        for j in positions:
            entry = plp[j] or {}
            cands = sorted(((_as_id(k), float(v["logprob"])) for k, v in entry.items()),
                           key=lambda t: -t[1])  # fmt: skip
            actual = next((lp for i, lp in cands if i == ids[j]), None)
            if actual is None:
                raise FingerprintError("the server's prompt_logprobs lack the prompt token")
            ranked = [c for c in entry.items() if int(c[1].get("rank", 0) or 0) <= top_k]
            top = sorted(((_as_id(k), float(v["logprob"])) for k, v in ranked), key=lambda t: -t[1])
            rows.append(PositionLogprobs(j, int(ids[j]), actual, tuple(top[:top_k])))
        return rows
    lp = choice.get("logprobs") or {}
    tokens, token_lps, tops = lp.get("tokens"), lp.get("token_logprobs"), lp.get("top_logprobs")
    if not (isinstance(tokens, list) and isinstance(tops, list) and len(tokens) >= len(ids)):
        raise FingerprintError("the server returned no prompt logprobs; enable echo with logprobs")
    for j in positions:
        if not str(tokens[j]).startswith(TOKEN_ID_PREFIX):
            raise FingerprintError("echo logprobs came back as strings; the server must honour "
                                   "return_tokens_as_token_ids or prompt_logprobs")  # fmt: skip
        top = sorted(
            ((_as_id(k), float(v)) for k, v in (tops[j] or {}).items()), key=lambda t: -t[1]
        )
        rows.append(PositionLogprobs(j, int(ids[j]), float(token_lps[j]), tuple(top[:top_k])))
    return rows


def error_text(doc: Any) -> str:
    """The message of any engine's error body (see the module docstring), or ``""``."""
    if not isinstance(doc, dict):
        return ""
    err = doc.get("error")
    if isinstance(err, dict):
        return str(err.get("message", ""))[:300]
    if isinstance(err, str):
        return err[:300]
    if isinstance(doc.get("message"), str):
        return doc["message"][:300]
    return ""


def detect_flavour(http: HttpJson) -> str:
    """``sglang`` when the server answers SGLang's ``/model_info`` (or the older
    ``/get_model_info``) with a ``model_path``, else ``openai``."""
    for path in ("/model_info", "/get_model_info"):
        status, doc = http.call("GET", path)
        if status == 200 and isinstance(doc, dict) and "model_path" in doc:
            return "sglang"
    return "openai"


def parse_sglang_generate(
    meta: Mapping[str, Any], ids: Sequence[int], positions: Sequence[int], top_k: int
) -> list[PositionLogprobs]:
    """Rows from SGLang's ``meta_info`` (``input_token_logprobs``: [logprob, id, text] per token;
    ``input_top_logprobs``: a list of such triples per token, ``None`` for the first)."""
    tok = meta.get("input_token_logprobs")
    top = meta.get("input_top_logprobs")
    if not (isinstance(tok, list) and isinstance(top, list) and len(tok) >= len(ids)):
        raise FingerprintError("the SGLang server returned no input logprobs")
    rows = []
    for j in positions:
        lp, tid = tok[j][0], tok[j][1]
        if int(tid) != int(ids[j]) or lp is None:
            raise FingerprintError("the SGLang server's input logprobs do not match the prompt")
        alts = sorted(((int(t[1]), float(t[0])) for t in (top[j] or [])), key=lambda t: -t[1])
        rows.append(PositionLogprobs(j, int(ids[j]), float(lp), tuple(alts[:top_k])))
    return rows


class _RemoteVocab(Mapping[str, int]):
    """Membership through the server's ``/tokenize``: a text is a token if it tokenizes to one id
    that detokenizes back to it. The full list cannot be enumerated over HTTP."""

    def __init__(self, ref: RemoteReference) -> None:
        self.ref = ref
        self.memo: dict[str, int | None] = {}

    def __getitem__(self, text: str) -> int:
        if text not in self.memo:
            ids = self.ref.tokenize(text)
            ok = len(ids) == 1 and self.ref.token_strings(ids)[0] == text
            self.memo[text] = ids[0] if ok else None
        found = self.memo[text]
        if found is None:
            raise KeyError(text)
        return found

    def __iter__(self) -> Iterator[str]:
        raise FingerprintError("this server cannot list its vocabulary; pass a tokenizer folder")

    def __len__(self) -> int:
        return self.ref.vocab_size()


class RemoteReference(ReferenceModel):
    """A reference served over HTTP by vLLM, SGLang or ``provenance serve-reference``."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        model: str | None = None,
        flavour: str = "openai",
        tokenizer: str | Path | None = None,
        api_key: str | None = None,
        timeout: float = 300.0,
        concurrency: int = 8,
    ) -> None:
        if flavour not in ("openai", "sglang", "auto"):
            raise UsageError(f"unknown server flavour {flavour!r}; use auto, openai or sglang")
        base = url.rstrip("/")
        self.root = base[:-3] if base.endswith("/v1") else base
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = HttpJson(self.root, headers=headers, timeout=timeout)
        self.flavour = detect_flavour(self.http) if flavour == "auto" else flavour
        self.concurrency = max(1, int(concurrency))
        self._bos: int | bool | None = False  # False: not probed yet
        self.model = model or self._served_model()
        self.name = name or self.model
        self._tokenizer: Any = None
        if tokenizer is not None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        self._identity: str | None = None
        self._strings: dict[int, str] = {}
        self._vocab: Mapping[str, int] | None = None
        self._size: int | None = None

    def _served_model(self) -> str:
        status, body = self.http.call("GET", "/v1/models")
        if status == 401:
            raise FingerprintError(
                f"{_public(self.root)}/v1/models: HTTP 401 {error_text(body) or 'Unauthorized'}; "
                "pass the server's key with --reference-server-key-env"
            )
        try:
            return str(body["data"][0]["id"])
        except (TypeError, KeyError, IndexError):
            raise FingerprintError(
                f"{_public(self.root)}/v1/models listed no model (HTTP {status}); name the model"
            ) from None

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        status, doc = self.http.call("POST", path, body)
        if status != 200 or not isinstance(doc, dict):
            detail = error_text(doc)
            raise FingerprintError(f"{_public(self.root)}{path}: HTTP {status} {detail}".strip())
        return doc

    def _server_tokens(self, body: dict[str, Any]) -> list[int]:
        """``/tokenize`` ids, without a BOS the server added although asked not to."""
        ids = [int(i) for i in self._post("/tokenize", body)["tokens"]]
        bos = self._server_bos()
        if bos is not None and ids and ids[0] == bos:
            ids = ids[1:]
        return ids

    def _server_bos(self) -> int | None:
        """The id a server puts in front of every text despite ``add_special_tokens: false``
        (probed once: it is in front of two different texts and detokenizes to nothing when
        special tokens are skipped), else None."""
        if self._bos is False:
            self._bos = None
            one = self._post("/tokenize", {"model": self.model, "prompt": "a",
                                           "add_special_tokens": False})["tokens"]  # fmt: skip
            two = self._post("/tokenize", {"model": self.model, "prompt": "b c",
                                           "add_special_tokens": False})["tokens"]  # fmt: skip
            if one and two and int(one[0]) == int(two[0]) and len(one) >= 2:
                doc = self._post("/detokenize", {"model": self.model, "tokens": [int(one[0])],
                                                 "skip_special_tokens": True})  # fmt: skip
                if (doc.get("text", doc.get("prompt")) or "") == "":
                    self._bos = int(one[0])
        return self._bos  # type: ignore[return-value]

    @property
    def identity(self) -> str:
        """sha256 of the served model id and its rounded scores on a fixed canary text."""
        if self._identity is None:
            ids = self.tokenize(CANARY_TEXT)
            rows = self.score([ids], top_k=5)[0]
            canary = [[r.token_id, round(r.logprob, 2), [i for i, _ in r.top]] for r in rows]
            doc = json.dumps([self.flavour, self.model, ids, canary], separators=(",", ":"))
            self._identity = hashlib.sha256(doc.encode()).hexdigest()
        return self._identity

    def tokenize(self, text: str) -> list[int]:
        if self._tokenizer is not None:
            return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        return self._server_tokens(
            {"model": self.model, "prompt": text, "add_special_tokens": False}
        )

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        if self._tokenizer is not None:
            return [self._tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]
        for i in ids:
            if i not in self._strings:
                doc = self._post("/detokenize", {"model": self.model, "tokens": [int(i)],
                                                 "skip_special_tokens": False})  # fmt: skip
                text = doc.get("text", doc.get("prompt"))  # SGLang: text; vLLM: prompt
                if not isinstance(text, str):
                    raise FingerprintError(f"{_public(self.root)}/detokenize returned no text")
                self._strings[i] = text
        return [self._strings[i] for i in ids]

    def vocab(self) -> Mapping[str, int]:
        if self._vocab is None:
            if self._tokenizer is not None:
                self._vocab = build_vocab(self.token_strings(range(len(self._tokenizer))))
            else:
                self._vocab = _RemoteVocab(self)
        return self._vocab

    def lookup_tokens(self, strings: Sequence[str]) -> list[int | None]:
        table = self.vocab()
        if isinstance(table, _RemoteVocab):
            return [_as_id(s) if s.startswith(TOKEN_ID_PREFIX) else table.get(s) for s in strings]
        return super().lookup_tokens(strings)

    def vocab_size(self) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer)
        return 1 << 31  # unknown over HTTP; ids are checked by the server

    def apply_chat_template(
        self, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True
    ) -> list[int]:
        if self._tokenizer is not None:
            out = self._tokenizer.apply_chat_template(
                [dict(m) for m in messages],
                add_generation_prompt=add_generation_prompt,
                tokenize=True,
            )
            return [int(i) for i in (out["input_ids"] if hasattr(out, "keys") else out)]
        body = {"model": self.model, "messages": [dict(m) for m in messages],
                "add_generation_prompt": add_generation_prompt,
                "add_special_tokens": False}  # fmt: skip
        try:
            return self._server_tokens(body)
        except FingerprintError as exc:
            raise FingerprintError(
                f"{exc}; this server cannot apply its chat template over /tokenize (older "
                "servers take only prompt): give a local tokenizer folder for it"
            ) from None

    def score(
        self,
        sequences: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]] | None = None,
        *,
        top_k: int = 20,
    ) -> list[list[PositionLogprobs]]:
        wanted = check_positions(sequences, positions)
        jobs = list(zip(sequences, wanted, strict=True))
        if self.concurrency == 1 or len(jobs) < 2:
            return [self._score_one(ids, pos, top_k) for ids, pos in jobs]
        from concurrent.futures import ThreadPoolExecutor

        self.http._http()  # one client, made before the threads share it
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
            return list(pool.map(lambda job: self._score_one(job[0], job[1], top_k), jobs))

    def _score_one(
        self, ids: Sequence[int], pos: Sequence[int], top_k: int
    ) -> list[PositionLogprobs]:
        if not pos:
            return []
        if self.flavour == "sglang":
            doc = self._post("/generate", {
                "input_ids": list(ids), "sampling_params": {"max_new_tokens": 0},
                "return_logprob": True, "logprob_start_len": 0, "top_logprobs_num": top_k,
            })  # fmt: skip
            return parse_sglang_generate(doc.get("meta_info", {}), ids, pos, top_k)
        doc = self._post("/v1/completions", {
            "model": self.model, "prompt": list(ids), "echo": True, "max_tokens": 1,
            "temperature": 0, "logprobs": top_k, "prompt_logprobs": top_k,
            "return_tokens_as_token_ids": True,
        })  # fmt: skip
        return parse_openai_prompt_logprobs(doc["choices"][0], ids, pos, top_k)

    def close(self) -> None:
        self.http.close()
