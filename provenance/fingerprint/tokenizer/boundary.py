"""The stream-boundary fingerprint: which tokenizer explains where a stream's text chunks end.

Streaming servers emit generated text as it decodes, most of them one token per chunk. Every
point where one chunk ends and the next begins is then a point where one token of the serving
tokenizer ends. For a candidate tokenizer ``T`` and a stream whose joined text is ``S``:

* ``consistency`` = the share of the stream's chunk boundaries that are token boundaries of ``T``
  on ``S`` (only boundaries between two characters count: a server holds back the bytes of an
  unfinished character). A tokenizer coarser than the server's, or just different, puts many of
  them inside its tokens and is *ruled out*; the true one scores 1 or very nearly (a model
  can generate a non-canonical split now and then, so not exactly 1).
* ``tokens_per_delta`` = how many ``T``-tokens a chunk spans on average. A tokenizer *finer* than
  the server's also fits every boundary, but splits chunks into several tokens; among the
  tokenizers that fit, the one with the fewest tokens per chunk explains the stream best.
* ``usage`` = whether ``T``'s count of ``S`` equals the stream's reported output tokens (within
  ``USAGE_SLACK`` for end-of-turn tokens), where usage was reported.

Decision (open set, ``null`` beats a guess), over all streams of one (product, model id). Let
``misses`` be the chunk ends inside a candidate's tokens and ``splits`` the candidate's token ends
inside chunks (``tokens_per_delta - 1`` per chunk), and ``margin(x) = 3 + 2·√x`` the smallest
difference of counts taken as real (about two standard deviations of a Poisson count, and never
fewer than three events):

1. fewer than ``MIN_BOUNDARIES`` chunk boundaries → ``null`` ("too few");
2. a candidate *fits* when ``misses ≤ max(1, MAX_MISS · boundaries)``. Not zero: models
   generate non-canonical splits (OpenAI's o-series streams ``-`` and ``language`` as two tokens
   where o200k encodes ``-language`` as one; 14 of 171 chunk ends in one recorded o4-mini stream).
   None fits → ``null``;
3. the best fitting candidate has the fewest ``misses + splits``. It must look like the server's
   own unit: ``tokens_per_delta ≤ SINGLE`` (one token per chunk, so it is not a refinement of an
   unknown coarser tokenizer). Otherwise only candidates whose count matches the reported usage
   on at least ``USAGE_SHARE`` of ≥ 3 streams stay in the running, and none → ``null`` ("chunks
   hold several tokens"). A server that re-chunks several tokens per chunk is therefore named
   only through the usage check;
4. a claim needs the best to miss at most ``NAME_MISS`` of the chunk ends (fitting at up to
   ``MAX_MISS`` only keeps a candidate in the running as a rival);
5. another fitting candidate whose ``misses + splits`` is within ``margin`` of the best is
   indistinguishable on this text: the shared base id when the two share merge ranks, else
   ``null`` ("indistinguishable"; e.g. Llama 3 and cl100k share their first 100k ranks, so
   English text rarely separates them).

The text comes from the stored (redacted) response body, re-read with the same stream parsers as
capture; the stored ``stream_deltas`` lengths must agree with it, so a stream whose redaction
changed the text is left out, as is a body cut at the cap (only its whole chunks count).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provenance.extract.deltas import DeltaLog
from provenance.fingerprint.tokenizer.scoring import shared_base
from provenance.tokenizers.handle import TokenizerHandle
from provenance.tokenizers.signatures import Signature

BOUNDARY_SCHEMA = "provenance.tokenizer-boundary/1"
MIN_BOUNDARIES = 30
MAX_MISS = 0.10
NAME_MISS = 0.02
SINGLE = 1.03
USAGE_SLACK = 3
USAGE_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Stream:
    """One streamed channel: its text pieces in order, and the output tokens reported for the
    whole exchange (None when not reported or when the exchange had several channels)."""

    pieces: tuple[str, ...]
    output_tokens: int | None = None
    label: str = ""

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def cuts(self) -> list[int]:
        """Character offsets where one non-empty piece ends and the next begins."""
        out, pos = [], 0
        for piece in self.pieces[:-1]:
            pos += len(piece)
            out.append(pos)
        return sorted(set(out) - {0, len(self.text)})


@dataclass(slots=True)
class CandidateFit:
    """Aggregate fit of one tokenizer over a group of streams."""

    tokenizer: str
    boundaries: int = 0
    consistent: int = 0
    deltas: int = 0
    delta_tokens: int = 0
    usage_checked: int = 0
    usage_matched: int = 0
    unusable: int = 0
    first_miss: str = ""

    @property
    def consistency(self) -> float:
        return self.consistent / self.boundaries if self.boundaries else 0.0

    @property
    def misses(self) -> int:
        return self.boundaries - self.consistent

    @property
    def splits(self) -> int:
        return self.delta_tokens - self.deltas

    @property
    def cost(self) -> int:
        return self.misses + self.splits

    @property
    def fits(self) -> bool:
        return self.boundaries > 0 and self.misses <= max(1.0, MAX_MISS * self.boundaries)

    @property
    def tokens_per_delta(self) -> float:
        return self.delta_tokens / self.deltas if self.deltas else 0.0

    @property
    def usage_ok(self) -> bool:
        return self.usage_checked >= 3 and self.usage_matched >= USAGE_SHARE * self.usage_checked

    def row(self, status: str, reason: str) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer,
            "score": round(self.consistency, 4),
            "status": status,
            "reason": reason,
            "specials": None,
            "boundaries": self.boundaries,
            "consistent": self.consistent,
            "misses": self.misses,
            "splits": self.splits,
            "tokens_per_delta": round(self.tokens_per_delta, 3),
            "usage": f"{self.usage_matched}/{self.usage_checked}" if self.usage_checked else None,
        }


def margin(count: int) -> float:
    """The smallest difference of event counts taken as real (see the module docstring)."""
    return 3 + 2 * count**0.5


def fit_stream(fit: CandidateFit, handle: TokenizerHandle, stream: Stream) -> None:
    """Add one stream to ``fit``: its boundaries, the chunk sizes in tokens, the usage check."""
    text = stream.text
    cuts = stream.cuts()
    token_ends = handle.boundaries(text)
    if token_ends is None:
        fit.unusable += 1
        return
    hits = [c for c in cuts if c in token_ends]
    fit.boundaries += len(cuts)
    fit.consistent += len(hits)
    if not fit.first_miss:
        miss = next((c for c in cuts if c not in token_ends), None)
        if miss is not None:
            fit.first_miss = f"a chunk ends inside a token at {text[max(0, miss - 6) : miss]!r}|"
    ordered = sorted(token_ends)
    start = 0
    for piece in stream.pieces:
        if not piece:
            continue
        end = start + len(piece)
        inside = bisect.bisect_left(ordered, end) - bisect.bisect_right(ordered, start)
        fit.deltas += 1
        fit.delta_tokens += 1 + max(inside, 0)
        start = end
    if stream.output_tokens is not None:
        count = len(handle.encode(text))
        fit.usage_checked += 1
        fit.usage_matched += 0 <= stream.output_tokens - count <= USAGE_SLACK


def decide(
    fits: list[CandidateFit], signatures: list[Signature], boundaries: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(decision, ranking rows) for a group's candidate fits (see the module docstring)."""
    by_id = {s.id: s for s in signatures}
    usable = [f for f in fits if f.boundaries > 0]
    fitting = sorted((f for f in usable if f.fits), key=lambda f: (f.cost, f.misses, f.tokenizer))
    rows = []
    for f in sorted(usable, key=lambda f: (not f.fits, f.cost, f.tokenizer)):
        if f.fits:
            rows.append(f.row("fits", f"{f.misses} misses, {f.splits} splits"))
        else:
            miss = f"{f.misses} of {f.boundaries} chunk ends inside its tokens; {f.first_miss}"
            rows.append(f.row("ruled-out", miss))
    unusable = "its pieces do not spell the text back"
    rows += [f.row("unusable", unusable) for f in fits if not f.boundaries]
    null = {"verdict": None, "families": [], "specials": None, "alternatives": []}
    if boundaries < MIN_BOUNDARIES:
        reason = f"too few chunk boundaries ({boundaries}) for a decision; need {MIN_BOUNDARIES}"
        return {**null, "reason": reason}, rows
    if not fitting:
        best = min(usable, key=lambda f: f.misses, default=None)
        closest = f" (closest: {best.tokenizer}, {best.misses} misses)" if best else ""
        reason = (
            f"no known tokenizer puts a token end at the chunk ends (at most "
            f"{MAX_MISS:.1%} misses){closest}"
        )
        return {**null, "reason": reason}, rows
    best = fitting[0]
    if best.tokens_per_delta > SINGLE:
        confirmed = [f for f in fitting if f.usage_ok]
        if not confirmed:
            reason = (
                f"{best.tokenizer} fits the chunk ends but chunks hold "
                f"{best.tokens_per_delta:.2f} of its tokens: it may be a finer tokenizer than the "
                "server's, and no candidate's count matches the reported usage"
            )
            return {**null, "reason": reason}, rows
        fitting = confirmed  # several tokens per chunk: only the usage check can name one
        best = fitting[0]

    def merges(sig_id: str) -> str:
        return (by_id[sig_id].base or sig_id) if sig_id in by_id else sig_id

    # Ids sharing the winner's merge ranks differ only in special tokens, which chunk ends
    # cannot attribute: they go with it whatever their cost.
    tied = [
        f
        for f in fitting[1:]
        if f.cost - best.cost < margin(best.cost) or merges(f.tokenizer) == merges(best.tokenizer)
    ]
    summary = (
        f"{best.consistent}/{best.boundaries} chunk ends are token ends, "
        f"{best.tokens_per_delta:.2f} tokens per chunk"
    )
    if best.usage_checked:
        summary += f", usage matches {best.usage_matched}/{best.usage_checked}"
    runner = next((f for f in fitting[1:] if f not in tied), None)
    if runner is not None:
        summary += f"; next {runner.tokenizer} costs {runner.cost} vs {best.cost}"
    if best.misses > max(1.0, NAME_MISS * best.boundaries):
        reason = (
            f"{best.tokenizer} explains the chunks best but {best.misses} of {best.boundaries} "
            f"chunk ends fall inside its tokens (a claim needs at most {NAME_MISS:.0%})"
        )
        return {**null, "reason": reason}, rows
    if not tied:
        sig = by_id.get(best.tokenizer)
        decision = {
            "verdict": best.tokenizer,
            "families": sig.family_keys if sig else [],
            "specials": None,
            "alternatives": [],
            "reason": summary,
        }
        return decision, rows
    ids = [best.tokenizer, *(f.tokenizer for f in tied)]
    shared = shared_base(ids, by_id)
    if shared is not None:
        base, families = shared
        decision = {
            "verdict": base,
            "families": families,
            "specials": None,
            "alternatives": ids,
            "reason": f"{', '.join(ids)} share the {base} merges; {summary}",
        }
        return decision, rows
    reason = f"indistinguishable on this text: {', '.join(ids)} explain the chunks alike"
    return {**null, "reason": reason, "alternatives": ids}, rows


