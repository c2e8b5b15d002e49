"""Request bodies of ``serve-reference``: bytes → a validated, typed request, or one error line.

Pure functions, no model and no HTTP. :func:`parse_json` turns a body's bytes into a JSON object;
``parse_completion``, ``parse_chat``, ``parse_tokenize`` and ``parse_detokenize`` turn that object
into a frozen request. Every way a body can be wrong raises :class:`RequestError`, whose message
is one line for the client (HTTP 400): bytes that are not UTF-8 JSON, nesting deeper than the
parser's recursion limit, a top level that is not an object, a field of the wrong type or out of
its range, a string that is not valid Unicode (a lone surrogate cannot be tokenized), an empty
prompt, a message without a string role and content.

Cheap bounds come first, so that what a request costs is bounded before anything expensive
runs: a token-id prompt longer than :attr:`Limits.max_prompt_tokens` is refused by its length
before its ids are looked at, and a text prompt (or chat message, or rendered chat) of more than
:attr:`Limits.max_text_bytes` UTF-8 bytes — ``PROMPT_BYTES_PER_TOKEN`` per allowed token, about
four times what natural text needs — is refused before it is tokenized. The token count itself is
checked after tokenizing (by the service).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LOGPROBS = 20
PROMPT_BYTES_PER_TOKEN = 16  # natural text is 3–6 bytes per token in the BPEs we serve
DEFAULT_MAX_TOKENS = 16  # OpenAI's completions default
MESSAGE_KEYS = ("role", "content", "name")  # what of a message reaches the chat template


class RequestError(Exception):
    """A client error, answered with HTTP 400 and an OpenAI-style error body; one line."""


def error_document(status: int, message: str, kind: str = "invalid_request_error") -> dict:
    """OpenAI's error shape: ``{"error": {"message", "type", "code"}}``, the message on one line
    of at most 300 characters."""
    line = " ".join(message.split())
    return {"error": {"message": line[:300], "type": kind, "code": status}}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_prompt_tokens: int
    max_new_tokens: int
    vocab_size: int  # ids must be in 0..vocab_size-1

    @property
    def max_text_bytes(self) -> int:
        """UTF-8 bytes of text tokenized for one request (prompt, messages or rendered chat)."""
        return self.max_prompt_tokens * PROMPT_BYTES_PER_TOKEN


@dataclass(frozen=True)
class CompletionRequest:
    prompt: str | tuple[int, ...]  # text (not yet tokenized) or token ids
    max_tokens: int
    echo: bool
    logprobs: int | None
    prompt_logprobs: int | None
    as_ids: bool  # vLLM's return_tokens_as_token_ids


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    logprobs: bool
    top_logprobs: int | None


@dataclass(frozen=True)
class TokenizeRequest:
    prompt: str | None  # exactly one of prompt and messages is set
    messages: tuple[dict[str, str], ...] | None
    add_generation_prompt: bool
    return_token_strs: bool


@dataclass(frozen=True)
class DetokenizeRequest:
    tokens: tuple[int, ...]
    skip_special_tokens: bool


def parse_json(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw`` (UTF-8, -16 or -32 as JSON allows)."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise RequestError("the body is not valid JSON: it is nested too deeply") from None
    except UnicodeDecodeError:
        raise RequestError("the body is not valid JSON: it is not UTF-8") from None
    except ValueError as exc:
        raise RequestError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object")
    return body


def model_name(body: Mapping[str, Any]) -> str | None:
    """The ``model`` a body names (None: any)."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestError("model must be a string")
    return model


