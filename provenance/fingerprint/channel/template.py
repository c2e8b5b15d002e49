"""A stored exchange as a request template: the prompt located, replaced, the body re-framed.

:func:`load_template` reads one exchange from the store and parses its stored request body: a
JSON document, a protobuf message (``application/proto``) or Connect/gRPC/gRPC-web frames (one
stored projection per frame, :mod:`provenance.extract.pbwire` turns them back into bytes).
:meth:`Template.build` gives the request to send for one probe:

* the **prompt**: ``--prompt-at PATH`` (with ``--typed TEXT``, only that text inside the string
  at PATH is replaced), else the format's rules (``fingerprints/``): the last user turn, whose
  text (or last text part) becomes the probe; the history is **trimmed** to the kept turns
  (system/developer) and that one;
* ``max_tokens``/``temperature`` are set where the format names a field the template has;
* **secrets**: stored exchanges carry ``[REDACTED:…]`` placeholders. ``--header NAME=env:VAR``,
  ``--query NAME=env:VAR`` and ``--field PATH=env:VAR`` put the auditor's values back; a request
  that would still carry a placeholder is refused (:class:`MissingSecrets`) before anything is
  sent, naming every place;
* **framing**: JSON re-serialised; protobuf re-encoded (lengths recomputed); frames re-enveloped
  with their lengths, compressed (flag 0x01) when ``connect-content-encoding``/``grpc-encoding``
  names gzip; the whole body gzip/deflate-compressed when ``content-encoding`` says so;
  ``content-length`` is the sender's. Hop-by-hop, proxy and HTTP/2 pseudo headers are dropped.
"""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from provenance.extract.rpcmaps import rpc_path
from provenance.extract.tap import framing_for
from provenance.fingerprint.channel import ChannelError
from provenance.fingerprint.channel.formats import ChatFormat, PromptRule, format_for, matches
from provenance.fingerprint.channel.paths import MISSING, PathError, get_path, leaves, set_path
from provenance.fingerprint.channel.reading import PROTOBUF_FRAMINGS

PLACEHOLDER = "[REDACTED:"
_DROP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
     "proxy-connection", "proxy-authorization", "te", "trailer", "expect"}
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TemplateError(ChannelError):
    """The stored exchange cannot serve as a template (none with that id, no stored body, a cut
    or unreadable body, a format replay cannot rebuild). Exit code 2: the auditor's choice."""

    exit_code = 2


class MissingSecrets(TemplateError):
    """The request would still carry redacted placeholders; nothing was sent. Exit code 2: the
    auditor must re-supply them. ``missing`` lists each place with the flag that fills it."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True, slots=True)
class StoredExchange:
    """The parts of a stored exchange a template needs."""

    id: int
    method: str
    scheme: str
    host: str
    port: int | None
    path: str
    request_headers: list[tuple[str, str]]
    request_body: str | None
    bodies_truncated: bool
    api: str | None
    product: str | None
    model: str | None  # the model id the request asked for, if one was observed
    response_content_type: str | None
    response_body: str | None

    @property
    def where(self) -> str:
        """Host and path, no query: what messages show."""
        return f"{self.host}{self.path.split('?', 1)[0]}"

    @property
    def target(self) -> str:
        """``scheme://host[:port]/path`` without the query: what documents show."""
        port = "" if self.port in (None, _DEFAULT_PORTS.get(self.scheme)) else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path.split('?', 1)[0]}"

    def header(self, name: str) -> str | None:
        for key, value in self.request_headers:
            if key.lower() == name:
                return value
        return None


def load_exchange(store: Any, exchange_id: int) -> StoredExchange:
    """The stored exchange ``exchange_id``; :class:`ChannelError` when there is none."""
    from sqlalchemy import select

    from provenance.store.models import ExchangeRow, ObservationRow, ProductRow

    with store.session() as s:
        row = s.execute(
            select(ExchangeRow, ProductRow.name)
            .outerjoin(ProductRow, ProductRow.id == ExchangeRow.product_id)
            .where(ExchangeRow.id == exchange_id)
        ).first()
        if row is None:
            raise TemplateError(
                f"no exchange {exchange_id} in this store; list them with `provenance exchanges`"
            )
        ex, product = row
        ids = s.execute(
            select(ObservationRow.model_id, ObservationRow.role)
            .where(ObservationRow.exchange_id == exchange_id)
            .order_by(ObservationRow.id)
        ).all()
    requested = next((m for m, role in ids if role == "request"), None)
    return StoredExchange(
        id=ex.id,
        method=ex.method,
        scheme=ex.scheme,
        host=ex.host,
        port=ex.port,
        path=ex.path,
        request_headers=[(str(k), str(v)) for k, v in ex.request_headers or []],
        request_body=ex.request_body,
        bodies_truncated=bool(ex.bodies_truncated),
        api=ex.api,
        product=product,
        model=requested or next((m for m, _ in ids), None),
        response_content_type=ex.content_type,
        response_body=ex.response_body,
    )