def fingerprint_streams(
    streams: list[Stream],
    handles: dict[str, TokenizerHandle],
    signatures: list[Signature],
) -> dict[str, Any]:
    """Decide for one group of streams; the keys a result document carries."""
    fits = {sig_id: CandidateFit(sig_id) for sig_id, h in handles.items() if h.segments}
    for stream in streams:
        for sig_id, fit in fits.items():
            fit_stream(fit, handles[sig_id], stream)
    boundaries = sum(len(s.cuts()) for s in streams)
    decision, rows = decide(list(fits.values()), signatures, boundaries)
    return {
        **decision,
        "streams": len(streams),
        "deltas": sum(sum(1 for p in s.pieces if p) for s in streams),
        "boundaries": boundaries,
        "ranking": rows,
    }


def pieces_from_body(body: str, content_type: str | None) -> dict[str, list[str]]:
    """The text pieces per channel of a stored streamed response body (same parsers as capture)."""
    from provenance.extract.tap import BodyTap

    log = DeltaLog(keep_text=True)
    tap = BodyTap(
        content_type=content_type,
        content_encoding=None,
        role="response",
        max_body=0,
        delta_log=log,
    )
    tap.feed(body.encode("utf-8", "surrogatepass"))
    tap.finish()
    return log.texts


def streams_of_row(
    body: str | None,
    content_type: str | None,
    stored: dict[str, Any] | None,
    output_tokens: int | None,
    label: str,
) -> list[Stream]:
    """The usable streams of one stored exchange (see the module docstring for what is left out)."""
    if not body:
        return []
    pieces = pieces_from_body(body, content_type)
    out = []
    for channel, texts in pieces.items():
        if isinstance(stored, dict) and channel in stored:
            lengths = [len(t) for t in texts]
            want = [int(x) for x in stored[channel]]
            if lengths != want[: len(lengths)]:
                continue  # redaction or a cut changed the text: its offsets no longer hold
        out.append(Stream(tuple(texts), None, f"{label}:{channel}"))
    if len(out) == 1 and output_tokens is not None:
        out[0] = Stream(out[0].pieces, int(output_tokens), out[0].label)
    return out