def parse_completion(body: Mapping[str, Any], limits: Limits) -> CompletionRequest:
    """``POST /v1/completions``: one prompt (text, ids, or a batch of one of either)."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, str):
        text: str | tuple[int, ...] = check_text(prompt, "prompt", limits)
        if not prompt:
            raise RequestError("prompt is empty")
    elif isinstance(prompt, list):
        text = check_ids(prompt, "prompt", limits, cap=limits.max_prompt_tokens)
        if not text:
            raise RequestError("prompt is empty")
    else:
        raise RequestError("prompt must be a string or a list of token ids (one prompt)")
    echo = _bool(body, "echo", False)
    max_tokens = _int(body, "max_tokens", _default_tokens(limits), hi=limits.max_new_tokens)
    if _int(body, "n", 1, lo=1, hi=1 << 20) != 1:
        raise RequestError("only n=1 is supported")
    if max_tokens == 0 and not echo:
        raise RequestError("max_tokens=0 needs echo=true")
    return CompletionRequest(
        prompt=text,
        max_tokens=max_tokens,
        echo=echo,
        logprobs=_opt_int(body, "logprobs", hi=MAX_LOGPROBS),
        prompt_logprobs=_opt_int(body, "prompt_logprobs", hi=MAX_LOGPROBS),
        as_ids=_bool(body, "return_tokens_as_token_ids", False),
    )


def parse_chat(body: Mapping[str, Any], limits: Limits) -> ChatRequest:
    """``POST /v1/chat/completions``: string messages; ``max_completion_tokens`` before the
    older ``max_tokens``."""
    messages = check_messages(body.get("messages"), limits)
    if body.get("max_completion_tokens") is not None:
        max_tokens = _int(body, "max_completion_tokens", 0, hi=limits.max_new_tokens)
    else:
        max_tokens = _int(body, "max_tokens", _default_tokens(limits), hi=limits.max_new_tokens)
    want = _bool(body, "logprobs", False)
    top = _opt_int(body, "top_logprobs", hi=MAX_LOGPROBS)
    if top is not None and not want:
        raise RequestError("top_logprobs needs logprobs=true")
    return ChatRequest(messages, max_tokens, want, top)


def parse_tokenize(body: Mapping[str, Any], limits: Limits) -> TokenizeRequest:
    """``POST /tokenize``: ``messages`` (the chat template) or ``prompt`` (a string, may be
    empty), as vLLM has it."""
    flags = {
        "add_generation_prompt": _bool(body, "add_generation_prompt", True),
        "return_token_strs": _bool(body, "return_token_strs", False),
    }
    if "messages" in body:
        return TokenizeRequest(None, check_messages(body["messages"], limits), **flags)
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise RequestError("tokenize needs prompt (a string) or messages")
    return TokenizeRequest(check_text(prompt, "prompt", limits), None, **flags)


def parse_detokenize(body: Mapping[str, Any], limits: Limits) -> DetokenizeRequest:
    """``POST /detokenize``: ``tokens``, ids of this vocabulary."""
    tokens = body.get("tokens")
    if not isinstance(tokens, list):
        raise RequestError("tokens must be a list of token ids")
    cap = limits.max_prompt_tokens + limits.max_new_tokens
    ids = check_ids(tokens, "tokens", limits, cap=cap)
    return DetokenizeRequest(ids, _bool(body, "skip_special_tokens", False))


def check_text(value: str, what: str, limits: Limits) -> str:
    """``value`` when it is valid Unicode of at most ``limits.max_text_bytes`` UTF-8 bytes."""
    if len(value) > limits.max_text_bytes:  # characters ≤ bytes: refused without encoding it
        size = f"over {limits.max_text_bytes}"
    else:
        try:
            n = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise RequestError(f"{what} is not valid Unicode (a lone surrogate)") from None
        if n <= limits.max_text_bytes:
            return value
        size = str(n)
    raise RequestError(
        f"{what} is {size} bytes; this server tokenizes at most {limits.max_text_bytes} bytes of "
        f"text ({PROMPT_BYTES_PER_TOKEN} per token of --max-prompt-tokens); send token ids instead"
    )


def check_ids(value: list[Any], what: str, limits: Limits, *, cap: int) -> tuple[int, ...]:
    """``value`` as token ids: at most ``cap`` of them (checked first), each an integer (not a
    boolean) in ``0..vocab_size-1``."""
    if len(value) > cap:
        raise RequestError(f"{what} has {len(value)} tokens; this server accepts {cap}")
    for i in value:
        if isinstance(i, bool) or not isinstance(i, int):
            raise RequestError(f"{what} must be a string or a list of integer token ids")
        if not 0 <= i < limits.vocab_size:
            raise RequestError(f"{what} token id {i} is out of range 0..{limits.vocab_size - 1}")
    return tuple(value)


def check_messages(value: Any, limits: Limits) -> tuple[dict[str, str], ...]:
    """Chat messages: a non-empty list of objects with a string ``role`` and ``content`` (and
    optionally ``name``); only those keys are kept. Their text together is held to
    ``limits.max_text_bytes``."""
    if not isinstance(value, list) or not value:
        raise RequestError("messages must be a non-empty list")
    if len(value) > limits.max_prompt_tokens:
        raise RequestError(f"{len(value)} messages; this server accepts {limits.max_prompt_tokens}")
    out: list[dict[str, str]] = []
    budget = limits.max_text_bytes
    for m in value:
        if not isinstance(m, dict):
            raise RequestError("each message must be an object with a role and a content")
        kept: dict[str, str] = {}
        for key in MESSAGE_KEYS:
            value = m.get(key)
            if value is None:
                continue  # a missing role or content is refused below
            if not isinstance(value, str):
                raise RequestError(f"a message's {key} must be a string")
            kept[key] = check_text(value, f"a message's {key}", limits)
            budget -= len(value.encode("utf-8"))
        if "role" not in kept or "content" not in kept:
            raise RequestError("each message needs a string role and a string content")
        if budget < 0:
            raise RequestError(
                f"the messages are over {limits.max_text_bytes} bytes of text; this server "
                f"tokenizes at most that ({PROMPT_BYTES_PER_TOKEN} per token of "
                "--max-prompt-tokens); send token ids to /v1/completions instead"
            )
        out.append(kept)
    return tuple(out)


def _default_tokens(limits: Limits) -> int:
    return min(DEFAULT_MAX_TOKENS, limits.max_new_tokens)


def _int(body: Mapping[str, Any], key: str, default: int, *, lo: int = 0, hi: int) -> int:
    """An integer field in ``lo..hi``; absent or null: ``default``."""
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(f"{key} must be an integer in {lo}..{hi}")
    return value


def _opt_int(body: Mapping[str, Any], key: str, *, hi: int) -> int | None:
    """An optional integer field in ``0..hi`` (absent or null: None)."""
    return None if body.get(key) is None else _int(body, key, 0, hi=hi)


def _bool(body: Mapping[str, Any], key: str, default: bool) -> bool:
    """A boolean field; absent or null: ``default``."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"{key} must be true or false")
    return value
