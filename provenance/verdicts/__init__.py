"""Verdicts: which base model each product runs on, fused from the evidence in the store."""

from provenance.verdicts.evidence import (
    FingerprintEvidence,
    IdEvidence,
    Kind,
    ProductEvidence,
    ProviderEvidence,
)
from provenance.verdicts.fuse import Switch, Verdict, detect_switches, fuse

__all__ = [
    "FingerprintEvidence",
    "IdEvidence",
    "Kind",
    "ProductEvidence",
    "ProviderEvidence",
    "Switch",
    "Verdict",
    "detect_switches",
    "fuse",
]