def load_streams(store: Any, *, product: str | None = None) -> dict[tuple[Any, Any], list[Stream]]:
    """(product, model id) → streams, from every stored streamed exchange with a body."""
    from sqlalchemy import select

    from provenance.fingerprint.tokenizer.passive import model_of_exchanges
    from provenance.store.models import ExchangeRow, ProductRow

    stmt = (
        select(
            ExchangeRow.id,
            ProductRow.name,
            ExchangeRow.response_body,
            ExchangeRow.content_type,
            ExchangeRow.stream_deltas,
            ExchangeRow.output_tokens,
        )
        .outerjoin(ProductRow, ProductRow.id == ExchangeRow.product_id)
        .where(ExchangeRow.streamed.is_(True), ExchangeRow.response_body.is_not(None))
    )
    if product is not None:
        stmt = stmt.where(ProductRow.name == product)
    groups: dict[tuple[Any, Any], list[Stream]] = defaultdict(list)
    with store.session() as session:
        rows = session.execute(stmt).all()
        models = model_of_exchanges(session, [r[0] for r in rows])
    for exchange_id, prod, body, ctype, stored, out_tokens in rows:
        streams = streams_of_row(body, ctype, stored, out_tokens, f"exchange {exchange_id}")
        if streams:
            groups[(prod, models.get(exchange_id))].extend(streams)
    return dict(groups)