@dataclass(frozen=True, slots=True)
class Secrets:
    """Values re-supplied from the environment: header, query and body-path overrides. Never
    stored, logged or shown: :meth:`values` lists them for scrubbing what is stored."""

    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    fields: tuple[tuple[str, str], ...] = ()

    def values(self) -> list[str]:
        return [v for _, v in (*self.headers, *self.query, *self.fields) if v]


@dataclass(frozen=True, slots=True)
class Request:
    """One request ready to send."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Location:
    """Where the prompt is: the frame (document) index and how it is replaced."""

    frame: int
    path: str  # a PATH (explicit) or the turns list (rule)
    rule: PromptRule | None = None
    typed: str | None = None

    def shown(self) -> str:
        return self.path if self.rule is None else f"{self.path} (last user turn)"


@dataclass(slots=True)
class Template:
    """A parsed request body and where its prompt is (see the module docstring)."""

    exchange: StoredExchange
    framing: str  # "json", "protobuf", or a frame protocol: "connect", "grpc", "grpc-web"
    docs: list[Any]
    fmt: ChatFormat | None
    location: Location | None = None
    trimmed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def protobuf(self) -> bool:
        return self.framing != "json"

    def build(
        self,
        text: str,
        secrets: Secrets,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Request:
        """The request for probe ``text``; :class:`MissingSecrets` if a placeholder remains."""
        if self.location is None:
            raise TemplateError("the prompt location is not known; give --prompt-at PATH")
        docs = copy.deepcopy(self.docs)
        loc = self.location
        docs[loc.frame] = self._replace(docs[loc.frame], loc, text)
        if self.fmt is not None:
            settings = ((self.fmt.max_tokens, max_tokens), (self.fmt.temperature, temperature))
            for paths, value in settings:
                for path in paths if value is not None else ():
                    docs[loc.frame] = self._set_if_present(docs[loc.frame], path, value)
        for path, value in secrets.fields:
            docs = self._set_field(docs, path, value)
        request = Request(
            self.exchange.method,
            self._url(secrets),
            self._headers(secrets),
            self._encode(docs),
        )
        missing = self._placeholders(request, docs)
        if missing:
            raise MissingSecrets(
                f"exchange {self.exchange.id} holds redacted values the request needs; "
                f"re-supply them from your environment: {'; '.join(missing)} "
                "(nothing was sent)",
                missing,
            )
        return request

    # ------------------------------------------------------------------ the prompt

    def _replace(self, doc: Any, loc: Location, text: str) -> Any:
        if loc.rule is None:
            old = text_of(get_path(doc, loc.path, protobuf=self.protobuf))
            if not isinstance(old, str):
                raise PathError(f"--prompt-at {loc.path}: no text there")
            new = old.replace(loc.typed, text, 1) if loc.typed else text
            return set_path(doc, loc.path, _text_value(new, self.protobuf), protobuf=self.protobuf)
        rule = loc.rule
        if rule.list is None:
            value = _text_value(text, self.protobuf)
            return set_path(doc, rule.field, value, protobuf=self.protobuf)
        turns = turns_at(doc, rule.list, protobuf=self.protobuf)
        chosen = max(i for i, t in enumerate(turns) if matches(t, rule.where))
        turn = copy.deepcopy(turns[chosen])
        turn[rule.field] = with_text(turn[rule.field], rule, _text_value(text, self.protobuf))
        keep = self.fmt.keep if self.fmt is not None else None
        kept = [t for t in turns[:chosen] if keep and matches(t, keep)]
        self.trimmed = len(turns) - len(kept) - 1
        new_turns: Any = [*kept, turn]
        if self.protobuf and len(new_turns) == 1:
            new_turns = new_turns[0]  # a field that occurs once is no list in a projection
        return _set_plain(doc, rule.list, new_turns, protobuf=self.protobuf)

    def _set_if_present(self, doc: Any, path: str, value: Any) -> Any:
        if get_path(doc, path, protobuf=self.protobuf) is MISSING:
            return doc
        return set_path(doc, path, value, protobuf=self.protobuf)

    def _set_field(self, docs: list[Any], path: str, value: str) -> list[Any]:
        for i, doc in enumerate(docs):
            if get_path(doc, path, protobuf=self.protobuf) is not MISSING:
                docs[i] = set_path(doc, path, value, protobuf=self.protobuf)
                return docs
        raise PathError(f"--field {path}: no such field in the stored request body")

    # ------------------------------------------------------------------ the request

    def _url(self, secrets: Secrets) -> str:
        from urllib.parse import parse_qsl, urlencode

        ex = self.exchange
        port = "" if ex.port in (None, _DEFAULT_PORTS.get(ex.scheme)) else f":{ex.port}"
        path, _, query = ex.path.partition("?")
        if secrets.query:
            pairs = parse_qsl(query, keep_blank_values=True)
            override = dict(secrets.query)
            names = {k for k, _ in pairs}
            pairs = [(k, override.get(k, v)) for k, v in pairs]
            pairs += [(k, v) for k, v in secrets.query if k not in names]
            query = urlencode(pairs)
        return f"{ex.scheme}://{ex.host}{port}{path}" + (f"?{query}" if query else "")

    def _headers(self, secrets: Secrets) -> list[tuple[str, str]]:
        override = {k.lower(): v for k, v in secrets.headers}
        out = []
        for name, value in self.exchange.request_headers:
            low = name.lower()
            if low in _DROP_HEADERS or low.startswith(":") or low in override:
                continue
            out.append((name, value))
        out.extend(secrets.headers)
        return out

    def _encode(self, docs: list[Any]) -> bytes:
        if self.framing == "json":
            body = json.dumps(docs[0], ensure_ascii=False, separators=(",", ":")).encode()
        else:
            from provenance.extract.pbwire import encode_projection

            messages = [encode_projection(d) for d in docs]
            if self.framing == "protobuf":
                body = messages[0]
            else:
                body = b"".join(self._envelope(m) for m in messages)
        encoding = (self.exchange.header("content-encoding") or "").strip().lower()
        if encoding == "gzip":
            return gzip.compress(body)
        if encoding == "deflate":
            return zlib.compress(body)
        if encoding and encoding != "identity":
            raise TemplateError(
                f"cannot re-compress a request body with content-encoding {encoding}"
            )
        return body

    def _envelope(self, message: bytes) -> bytes:
        header = "connect-content-encoding" if self.framing == "connect" else "grpc-encoding"
        encoding = (self.exchange.header(header) or "").strip().lower()
        flags = 0
        if encoding == "gzip":
            message, flags = gzip.compress(message), 0x01
        elif encoding and encoding != "identity":
            raise TemplateError(f"cannot re-compress frames with {header} {encoding}")
        return bytes([flags]) + len(message).to_bytes(4, "big") + message

    def _placeholders(self, request: Request, docs: list[Any]) -> list[str]:
        from urllib.parse import parse_qsl, urlsplit

        missing = []
        for name, value in request.headers:
            if PLACEHOLDER in value:
                missing.append(f"header {name} (--header {name.lower()}=env:VAR)")
        for name, value in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
            if PLACEHOLDER in value or PLACEHOLDER in name:
                missing.append(f"query parameter {name} (--query {name}=env:VAR)")
        if PLACEHOLDER in urlsplit(request.url).path:
            missing.append("the URL path (a redacted path parameter cannot be re-supplied)")
        for doc in docs:
            for path, value in leaves(doc, protobuf=self.protobuf):
                if isinstance(value, str) and PLACEHOLDER in value and "[" not in path:
                    missing.append(f"body field {path} (--field {path}=env:VAR)")
        if not missing and PLACEHOLDER.encode() in request.body:
            missing.append("the request body (a redacted value the parser cannot place)")
        return missing


def text_of(value: Any) -> Any:
    """A projection's text value without its wrappers (``$string``; ``$pad``/``$value``)."""
    if isinstance(value, dict) and "$pad" in value and "$value" in value:
        value = value["$value"]
    if isinstance(value, dict) and len(value) == 1 and "$string" in value:
        return value["$string"]
    return value


