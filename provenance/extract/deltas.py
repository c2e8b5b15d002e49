"""Text deltas of streamed responses: where each chunk of generated text ends.

Streaming APIs send the generated text in small pieces, most of them one token each (OpenAI, and
every server built on its chat-chunk shape: vLLM, SGLang, DeepSeek, Fireworks, Groq …). The
piece lengths are therefore a sample of the serving tokenizer's segmentation, which the
stream-boundary fingerprint reads (``provenance.fingerprint.tokenizer.boundary``).

:func:`text_deltas` is a pure function over one parsed stream frame; :class:`DeltaLog` collects
the *lengths* of the pieces per channel (``content``, ``reasoning``; a second choice of a chat
chunk is ``content.1``), so an exchange stores offsets, never a second copy of the text. With
``keep_text`` the pieces themselves are kept too (the fingerprint re-reads stored bodies that
way). Empty pieces (role-only chunks) are not deltas.
"""

from __future__ import annotations

from typing import Any

MAX_DELTAS = 20_000  # per channel: a longer stream keeps its first MAX_DELTAS pieces

_RESPONSES_TYPES = {
    "response.output_text.delta": "content",
    "response.reasoning_text.delta": "reasoning",
    "response.reasoning_summary_text.delta": "reasoning",
}
_ANTHROPIC_DELTAS = {"text_delta": ("text", "content"), "thinking_delta": ("thinking", "reasoning")}


def text_deltas(doc: Any) -> list[tuple[str, str]]:
    """``[(channel, text)]`` of the generated text in one stream frame (none for other frames).

    Shapes: OpenAI chat chunks (``choices[].delta.content``, ``reasoning_content``/``reasoning``),
    OpenAI Responses events (``response.output_text.delta`` …), Anthropic
    ``content_block_delta`` (``text_delta``, ``thinking_delta``), Gemini stream parts
    (``candidates[0].content.parts[].text``; ``thought: true`` is reasoning), Cohere v2
    ``content-delta`` and Ollama/NDJSON ``message.content``.
    """
    if not isinstance(doc, dict):
        return []
    out: list[tuple[str, str]] = []
    kind = doc.get("type")
    if isinstance(kind, str):
        if kind in _RESPONSES_TYPES and isinstance(doc.get("delta"), str):
            return [(_RESPONSES_TYPES[kind], doc["delta"])]
        if kind == "content_block_delta" and isinstance(doc.get("delta"), dict):
            delta = doc["delta"]
            field, channel = _ANTHROPIC_DELTAS.get(str(delta.get("type")), ("", ""))
            value = delta.get(field) if field else None
            return [(channel, value)] if isinstance(value, str) and value else []
        if kind == "content-delta":
            text = _dig(doc, "delta", "message", "content", "text")
            return [("content", text)] if isinstance(text, str) and text else []
    choices = doc.get("choices")
    if isinstance(choices, list):
        for choice in choices[:4]:
            if not isinstance(choice, dict) or not isinstance(choice.get("delta"), dict):
                continue
            index = choice.get("index", 0)
            suffix = f".{index}" if isinstance(index, int) and index > 0 else ""
            delta = choice["delta"]
            for key, channel in (
                ("reasoning_content", "reasoning"),
                ("reasoning", "reasoning"),
                ("content", "content"),
            ):
                value = delta.get(key)
                if isinstance(value, str) and value:
                    out.append((channel + suffix, value))
        return out
    candidates = doc.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        parts = _dig(candidates[0], "content", "parts")
        if isinstance(parts, list):
            for part in parts:
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    out.append(("reasoning" if part.get("thought") else "content", part["text"]))
        return out
    message = doc.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), str) and message["content"]:
        return [("content", message["content"])]
    return out


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


class DeltaLog:
    """Per-channel piece lengths (in characters) of one streamed body, in arrival order."""

    __slots__ = ("_keep", "lengths", "texts")

    def __init__(self, *, keep_text: bool = False) -> None:
        self._keep = keep_text
        self.lengths: dict[str, list[int]] = {}
        self.texts: dict[str, list[str]] = {}

    def add(self, doc: Any) -> None:
        """Record the text pieces of one parsed frame."""
        for channel, text in text_deltas(doc):
            lengths = self.lengths.setdefault(channel, [])
            if len(lengths) >= MAX_DELTAS:
                continue
            lengths.append(len(text))
            if self._keep:
                self.texts.setdefault(channel, []).append(text)

    def result(self) -> dict[str, list[int]] | None:
        """``{channel: [length, …]}``, or None when the body carried no text pieces."""
        return {k: list(v) for k, v in self.lengths.items()} or None