def run_boundary(
    store: Any,
    *,
    product: str | None = None,
    signatures: list[Signature] | None = None,
    handles: dict[str, TokenizerHandle] | None = None,
) -> list[dict[str, Any]]:
    """One result document per (product, model id) with stored streams."""
    from provenance.fingerprint.tokenizer.passive import candidate_handles
    from provenance.tokenizers.signatures import load_signatures

    groups = load_streams(store, product=product)
    if not groups:
        return []
    signatures = signatures if signatures is not None else load_signatures()
    handles = handles if handles is not None else candidate_handles(signatures)
    results = []
    for (prod, model), streams in sorted(groups.items(), key=lambda kv: str(kv[0])):
        doc: dict[str, Any] = {
            "schema": BOUNDARY_SCHEMA,
            "product": prod,
            "model": model,
            "target": "captured traffic",
            "started_at": datetime.now(UTC).isoformat(),
            "method": "stream-boundaries",
            "method_label": "tokenizer-boundary/stream-boundaries",
            "requests": 0,
        }
        doc.update(fingerprint_streams(streams, handles, signatures))
        doc["evidence"] = [
            {"stream": s.label, "deltas": sum(1 for p in s.pieces if p), "chars": len(s.text)}
            for s in streams[:20]
        ]
        results.append(doc)
    return results
