"""Fixture servers that answer like the real engines, field for field, over a tiny real model.

Shapes were read from the engines' own source (release wheels sglang 0.5.23 and vllm 0.33.0):

* SGLang ``POST /generate``: ``GenerateReqInput`` (``python/sglang/srt/managers/io_struct.py``;
  ``_validate_inputs``: "Either text, input_ids or input_embeds should be provided."), unknown
  ``sampling_params`` keys refused by the schema check (``sglang/api/v1/api_types.py``, answered
  ``{"error": "<string>"}`` with 400), the response ``{"text", "output_ids", "meta_info"}`` with
  ``input_token_logprobs`` / ``input_top_logprobs`` entries ``[logprob, token_id, text|null]``,
  the first prompt position ``[null, id, null]`` and ``null`` top list
  (``scheduler_components/logprob_result_processor.py``: ``[None] + input_token_logprobs[:-1]``);
* SGLang ``/tokenize`` and ``/detokenize`` (``entrypoints/openai/serving_tokenize.py``,
  ``openai/protocol.py``): exactly one of ``prompt`` / ``messages`` (flat error
  ``{"object": "error", "message", "type": "Bad Request", "param": null, "code": 400}``),
  ``add_special_tokens`` defaulting to true, the answer ``{"tokens", "count", "max_model_len"}``;
  detokenize ``{"tokens", "skip_special_tokens": true}`` → ``{"text"}``. ``bos_always=True``
  plays a server that puts a BOS in front even when asked not to;
* SGLang ``GET /model_info`` (``entrypoints/http_server.py``): ``model_path``,
  ``tokenizer_path``, ``is_generation``; ``/v1/models`` with ``owned_by: "sglang"``;
* vLLM: the project's ``serve-reference`` app (vLLM's ``/v1/completions`` shapes) behind vLLM's
  ``--api-key`` check (``vllm/entrypoints/serve/middleware/authenticate.py``: only paths starting
  ``/v1`` are checked; 401 ``{"error": "Unauthorized"}``) and ``--max-logprobs 20``
  (``SamplingParams._validate_logprobs``: 400 ``{"error": {"message": "Requested sample
  logprobs of N, which is greater than max allowed: 20", "type": "BadRequestError",
  "param": "logprobs", "code": 400}}``), counting requests in flight.
"""

from __future__ import annotations

import threading
from typing import Any

from provenance.reference.transformers_backend import TransformersReference

SGLANG_SAMPLING_KEYS = {
    "max_new_tokens", "temperature", "top_p", "top_k", "min_p", "stop", "stop_token_ids",
    "skip_special_tokens", "spaces_between_special_tokens", "n", "ignore_eos",
    "frequency_penalty", "presence_penalty", "repetition_penalty", "min_new_tokens", "json_schema",
    "regex", "ebnf", "no_stop_trim", "custom_params", "stream_interval", "logit_bias",
}  # fmt: skip


def _flat_error(message: str) -> dict[str, Any]:
    return {"object": "error", "message": message, "type": "Bad Request", "param": None,
            "code": 400}  # fmt: skip


