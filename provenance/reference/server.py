"""An OpenAI-compatible server over one in-process reference (what ``serve-reference`` runs).

Routes (vLLM's shapes, so that the remote backend talks to this and to vLLM alike):

* ``GET /v1/models``;
* ``POST /v1/completions``: ``prompt`` (text or token ids), ``max_tokens`` (0 allowed with
  ``echo``), ``echo``, ``logprobs`` (top-k per position), vLLM's ``prompt_logprobs`` and
  ``return_tokens_as_token_ids``;
* ``POST /v1/chat/completions``: ``messages``, ``max_tokens``/``max_completion_tokens``,
  ``logprobs``, ``top_logprobs``;
* ``POST /tokenize`` (``prompt`` or ``messages``) and ``POST /detokenize``, as vLLM has them.

Requests pass :class:`~provenance.netguard.RequestGuard` first: this server's own ``Host`` (or a
``--allow-host`` name) and ``Origin`` only, ``application/json`` bodies of at most
:data:`MAX_REQUEST_BYTES`, so an oversized prompt is refused before it is parsed or tokenized;
then prompts above :data:`MAX_PROMPT_TOKENS` tokens and ``max_tokens`` above
:data:`MAX_NEW_TOKENS` are refused (400) before the model runs.

Decoding is always greedy (temperature is accepted and ignored; the reply says so in
``system_fingerprint``). Every logprob is computed by teacher forcing the final sequence with
:meth:`TransformersReference.score`, so the numbers equal the in-process backend's.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from provenance.netguard import RequestGuard
from provenance.reference.base import TOKEN_ID_PREFIX
from provenance.reference.transformers_backend import TransformersReference

MAX_LOGPROBS = 20
SYSTEM_FINGERPRINT = "provenance-serve-reference-greedy"
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a 256k-token prompt is about 1 MB of text
MAX_PROMPT_TOKENS = 131_072  # also never above the model's own context
MAX_NEW_TOKENS = 4096


class RequestError(Exception):
    """A client error answered with HTTP 400 and an OpenAI-style error body."""


def _int(
    body: dict[str, Any], key: str, default: int | None, *, lo: int = 0, hi: int = 1 << 20
) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(f"{key} must be an integer in {lo}..{hi}")
    return value


class ReferenceService:
    """The request handlers, free of HTTP (tests call them directly too)."""

    def __init__(
        self,
        ref: TransformersReference,
        name: str,
        *,
        max_prompt_tokens: int = MAX_PROMPT_TOKENS,
        max_new_tokens: int = MAX_NEW_TOKENS,
    ) -> None:
        self.ref = ref
        self.name = name
        self.max_len = int(getattr(ref.model.config, "max_position_embeddings", 0) or 0) or None
        self.max_prompt_tokens = max_prompt_tokens
        self.max_new_tokens = max_new_tokens

    def _tok(self, ids: list[int], as_ids: bool) -> list[str]:
        if as_ids:
            return [f"{TOKEN_ID_PREFIX}{i}" for i in ids]
        return self.ref.token_strings(ids)

    def _check_prompt(self, ids: list[int]) -> list[int]:
        if len(ids) > self.max_prompt_tokens:
            raise RequestError(
                f"the prompt has {len(ids)} tokens; this server accepts {self.max_prompt_tokens}"
            )
        return ids

    def _max_tokens(self, body: dict[str, Any], key: str, default: int | None) -> int | None:
        if default is not None:
            default = min(default, self.max_new_tokens)
        return _int(body, key, default, hi=self.max_new_tokens)

    def _check_len(self, n: int) -> None:
        if self.max_len and n > self.max_len:
            raise RequestError(f"{n} tokens exceed the model's context of {self.max_len}")

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": self.name, "object": "model", "created": 0, "owned_by": "provenance",
                      "max_model_len": self.max_len}],
        }  # fmt: skip

    def _prompt_ids(self, prompt: Any) -> list[int]:
        if isinstance(prompt, list) and len(prompt) == 1 and not isinstance(prompt[0], int):
            prompt = prompt[0]
        if isinstance(prompt, str):
            return self._check_prompt(self.ref.tokenize(prompt))
        if isinstance(prompt, list) and prompt and all(isinstance(i, int) for i in prompt):
            self._check_prompt(prompt)
            size = self.ref.vocab_size()
            if any(not 0 <= i < size for i in prompt):
                raise RequestError("prompt token id out of range")
            return list(prompt)
        raise RequestError("prompt must be a string or a non-empty list of token ids (one prompt)")

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt_ids = self._prompt_ids(body.get("prompt"))
        echo = bool(body.get("echo", False))
        max_tokens = self._max_tokens(body, "max_tokens", 16)
        logprobs = _int(body, "logprobs", None, hi=MAX_LOGPROBS)
        prompt_lp = _int(body, "prompt_logprobs", None, hi=MAX_LOGPROBS)
        as_ids = bool(body.get("return_tokens_as_token_ids", False))
        if (body.get("n") or 1) != 1:
            raise RequestError("only n=1 is supported")
        if max_tokens == 0 and not echo:
            raise RequestError("max_tokens=0 needs echo=true")
        self._check_len(len(prompt_ids) + (max_tokens or 0))
        new, stopped = self.ref.generate_greedy(prompt_ids, max_tokens or 0)
        full = prompt_ids + new
        k = max(logprobs or 0, prompt_lp or 0)
        rows = self.ref.score([full], top_k=max(k, 1))[0] if len(full) > 1 else []
        by_pos = {r.position: r for r in rows}
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop" if stopped else "length"}
        gen_text = self.ref.tokenizer.decode(new, skip_special_tokens=False)
        shown = full if echo else new
        start = 0 if echo else len(prompt_ids)
        choice["text"] = (self.ref.tokenizer.decode(prompt_ids) if echo else "") + gen_text
        if logprobs is not None:
            toks = self._tok(shown, as_ids)
            token_lps: list[float | None] = []
            tops: list[dict[str, float] | None] = []
            offsets: list[int] = []
            off = 0
            for n, _tid in enumerate(shown):
                pos = start + n
                offsets.append(off)
                off += len(toks[n])
                row = by_pos.get(pos)
                if row is None:
                    token_lps.append(None)
                    tops.append(None)
                    continue
                token_lps.append(row.logprob)
                names = self._tok([i for i, _ in row.top[:logprobs]], as_ids)
                top = {nm: lp for nm, (_, lp) in zip(names, row.top[:logprobs], strict=True)}
                tops.append(top)
            choice["logprobs"] = {"tokens": toks, "token_logprobs": token_lps,
                                  "top_logprobs": tops, "text_offset": offsets}  # fmt: skip
        else:
            choice["logprobs"] = None
        if prompt_lp is not None:
            plp: list[dict[str, Any] | None] = [None]
            for pos in range(1, len(prompt_ids)):
                row = by_pos[pos]
                entry = {str(i): {"logprob": lp, "rank": r + 1,
                                  "decoded_token": self.ref.token_strings([i])[0]}
                         for r, (i, lp) in enumerate(row.top[:prompt_lp])}  # fmt: skip
                if str(row.token_id) not in entry:
                    rank = 1 + sum(1 for _, lp in row.top if lp > row.logprob)
                    text = self.ref.token_strings([row.token_id])[0]
                    entry[str(row.token_id)] = {
                        "logprob": row.logprob,
                        "rank": rank,
                        "decoded_token": text,
                    }
                plp.append(entry)
            choice["prompt_logprobs"] = plp
        return self._envelope("text_completion", choice, len(prompt_ids), len(new))

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("messages must be a non-empty list")
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("content"), str):
                raise RequestError("each message needs a role and a string content")
        max_tokens = self._max_tokens(body, "max_completion_tokens", None)
        if max_tokens is None:
            max_tokens = self._max_tokens(body, "max_tokens", 16)
        want_lp = bool(body.get("logprobs", False))
        top_n = _int(body, "top_logprobs", None, hi=MAX_LOGPROBS)
        if top_n is not None and not want_lp:
            raise RequestError("top_logprobs needs logprobs=true")
        prompt_ids = self._check_prompt(
            self.ref.apply_chat_template(messages, add_generation_prompt=True)
        )
        self._check_len(len(prompt_ids) + (max_tokens or 0))
        new, stopped = self.ref.generate_greedy(prompt_ids, max_tokens or 0)
        shown = new[:-1] if stopped else new
        content = self.ref.tokenizer.decode(shown, skip_special_tokens=False)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop" if stopped else "length",
            "logprobs": None,
        }
        if want_lp and new:
            full = prompt_ids + new
            pos = list(range(len(prompt_ids), len(full)))
            rows = self.ref.score([full], [pos], top_k=max(top_n or 0, 1))[0]
            items = []
            for row in rows:
                text = self.ref.token_strings([row.token_id])[0]
                alts = [(self.ref.token_strings([i])[0], lp) for i, lp in row.top[: top_n or 0]]
                items.append({
                    "token": text, "logprob": row.logprob, "bytes": list(text.encode()),
                    "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                                     for t, lp in alts],
                })  # fmt: skip
            choice["logprobs"] = {"content": items}
        return self._envelope("chat.completion", choice, len(prompt_ids), len(new))

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        if "messages" in body:
            ids = self.ref.apply_chat_template(
                body["messages"],
                add_generation_prompt=bool(body.get("add_generation_prompt", True)),
            )
        elif isinstance(body.get("prompt"), str):
            ids = self.ref.tokenize(body["prompt"])
        else:
            raise RequestError("tokenize needs prompt (a string) or messages")
        self._check_prompt(ids)
        out: dict[str, Any] = {"tokens": ids, "count": len(ids), "max_model_len": self.max_len}
        if body.get("return_token_strs"):
            out["token_strs"] = self.ref.token_strings(ids)
        return out

    def detokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        tokens = body.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(i, int) for i in tokens):
            raise RequestError("tokens must be a list of token ids")
        size = self.ref.vocab_size()
        if any(not 0 <= i < size for i in tokens):
            raise RequestError("token id out of range")
        return {"prompt": self.ref.tokenizer.decode(tokens, clean_up_tokenization_spaces=False)}

    def _envelope(
        self, kind: str, choice: dict[str, Any], prompt_n: int, completion_n: int
    ) -> dict[str, Any]:
        return {
            "id": f"{'cmpl' if kind == 'text_completion' else 'chatcmpl'}-{uuid.uuid4().hex[:24]}",
            "object": kind,
            "created": int(time.time()),
            "model": self.name,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [choice],
            "usage": {"prompt_tokens": prompt_n, "completion_tokens": completion_n,
                      "total_tokens": prompt_n + completion_n},
        }  # fmt: skip


def create_app(
    service: ReferenceService,
    *,
    allow_hosts: tuple[str, ...] = (),
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> Any:
    """The starlette application over ``service``, behind :class:`~provenance.netguard.RequestGuard`
    (own Host and Origin only, JSON bodies of at most ``max_request_bytes``)."""
    from provenance.optional import require

    require("starlette", "serve", "serving a reference model")
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status)

    def post(handler: Any) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                return error(400, "the body must be a JSON object")
            if not isinstance(body, dict):
                return error(400, "the body must be a JSON object")
            model = body.get("model")
            if model is not None and model != service.name and handler != service.detokenize:
                message = f"model {model!r} does not exist; this server serves {service.name!r}"
                return error(404, message, "not_found_error")
            try:
                return JSONResponse(await run_in_threadpool(handler, body))
            except RequestError as exc:
                return error(400, str(exc))

        return endpoint

    async def models(_: Request) -> JSONResponse:
        return JSONResponse(service.models())

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/v1/completions", post(service.completions), methods=["POST"]),
        Route("/v1/chat/completions", post(service.chat), methods=["POST"]),
        Route("/tokenize", post(service.tokenize), methods=["POST"]),
        Route("/detokenize", post(service.detokenize), methods=["POST"]),
    ])  # fmt: skip
    return RequestGuard(app, allow_hosts=allow_hosts, json_only=True, max_body=max_request_bytes)


class BackgroundServer:
    """Run an ASGI app with uvicorn in a daemon thread (``port=0`` picks a free port).

    A context manager: ``with BackgroundServer(app) as srv: srv.url`` — stopped on exit.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        from provenance.optional import require

        require("uvicorn", "serve", "serving a reference model")
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.host = host
        self.port = port
        self._thread: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        import threading

        self._thread = threading.Thread(target=self.server.run, name="serve-reference", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
