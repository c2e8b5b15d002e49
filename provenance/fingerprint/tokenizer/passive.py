"""The passive tokenizer fingerprint: fit known tokenizers to captured (prompt, count) pairs.

For every (product, model id) in the store, take the exchanges whose stored request body is whole
(not truncated, no redaction marker) and whose usage reports input tokens. Extract the text of the
request (system prompt, message contents, Responses ``input``/``instructions``), count it with
each known tokenizer, and fit ``reported = a·count + b + c·messages`` by least squares: the
intercept absorbs the hidden template and system-prompt overhead, ``c`` the per-message overhead.

``score`` = the fraction of exchanges the fit predicts within half a token; a candidate is a
``match`` when score == 1.0 and ``|a − 1| ≤ 0.01``. The decision then follows
:func:`~provenance.fingerprint.tokenizer.scoring.decide` (one match → id; none → ``null``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from provenance.fingerprint.tokenizer.scoring import CandidateScore, decide
from provenance.tokenizers.handle import TokenizerHandle
from provenance.tokenizers.signatures import Signature, load_signatures

PASSIVE_SCHEMA = "provenance.tokenizer-passive/1"
SLOPE_TOLERANCE = 0.01
REDACTION_MARK = "[REDACTED:"


def request_text(body: Any) -> tuple[str, int] | None:
    """(text, message count) of a chat request body (OpenAI chat/Responses or Anthropic)."""
    if not isinstance(body, dict):
        return None
    parts: list[str] = []
    _collect(body.get("system"), parts)
    _collect(body.get("instructions"), parts)
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = body.get("input") if isinstance(body.get("input"), list) else None
    if messages is None and isinstance(body.get("input"), str):
        parts.append(body["input"])
        return "\n".join(parts), 1
    if not isinstance(messages, list):
        return None
    for message in messages:
        if isinstance(message, dict):
            _collect(message.get("content"), parts)
    return "\n".join(parts), len(messages)


def _collect(value: Any, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(value)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append(item["text"])


def load_samples(
    store: Any, *, product: str | None = None
) -> dict[tuple[str | None, str | None], list[tuple[str, int, int]]]:
    """(product, model id) → [(text, messages, reported input tokens)] from the store."""
    from sqlalchemy import select

    from provenance.store.models import ExchangeRow, ProductRow

    stmt = (
        select(
            ExchangeRow.id,
            ProductRow.name,
            ExchangeRow.request_body,
            ExchangeRow.input_tokens,
            ExchangeRow.bodies_truncated,
        )
        .outerjoin(ProductRow, ProductRow.id == ExchangeRow.product_id)
        .where(ExchangeRow.input_tokens.is_not(None), ExchangeRow.request_body.is_not(None))
    )
    if product is not None:
        stmt = stmt.where(ProductRow.name == product)
    groups: dict[tuple[str | None, str | None], list[tuple[str, int, int]]] = defaultdict(list)
    with store.session() as session:
        rows = session.execute(stmt).all()
        models = model_of_exchanges(session, [r[0] for r in rows])
    for exchange_id, prod, body_text, tokens, truncated in rows:
        if truncated or not body_text or REDACTION_MARK in body_text:
            continue
        try:
            parsed = request_text(json.loads(body_text))
        except ValueError:
            continue
        if parsed is None:
            continue
        groups[(prod, models.get(exchange_id))].append((parsed[0], parsed[1], int(tokens)))
    return dict(groups)


def model_of_exchanges(session: Any, ids: list[int]) -> dict[int, str]:
    """exchange id → the model id it names (a response's id wins over a request's)."""
    from sqlalchemy import select

    from provenance.store.models import ObservationRow

    models: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        obs = session.execute(
            select(ObservationRow.exchange_id, ObservationRow.model_id, ObservationRow.role)
            .where(ObservationRow.exchange_id.in_(chunk), ObservationRow.kind == "model")
            .order_by(ObservationRow.id)
        ).all()
        for exchange_id, model_id, role in obs:
            if role == "response" or exchange_id not in models:
                models[exchange_id] = model_id
    return models


def fit_candidate(
    sig_id: str, handle: TokenizerHandle, samples: list[tuple[str, int, int]]
) -> tuple[CandidateScore, dict[str, float]]:
    """Least-squares fit of one tokenizer to the samples; returns its ranking row and the fit."""
    import numpy as np

    x = np.array([handle.count(t) for t, _, _ in samples], dtype=float)
    m = np.array([n for _, n, _ in samples], dtype=float)
    y = np.array([r for _, _, r in samples], dtype=float)
    columns = [x, np.ones_like(x)]
    if len(set(m.tolist())) > 1:
        columns.append(m)
    design = np.stack(columns, axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    exact = float(np.mean(np.abs(residual) <= 0.5))
    slope = float(coef[0])
    fit = {
        "slope": round(slope, 4),
        "intercept": round(float(coef[1]), 2),
        "per_message": round(float(coef[2]), 2) if len(coef) > 2 else None,
        "max_residual": round(float(np.max(np.abs(residual))), 2),
    }
    ok = exact == 1.0 and abs(slope - 1.0) <= SLOPE_TOLERANCE
    reason = (
        f"slope {fit['slope']}, intercept {fit['intercept']}, max residual "
        f"{fit['max_residual']} over {len(samples)} exchanges"
    )
    status = "match" if ok else "mismatch"
    return CandidateScore(sig_id, exact, status, reason, "text", int(np.sum(np.abs(residual)))), fit


def candidate_handles(signatures: list[Signature]) -> dict[str, TokenizerHandle]:
    """One loaded tokenizer per signature id (its first source that loads here)."""
    from provenance.errors import ProvenanceError
    from provenance.tokenizers.loaders import load_tokenizer

    out: dict[str, TokenizerHandle] = {}
    for sig in signatures:
        for src in sig.sources:
            try:
                out[sig.id] = load_tokenizer(src["source"])
                break
            except ProvenanceError:
                continue
    return out


def run_passive(
    store: Any,
    *,
    product: str | None = None,
    min_samples: int = 3,
    signatures: list[Signature] | None = None,
) -> list[dict[str, Any]]:
    """One result document per (product, model id) with captured counts."""
    groups = load_samples(store, product=product)
    if not groups:
        return []
    signatures = signatures if signatures is not None else load_signatures()
    handles = candidate_handles(signatures)
    usable = [s for s in signatures if s.id in handles]
    results = []
    for (prod, model), samples in sorted(
        groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        doc: dict[str, Any] = {
            "schema": PASSIVE_SCHEMA,
            "product": prod,
            "model": model,
            "target": "captured traffic",
            "started_at": datetime.now(UTC).isoformat(),
            "method": "linear-fit",
            "method_label": "tokenizer-passive/linear-fit",
            "requests": 0,
            "samples": len(samples),
        }
        distinct = len({t for t, _, _ in samples})
        if len(samples) < min_samples or distinct < 2:
            doc.update(
                {
                    "verdict": None,
                    "families": [],
                    "ranking": [],
                    "evidence": [],
                    "reason": f"too few distinct exchanges ({distinct}) to fit; need {min_samples}",
                }
            )
            results.append(doc)
            continue
        rows, fits = [], {}
        for sig in usable:
            row, fit = fit_candidate(sig.id, handles[sig.id], samples)
            rows.append(row)
            fits[sig.id] = fit
        rows.sort(key=lambda c: (c.status != "match", -c.score, c.error, c.tokenizer))
        decision = decide(rows, usable)
        doc.update(decision)
        doc["ranking"] = [r.as_dict() | {"fit": fits[r.tokenizer]} for r in rows]
        doc["evidence"] = [
            {
                "probe": f"exchange {i + 1}",
                "observed": r,
                "expected": {s.id: handles[s.id].count(t) for s in usable},
            }
            for i, (t, _, r) in enumerate(samples[:20])
        ]
        results.append(doc)
    return results
