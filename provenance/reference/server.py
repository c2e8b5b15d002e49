"""An OpenAI-compatible server over one in-process reference (what ``serve-reference`` runs).

Routes (vLLM's shapes, so that the remote backend talks to this and to vLLM alike):

* ``GET /v1/models``; ``GET /health`` (with the requests at work and waiting);
* ``POST /v1/completions``: ``prompt`` (text or token ids), ``max_tokens`` (0 allowed with
  ``echo``), ``echo``, ``logprobs`` (top-k per position), vLLM's ``prompt_logprobs`` and
  ``return_tokens_as_token_ids``;
* ``POST /v1/chat/completions``: ``messages``, ``max_tokens``/``max_completion_tokens``,
  ``logprobs``, ``top_logprobs``;
* ``POST /tokenize`` (``prompt`` or ``messages``) and ``POST /detokenize``, as vLLM has them.

Bounded by construction, cheapest check first; each bound is a ``serve-reference`` option:

1. :class:`~provenance.reference.admission.Admission`: at most ``--max-concurrency`` requests at
   work and ``--max-queue`` waiting (before their bodies are read); the rest get 503 at once.
2. :class:`~provenance.netguard.RequestGuard`: this server's own ``Host`` (or a ``--allow-host``
   name) and ``Origin`` only, ``application/json`` bodies of at most ``--max-request-bytes``.
3. :mod:`~provenance.reference.bodies`: the JSON and every field checked (400 with one line
   otherwise); token-id prompts over ``--max-prompt-tokens`` refused by their length, text over
   16 bytes per allowed token refused before it is tokenized, ``max_tokens`` over
   ``--max-tokens`` refused.
4. Then the token count and the model's context; the model scores in chunks of positions
   (``--max-logits-mib`` of logits per forward, see
   :mod:`~provenance.reference.transformers_backend`), so no request builds the
   ``[positions, vocabulary]`` matrix.

Decoding is always greedy (temperature is accepted and ignored; the reply says so in
``system_fingerprint``). Every logprob is computed by teacher forcing the final sequence with
:meth:`TransformersReference.score`, so the numbers equal the in-process backend's.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from provenance.errors import FingerprintError, UsageError
from provenance.netguard import RequestGuard
from provenance.reference.admission import BODY_TIMEOUT, MAX_CONCURRENCY, MAX_QUEUE, Admission
from provenance.reference.base import TOKEN_ID_PREFIX
from provenance.reference.bodies import (
    MAX_LOGPROBS,
    PROMPT_BYTES_PER_TOKEN,
    Limits,
    RequestError,
    error_document,
    model_name,
    parse_chat,
    parse_completion,
    parse_detokenize,
    parse_json,
    parse_tokenize,
)
from provenance.reference.transformers_backend import TransformersReference

__all__ = ["MAX_LOGPROBS", "BackgroundServer", "ReferenceService", "RequestError", "create_app"]

SYSTEM_FINGERPRINT = "provenance-serve-reference-greedy"
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a 32k-token prompt is at most about 300 KB of token ids
MAX_PROMPT_TOKENS = 32_768  # also never above the model's own context
MAX_NEW_TOKENS = 4096
LOGITS_BUDGET = 64 << 20  # --max-logits-mib: float32 logits of one forward, rows × vocabulary
log = logging.getLogger(__name__)


class ReferenceService:
    """The request handlers, free of HTTP (tests call them directly too): each takes a JSON
    object and returns one, or raises :class:`RequestError` (a 400 for the client)."""

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
        self.limits = Limits(max_prompt_tokens, max_new_tokens, ref.vocab_size())

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

    def _check_len(self, n: int) -> None:
        if self.max_len and n > self.max_len:
            raise RequestError(f"{n} tokens exceed the model's context of {self.max_len}")

    def _chat_ids(self, messages: Sequence[dict[str, str]], generation_prompt: bool) -> list[int]:
        """The messages rendered with the chat template, held to the text bound, tokenized."""
        from jinja2 import TemplateError

        try:
            text = self.ref.render_chat(messages, add_generation_prompt=generation_prompt)
        except UsageError as exc:
            raise RequestError(f"this model cannot chat: {exc}") from None
        except TemplateError as exc:
            raise RequestError(f"the chat template refused the messages: {exc}") from None
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise RequestError("the chat template made text that is not valid Unicode") from None
        if size > self.limits.max_text_bytes:
            raise RequestError(
                f"the rendered chat is {size} bytes; this server tokenizes at most "
                f"{self.limits.max_text_bytes} ({PROMPT_BYTES_PER_TOKEN} per token of "
                "--max-prompt-tokens)"
            )
        return self._check_prompt(self.ref.tokenize(text))

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": self.name, "object": "model", "created": 0, "owned_by": "provenance",
                      "max_model_len": self.max_len}],
        }  # fmt: skip

    def _prompt_ids(self, prompt: str | tuple[int, ...]) -> list[int]:
        if isinstance(prompt, str):
            ids = self._check_prompt(self.ref.tokenize(prompt))
            if not ids:
                raise RequestError("prompt is empty once tokenized")
            return ids
        return list(prompt)  # ids: counted and range-checked by the parser

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        req = parse_completion(body, self.limits)
        prompt_ids = self._prompt_ids(req.prompt)
        echo, max_tokens, logprobs, as_ids = req.echo, req.max_tokens, req.logprobs, req.as_ids
        prompt_lp = req.prompt_logprobs
        self._check_len(len(prompt_ids) + max_tokens)
        new, stopped = self.ref.generate_greedy(prompt_ids, max_tokens)
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
        req = parse_chat(body, self.limits)
        max_tokens, want_lp, top_n = req.max_tokens, req.logprobs, req.top_logprobs
        prompt_ids = self._chat_ids(req.messages, generation_prompt=True)
        self._check_len(len(prompt_ids) + max_tokens)
        new, stopped = self.ref.generate_greedy(prompt_ids, max_tokens)
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
        req = parse_tokenize(body, self.limits)
        if req.messages is not None:
            ids = self._chat_ids(req.messages, req.add_generation_prompt)
        else:
            ids = self._check_prompt(self.ref.tokenize(req.prompt or ""))
        out: dict[str, Any] = {"tokens": ids, "count": len(ids), "max_model_len": self.max_len}
        if req.return_token_strs:
            out["token_strs"] = self.ref.token_strings(ids)
        return out

    def detokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        req = parse_detokenize(body, self.limits)
        text = self.ref.tokenizer.decode(
            list(req.tokens),
            skip_special_tokens=req.skip_special_tokens,
            clean_up_tokenization_spaces=False,
        )
        return {"prompt": text}

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
    max_concurrency: int = MAX_CONCURRENCY,
    max_queue: int = MAX_QUEUE,
    body_timeout: float = BODY_TIMEOUT,
) -> Any:
    """The starlette application over ``service`` behind
    :class:`~provenance.reference.admission.Admission` (``max_concurrency`` at work,
    ``max_queue`` waiting, bodies within ``body_timeout`` s) and
    :class:`~provenance.netguard.RequestGuard` (own Host and Origin only, JSON bodies of at most
    ``max_request_bytes``). Every answer that is not a 200 has OpenAI's error shape, one line."""
    from provenance.optional import require

    require("starlette", "serve", "serving a reference model")
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        return JSONResponse(error_document(status, message, kind), status)

    def post(handler: Any) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            raw = await request.body()  # at most max_request_bytes: the guard read it
            try:
                body = parse_json(raw)
                model = model_name(body)
            except RequestError as exc:
                return error(400, str(exc))
            if model is not None and model != service.name and handler != service.detokenize:
                message = f"model {model!r} does not exist; this server serves {service.name!r}"
                return error(404, message, "not_found_error")
            try:
                return JSONResponse(await run_in_threadpool(handler, body))
            except RequestError as exc:
                return error(400, str(exc))
            except FingerprintError as exc:  # out of memory while scoring
                return error(503, str(exc), "server_error")
            except Exception as exc:  # a bug: one line for the client, the traceback logged
                log.exception("serve-reference: %s failed", request.url.path)
                return error(500, f"internal error ({type(exc).__name__})", "server_error")

        return endpoint

    async def models(_: Request) -> JSONResponse:
        return JSONResponse(service.models())

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "active": admission.active,
                             "queued": admission.queued})  # fmt: skip

    app = Starlette(routes=[
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/v1/completions", post(service.completions), methods=["POST"]),
        Route("/v1/chat/completions", post(service.chat), methods=["POST"]),
        Route("/tokenize", post(service.tokenize), methods=["POST"]),
        Route("/detokenize", post(service.detokenize), methods=["POST"]),
    ])  # fmt: skip
    guard = RequestGuard(app, allow_hosts=allow_hosts, json_only=True, max_body=max_request_bytes)
    admission = Admission(
        guard, max_active=max_concurrency, max_queued=max_queue, body_timeout=body_timeout
    )
    return admission


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