def sglang_app(ref: TransformersReference, name: str, *, bos_always: bool = False) -> Any:
    """An SGLang-shaped server over ``ref`` (see the module docstring)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    tok = ref.tokenizer
    bos = tok.convert_tokens_to_ids("<|endoftext|>")
    specials = set(tok.all_special_ids) | {bos}

    def generate(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        params = body.get("sampling_params") or {}
        unknown = sorted(set(params) - SGLANG_SAMPLING_KEYS)
        if unknown:
            return 400, {"error": f"unknown field `{unknown[0]}`, expected one of ..."}
        ids = body.get("input_ids")
        if ids is None and body.get("text") is not None:
            ids = ref.tokenize(body["text"])
        if not ids:
            return 400, {"error": {"message": "Either text, input_ids or input_embeds should be "
                                              "provided."}}  # fmt: skip
        meta: dict[str, Any] = {
            "id": "fixture", "finish_reason": {"type": "length", "length": 0},
            "prompt_tokens": len(ids), "completion_tokens": 0, "cached_tokens": 0,
        }  # fmt: skip
        if body.get("return_logprob") and body.get("logprob_start_len", -1) == 0:
            k = int(body.get("top_logprobs_num") or 0)
            rows = ref.score([ids], [list(range(1, len(ids)))], top_k=max(k, 1))[0]
            meta["input_token_logprobs"] = [[None, ids[0], None]] + [
                [r.logprob, r.token_id, None] for r in rows
            ]
            if k > 0:
                meta["input_top_logprobs"] = [None] + [
                    [[lp, tid, None] for tid, lp in r.top[:k]] for r in rows
                ]
            meta["output_token_logprobs"] = []
        return 200, {"text": "", "output_ids": [], "meta_info": meta}

    def tokenize(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if (body.get("prompt") is None) == (body.get("messages") is None):
            return 400, _flat_error("Exactly one of 'prompt' or 'messages' must be provided.")
        if body.get("messages") is not None:
            ids = ref.apply_chat_template(body["messages"])
        else:
            ids = ref.tokenize(body["prompt"])
        if bos_always or body.get("add_special_tokens", True):
            ids = [bos, *ids]
        return 200, {"tokens": ids, "count": len(ids), "max_model_len": 512}

    def detokenize(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = [int(i) for i in body.get("tokens") or []]
        if body.get("skip_special_tokens", True):
            ids = [i for i in ids if i not in specials]
        return 200, {"text": tok.decode(ids, clean_up_tokenization_spaces=False)}

    def post(handler: Any) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            status, doc = await run_in_threadpool(handler, await request.json())
            return JSONResponse(doc, status)

        return endpoint

    async def model_info(request: Request) -> JSONResponse:
        return JSONResponse({"model_path": str(ref.folder), "tokenizer_path": str(ref.folder),
                             "is_generation": True})  # fmt: skip

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{
            "id": name, "object": "model", "owned_by": "sglang", "root": str(ref.folder),
            "max_model_len": 512}]})  # fmt: skip

    return Starlette(routes=[
        Route("/generate", post(generate), methods=["POST"]),
        Route("/tokenize", post(tokenize), methods=["POST"]),
        Route("/detokenize", post(detokenize), methods=["POST"]),
        Route("/model_info", model_info, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
    ])  # fmt: skip


class InFlight:
    """Counts concurrent requests (the most seen at once in ``peak``)."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()


def vllm_app(ref: TransformersReference, name: str, *, api_key: str, flight: InFlight) -> Any:
    """``serve-reference`` behind vLLM's API-key check and logprob limit (module docstring)."""
    import asyncio

    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import JSONResponse

    from provenance.reference.server import ReferenceService, create_app

    app = create_app(ReferenceService(ref, name))

    async def vllm_rules(request: Any, call_next: Any) -> Any:
        if request.url.path.startswith("/v1") and (
            request.headers.get("authorization") != f"Bearer {api_key}"
        ):
            return JSONResponse({"error": "Unauthorized"}, 401)
        if request.method == "POST" and request.url.path == "/v1/completions":
            body = await request.json()
            for param in ("logprobs", "prompt_logprobs"):
                value = body.get(param)
                if isinstance(value, int) and value > 20:
                    what = "sample" if param == "logprobs" else "prompt"
                    return JSONResponse({"error": {
                        "message": f"Requested {what} logprobs of {value}, which is greater than "
                        "max allowed: 20", "type": "BadRequestError", "param": param,
                        "code": 400}}, 400)  # fmt: skip
        with flight.lock:
            flight.now += 1
            flight.peak = max(flight.peak, flight.now)
        try:
            await asyncio.sleep(0.02)  # let concurrent requests overlap
            return await call_next(request)
        finally:
            with flight.lock:
                flight.now -= 1

    return BaseHTTPMiddleware(app, dispatch=vllm_rules)
