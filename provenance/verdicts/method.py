"""The verdict rules in words, built from the values the code uses (for reports).

``docs/verdicts.md`` says the same at length; a test checks that its weights are these.
"""

from __future__ import annotations

from provenance.verdicts.evidence import Kind
from provenance.verdicts.fuse import MIXED_SHARE, WEIGHTS

_EVIDENCE = (
    ("id-response", "a model id in the product's responses (the served model's own name)"),
    ("id-request", "a model id only in its requests (what the client asked for)"),
    (Kind.LOGITS, "a logit fingerprint closest to a local reference model"),
    (Kind.TOKENIZER, "a tokenizer fingerprint from the endpoint's token counts"),
    (Kind.TOKENIZER_PASSIVE, "a tokenizer fitted to captured token counts"),
    (Kind.TOKENIZER_BOUNDARY, "a tokenizer explaining where captured stream chunks end"),
    (Kind.PROVIDER, "the provider of the hosts, when it serves one vendor only (a hint)"),
)


def method() -> list[str]:
    """How a verdict is reached, one sentence per line."""
    weights = "; ".join(f"{what}: {WEIGHTS[key]:g}" for key, what in _EVIDENCE)
    return [
        "Each product's traffic is bucketed by UTC day; the family that served most exchanges "
        "each day is that day's family, and a change is a switch dated by its first day. Only "
        "evidence after the last switch decides the current verdict.",
        "Each kind of evidence votes for the families it supports; literal ids vote for every "
        f"family with at least {MIXED_SHARE:.0%} of the id-bearing exchanges (a product routing "
        "to several models is mixed, not in conflict). Runs that named nothing vote for nothing.",
        "If the kinds that voted share no family, the verdict is a conflict: nothing is named "
        "and every side is listed.",
        "Otherwise the best-supported shared family wins; confidence is the noisy-OR "
        f"1 - Π(1 - w) of the weights of the agreeing evidence ({weights}; an id's weight is "
        "scaled by its share of the id traffic).",
    ]


def limits() -> list[str]:
    """What a verdict cannot tell, one sentence per line."""
    return [
        "Confidence ranks how much independent, direct evidence agrees; it is not a calibrated "
        "probability.",
        "A literal id is what the traffic says; a product can relabel a model, so an id is "
        "strong evidence, not proof.",
        "A tokenizer match names a tokenizer, which a whole family line (and its derivatives) "
        "may share.",
        "A logit match names the closest of the local reference models given; a base that is not "
        "among them cannot be named, and bases trained on the same data may be indistinguishable.",
        "Only captured, imported or probed traffic counts: a product may use other models for "
        "traffic that was not seen.",
    ]