def _text_value(text: str, protobuf: bool) -> Any:
    """``text`` as a projection stores it (a string starting ``base64:`` is wrapped)."""
    if not protobuf:
        return text
    from provenance.extract.pbwire import string_value

    return string_value(text)


def _as_list(value: Any) -> list[Any]:
    if value is MISSING or value is None:
        return []
    return value if isinstance(value, list) else [value]


def with_text(value: Any, rule: PromptRule, text: str) -> Any:
    """``value`` (a turn's prompt field: text, or a list of parts) with ``text`` in place."""
    if isinstance(value, dict) and "$pad" in value and "$value" in value:
        return {**value, "$value": with_text(value["$value"], rule, text)}
    if isinstance(text_of(value), str):
        return text
    parts = _as_list(value)
    where = rule.parts_where or ()
    for i in range(len(parts) - 1, -1, -1):
        part = parts[i]
        field_name = rule.parts_field
        if field_name and matches(part, where) and isinstance(text_of(part.get(field_name)), str):
            out = copy.deepcopy(parts)
            out[i] = {**part, rule.parts_field: text}
            return out if isinstance(value, list) else out[0]
    raise PathError("the user turn holds no text part")


def turns_at(doc: Any, path: str, *, protobuf: bool) -> list[Any]:
    """Every occurrence at ``path`` (a repeated field's whole list; intermediate repeated
    fields mean their last occurrence), as a list; empty when nothing is there."""
    node = doc
    for part in path.split("."):
        if protobuf and isinstance(node, list):
            node = node[-1] if node else None
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return []
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return []
    return _as_list(node)


