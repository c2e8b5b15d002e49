"""The evidence a verdict is fused from: plain records, one per kind, with no database in sight.

Collecting them from the store is :mod:`provenance.verdicts.collect`'s job; fusing them is
:mod:`provenance.verdicts.fuse`'s. Keeping the two apart lets the fusion rules be tested on
hand-built evidence, and lets a report explain every number it shows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Kind(enum.StrEnum):
    """Kinds of evidence, cheapest first (the order in which an audit gathers them)."""

    MODEL_ID = "model-id"  # a literal model id seen in traffic, resolved by the catalog
    PROVIDER = "provider"  # the host's provider, when it serves a single vendor's models
    TOKENIZER = "tokenizer"  # an active tokenizer fingerprint run
    TOKENIZER_PASSIVE = "tokenizer-passive"  # a tokenizer fitted to captured counts
    TOKENIZER_BOUNDARY = "tokenizer-boundary"  # a tokenizer explaining captured stream chunks
    LOGITS = "logits"  # a logit fingerprint run against local reference models


@dataclass(frozen=True, slots=True)
class IdEvidence:
    """One model id seen in a product's traffic.

    ``family`` is the catalog's family key (None when the catalog does not know the id);
    ``responses`` counts exchanges whose *response* carried the id (what actually served the
    request), ``requests`` those whose request asked for it; ``exchanges`` counts distinct
    exchanges with the id anywhere.
    """

    model_id: str
    family: str | None
    vendor: str | None
    exchanges: int
    responses: int
    requests: int
    first_seen: datetime
    last_seen: datetime
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class FingerprintEvidence:
    """One fingerprint run's conclusion about a product.

    ``families`` is what the run's verdict is compatible with: a tokenizer id names every family
    known to use it (so it supports several), a logit run names its reference's family. An empty
    tuple with ``verdict`` None is a run that named nothing (open set): it neither supports nor
    contradicts anything, and is reported as such.
    """

    kind: Kind
    run_id: int | None
    verdict: str | None  # tokenizer id or reference name; None = no known candidate fits
    families: tuple[str, ...]
    at: datetime
    model: str | None = None  # the model name the run asked the endpoint for
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProviderEvidence:
    """The provider derived from the hosts a product talked to, and its vendor if exclusive."""

    provider: str
    exchanges: int
    exclusive_vendor: str | None = None


@dataclass(slots=True)
class ProductEvidence:
    """Everything the store knows about one product."""

    product: str
    ids: list[IdEvidence] = field(default_factory=list)
    fingerprints: list[FingerprintEvidence] = field(default_factory=list)
    providers: list[ProviderEvidence] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    exchanges: int = 0
    # (day, family, exchanges) rows, ordered by day: the input of switch detection
    daily_families: list[tuple[datetime, str, int]] = field(default_factory=list)
