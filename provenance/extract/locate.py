"""Model ids and the API from the URL and headers of an exchange.

URL templates (each location is reported as the template, with ``{model}`` where the id sat):

* Gemini API: ``/v1beta/models/{model}:generateContent`` (also ``streamGenerateContent``,
  ``countTokens``, ``embedContent``; ``/v1/`` and ``tunedModels/`` too),
  https://ai.google.dev/api/generate-content
* Vertex AI: ``/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:
  {method}`` (Google, Anthropic ``rawPredict``/``streamRawPredict``, open models),
  https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.publishers.models
* AWS Bedrock runtime: ``/model/{model}/invoke`` (and ``invoke-with-response-stream``,
  ``converse``, ``converse-stream``), the id URL-encoded,
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html
* Azure OpenAI: ``/openai/deployments/{deployment}/...``, a customer-chosen alias recorded with
  ``kind="deployment"``, https://learn.microsoft.com/azure/ai-services/openai/reference
* query ``?model=`` (OpenAI Realtime ``/v1/realtime?model=``).

Headers: a response or request header that names the model outright (``openai-model``,
``x-model``, ``x-model-id``). ``request-id`` and similar are identifiers, never models.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

_MAX_ID_LEN = 300
MODEL_HEADERS = ("openai-model", "x-model", "x-model-id")

_GEMINI = re.compile(
    r"^/(?P<ver>v1(?:alpha|beta)?\d*)/(?P<coll>models|tunedModels)/(?P<model>[^/:]+):(?P<method>\w+)$"
)
_VERTEX = re.compile(
    r"^/(?P<ver>v1(?:beta1)?)/projects/[^/]+/locations/[^/]+/publishers/(?P<pub>[^/]+)"
    r"/models/(?P<model>[^/:]+):(?P<method>\w+)$"
)
_BEDROCK = re.compile(
    r"^/model/(?P<model>.+?)/(?P<method>invoke|invoke-with-response-stream|converse|converse-stream"
    r"|count-tokens)$"
)
_AZURE = re.compile(r"^/openai/deployments/(?P<dep>[^/]+)/(?P<rest>.+)$")

_GEMINI_METHODS = {
    "generateContent": "gemini.generate",
    "streamGenerateContent": "gemini.generate",
    "countTokens": "gemini.count_tokens",
    "embedContent": "gemini.embed",
    "batchEmbedContents": "gemini.embed",
}
_BEDROCK_METHODS = {
    "invoke": "bedrock.invoke",
    "invoke-with-response-stream": "bedrock.invoke",
    "converse": "bedrock.converse",
    "converse-stream": "bedrock.converse",
    "count-tokens": "bedrock.count_tokens",
}


@dataclass(frozen=True, slots=True)
class UrlId:
    """A model id found in the URL: ``source`` is ``"url_path"`` or ``"url_query"``."""

    model_id: str
    source: str
    location: str
    kind: str = "model"


def _clean(value: str) -> str | None:
    value = unquote(value).strip()
    return value if 0 < len(value) <= _MAX_ID_LEN else None


@functools.lru_cache(maxsize=1024)  # one URL, many bodies and exchanges
def api_from_path(path: str, content_type: str | None = None) -> str | None:
    """The API an exchange speaks, from its URL path (and the content type for RPC)."""
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct.startswith("application/grpc-web"):
        return "grpc-web"
    if ct.startswith("application/grpc"):
        return "grpc"
    if ct.startswith("application/connect+") or ct in ("application/proto", "application/protobuf"):
        return "connect"
    m = _GEMINI.match(path)
    if m:
        return _GEMINI_METHODS.get(m["method"], "gemini")
    m = _VERTEX.match(path)
    if m:
        if m["method"] in ("rawPredict", "streamRawPredict"):
            return "anthropic.messages" if m["pub"] == "anthropic" else "vertex.predict"
        return _GEMINI_METHODS.get(m["method"], "vertex")
    m = _BEDROCK.match(path)
    if m:
        return _BEDROCK_METHODS[m["method"]]
    p = path.rstrip("/")
    if p.endswith("/chat/completions"):
        return "openai.chat"
    if p.endswith("/responses/input_tokens"):
        return "openai.responses.input_tokens"
    if p.endswith("/responses"):
        return "openai.responses"
    if p.endswith("/completions"):
        return "openai.completions"
    if p.endswith("/embeddings"):
        return "openai.embeddings"
    if p.endswith("/messages/count_tokens"):
        return "anthropic.count_tokens"
    if p.endswith("/v1/messages") or p == "/messages":
        return "anthropic.messages"
    return None


def ids_from_url(path: str, query: str) -> list[UrlId]:
    """Model ids named by the URL path (templates above) and the ``model`` query parameter."""
    out: list[UrlId] = []
    m = _GEMINI.match(path)
    if m:
        model = _clean(m["model"])
        if model:
            out.append(UrlId(model, "url_path", f"/{m['ver']}/{m['coll']}/{{model}}"))
    m = _VERTEX.match(path)
    if m:
        model = _clean(m["model"])
        if model:
            loc = (
                f"/{m['ver']}/projects/{{project}}/locations/{{location}}"
                f"/publishers/{m['pub']}/models/{{model}}"
            )
            out.append(UrlId(model, "url_path", loc))
    m = _BEDROCK.match(path)
    if m:
        model = _clean(m["model"])
        if model:
            out.append(UrlId(model, "url_path", "/model/{model}"))
    m = _AZURE.match(path)
    if m:
        dep = _clean(m["dep"])
        if dep:
            out.append(UrlId(dep, "url_path", "/openai/deployments/{deployment}", "deployment"))
    for name, value in parse_qsl(query, keep_blank_values=False):
        if name == "model":
            model = _clean(value)
            if model:
                out.append(UrlId(model, "url_query", "?model"))
    return out


def ids_from_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(model_id, header_name)`` for headers in :data:`MODEL_HEADERS`."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lname = name.strip().lower()
        if lname in MODEL_HEADERS:
            model = value.strip()
            if 0 < len(model) <= _MAX_ID_LEN:
                out.append((model, lname))
    return out