def _set_plain(doc: Any, path: str, value: Any, *, protobuf: bool) -> Any:
    """``doc`` with ``value`` at ``path``: JSON lists by index; in a projection a repeated
    field on the way (a list) means its last occurrence."""
    parts = path.split(".")
    out = copy.deepcopy(doc)
    node = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
        if protobuf and isinstance(node, list):
            node = node[-1]
    if not isinstance(node, dict) or parts[-1] not in node:
        raise PathError(f"no field at {path}")
    node[parts[-1]] = value
    return out


# ---------------------------------------------------------------------- loading and locating


def parse_body(ex: StoredExchange) -> tuple[str, list[Any]]:
    """``(framing, documents)`` of the stored request body; :class:`ChannelError` when it cannot
    be a template (no body, a cut body, a format replay cannot rebuild)."""
    if ex.request_body is None:
        raise TemplateError(
            f"exchange {ex.id} has no stored request body (captured with --no-bodies, or empty); "
            "capture the product again without --no-bodies"
        )
    if ex.bodies_truncated:
        raise TemplateError(
            f"exchange {ex.id}'s stored body was cut at --max-body; capture it again with a "
            "larger --max-body"
        )
    framing = framing_for(ex.header("content-type"))
    if framing in ("grpc-web-text", "grpc-json", "connect-json"):
        raise TemplateError(f"exchange {ex.id}: replay of {framing} requests is not supported")
    lines = [ln for ln in ex.request_body.splitlines() if ln.strip()]
    if framing in PROTOBUF_FRAMINGS:
        try:
            docs = [json.loads(ln) for ln in lines]
        except ValueError:
            raise TemplateError(
                f"exchange {ex.id}: the stored protobuf body is unreadable"
            ) from None
        if any(isinstance(d, dict) and ("$invalid" in d or "trailers" in d) for d in docs):
            raise TemplateError(f"exchange {ex.id}: the stored request is not valid protobuf")
        if framing == "protobuf" and len(docs) != 1:
            raise TemplateError(f"exchange {ex.id}: the stored protobuf body is unreadable")
        return framing, docs
    try:
        return "json", [json.loads(ex.request_body)]
    except (ValueError, RecursionError):
        raise TemplateError(
            f"exchange {ex.id}: the request body is neither JSON nor protobuf "
            f"({ex.header('content-type') or 'no content type'}); replay cannot rebuild it"
        ) from None


def load_template(
    store: Any, exchange_id: int, *, prompt_at: str | None = None, typed: str | None = None
) -> Template:
    """The template of exchange ``exchange_id`` with its prompt located
    (:func:`~provenance.fingerprint.channel.locate.locate`)."""
    from provenance.fingerprint.channel.locate import locate

    template = unlocated_template(load_exchange(store, exchange_id))
    template.location = locate(template, prompt_at=prompt_at, typed=typed)
    return template


def unlocated_template(ex: StoredExchange) -> Template:
    """``ex``'s parsed body and known format (if the catalog has one), the prompt not sought."""
    framing, docs = parse_body(ex)
    fmt = format_for(ex.api, rpc_path(ex.path))
    if fmt is not None and fmt.protobuf != (framing != "json"):
        fmt = None
    return Template(ex, framing, docs, fmt)
