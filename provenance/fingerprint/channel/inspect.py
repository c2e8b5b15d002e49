"""``provenance probe inspect``: what replay would do with a stored exchange, and the PATHs.

For one exchange it says: the format the catalog knows it as (or none), where the prompt is
(or the candidates: strings that read like a person's text, or that hold ``--typed``), the
redacted values the auditor must re-supply (with the flag for each), whether the template
rebuilds to exactly the captured request bytes when given its own prompt back, and from the
stored reply the string fields that stream (``--text-at`` candidates) and the integer fields of
the last frame (``--usage-at`` candidates). Nothing is sent.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from provenance.errors import UsageError
from provenance.fingerprint.channel.locate import candidates, locate
from provenance.fingerprint.channel.paths import get_path, leaves
from provenance.fingerprint.channel.reading import frames, is_protobuf
from provenance.fingerprint.channel.template import (
    PLACEHOLDER,
    MissingSecrets,
    Secrets,
    Template,
    load_exchange,
    unlocated_template,
)

INSPECT_SCHEMA = "provenance.probe-inspect/1"


def inspect_exchange(store: Any, exchange_id: int, *, typed: str | None = None) -> dict[str, Any]:
    """The ``--json`` document of ``probe inspect`` (see the module docstring)."""
    template = unlocated_template(load_exchange(store, exchange_id))
    ex, framing, fmt = template.exchange, template.framing, template.fmt
    doc: dict[str, Any] = {
        "schema": INSPECT_SCHEMA,
        "exchange": ex.id,
        "target": ex.target,
        "product": ex.product,
        "model": ex.model,
        "api": ex.api,
        "framing": framing,
        "format": fmt.name if fmt else None,
        "format_source": fmt.source if fmt else None,
    }
    try:
        template.location = locate(template, prompt_at=None, typed=typed)
        doc["prompt_at"] = template.location.shown()
    except UsageError as exc:
        doc["prompt_at"] = None
        doc["prompt_note"] = str(exc)
    doc["prompt_candidates"] = [
        {"path": c.path, "frame": c.frame, "chars": c.length, "preview": c.preview,
         "holds_typed": c.contains_typed}
        for c in candidates(template, typed)[:10]
    ]  # fmt: skip
    doc["resupply"] = _resupply(template)
    doc["rebuilds_exactly"] = _rebuilds(template, store, exchange_id)
    doc.update(_reply_candidates(ex.response_body, ex.response_content_type))
    return doc


def _resupply(template: Template) -> list[str]:
    """The flags the auditor must give, from a dry build with the stored prompt."""
    if template.location is None:
        return []
    try:
        template.build(_stored_prompt(template) or "", Secrets())
    except MissingSecrets as exc:
        return list(exc.missing)
    except UsageError:
        return []
    return []


def _stored_prompt(template: Template) -> str | None:
    loc = template.location
    if loc is None:
        return None
    doc = template.docs[loc.frame]
    if loc.rule is None:
        value = get_path(doc, loc.path, protobuf=template.protobuf)
        return value if isinstance(value, str) else None
    return None


def _rebuilds(template: Template, store: Any, exchange_id: int) -> bool | None:
    """Whether re-encoding the stored documents gives the captured bytes (their digest); None
    when that cannot be checked (placeholders in the body, compressed frames)."""
    from sqlalchemy import select

    from provenance.store.models import ExchangeRow

    if template.exchange.request_body and PLACEHOLDER in template.exchange.request_body:
        return None
    with store.session() as s:
        digest = s.scalar(select(ExchangeRow.request_digest).where(ExchangeRow.id == exchange_id))
    if not digest:
        return None
    try:
        if template.framing == "json":
            return None  # JSON is re-serialised compactly; equal as JSON, not byte for byte
        from provenance.extract.pbwire import encode_projection

        messages = [encode_projection(d) for d in template.docs]
    except Exception:
        return False
    if template.framing == "protobuf":
        body = messages[0]
    else:
        body = b"".join(bytes([0]) + len(m).to_bytes(4, "big") + m for m in messages)
    return hashlib.sha256(body).hexdigest() == digest


def _reply_candidates(body: str | None, content_type: str | None) -> dict[str, Any]:
    docs = frames(body, content_type)
    protobuf = is_protobuf(content_type)
    strings: Counter[str] = Counter()
    for d in docs:
        for path, value in leaves(d, protobuf=protobuf):
            if isinstance(value, str) and value and "[" not in path:
                strings[path] += 1
    ints: dict[str, int] = {}
    for d in reversed(docs):
        for path, value in leaves(d, protobuf=protobuf):
            if isinstance(value, int) and not isinstance(value, bool) and "[" not in path:
                ints.setdefault(path, value)
        if ints:
            break
    return {
        "reply_frames": len(docs),
        "text_candidates": [
            {"path": p, "frames": n} for p, n in strings.most_common(10) if n > 1 or len(docs) == 1
        ],
        "usage_candidates": [{"path": p, "value": v} for p, v in list(ints.items())[:20]],
    }
