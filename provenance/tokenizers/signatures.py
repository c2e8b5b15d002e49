"""Tokenizer signatures: generated JSON Lines files, one per tokenizer id.

File layout (``fingerprints/tokenizers/<id>.jsonl``; never edited by hand, see
``provenance signatures build``):

* line 1, the meta record: ``{"kind": "meta", "schema", "id", "families": [{"family", "source"}],
  "sources": [{"source", "sha256", "kind"}], "base", "probe_set", "probe_set_sha256", "notes"}``;
* then one record per probe text (the baseline first): ``{"kind": "probe", "probe", "sha256",
  "tokens", "tokens_parsed"}`` where ``tokens`` counts the text as ordinary text and
  ``tokens_parsed`` lists the distinct counts with special spellings parsed (one entry per distinct
  value over the source files that make up the id).

``base`` names another id with the same merge ranks: ordinary-text counts are identical on every
text probe, and the two differ only in their special or added tokens, which only the probe of
special spellings can show (``o200k-harmony`` → ``o200k``; ``deepseek-v3`` → ``deepseek-v4``,
whose ``tokenizer.json`` matches ``<think>`` even in plain text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from provenance.errors import CatalogError, UsageError
from provenance.paths import checkout_root, data_dir, fingerprints_dir
from provenance.tokenizers.handle import TokenizerHandle
from provenance.tokenizers.probes import ProbeSet

SIGNATURE_SCHEMA = "provenance.tokenizer-signature/1"


@dataclass(frozen=True)
class ProbeCount:
    """Counts of one probe text under one tokenizer id."""

    probe: str
    sha256: str
    tokens: int
    tokens_parsed: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    """One tokenizer id: its meta data and its counts per probe id."""

    id: str
    families: tuple[dict[str, str], ...]
    sources: tuple[dict[str, str], ...]
    base: str | None
    probe_set: str
    probe_set_sha256: str
    counts: dict[str, ProbeCount] = field(default_factory=dict)
    path: Path | None = None
    notes: str = ""

    @property
    def family_keys(self) -> list[str]:
        return [f["family"] for f in self.families]

    def meta(self) -> dict[str, object]:
        return {
            "kind": "meta",
            "schema": SIGNATURE_SCHEMA,
            "id": self.id,
            "families": list(self.families),
            "sources": list(self.sources),
            "base": self.base,
            "probe_set": self.probe_set,
            "probe_set_sha256": self.probe_set_sha256,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """The file's lines (meta first), compact JSON, deterministic."""
        out = [json.dumps(self.meta(), ensure_ascii=False, sort_keys=False)]
        for c in self.counts.values():
            record = {
                "kind": "probe",
                "probe": c.probe,
                "sha256": c.sha256,
                "tokens": c.tokens,
                "tokens_parsed": list(c.tokens_parsed),
            }
            out.append(json.dumps(record, ensure_ascii=False))
        return out


def build_signature(
    sig_id: str,
    handles: list[TokenizerHandle],
    probe_set: ProbeSet,
    *,
    families: list[dict[str, str]],
    base: Signature | None = None,
    notes: str = "",
) -> Signature:
    """Count every probe with every handle; all handles must agree on ordinary-text counts."""
    if not handles:
        raise UsageError("signatures build needs at least one SOURCE")
    counts: dict[str, ProbeCount] = {}
    for probe in probe_set.all():
        text_counts = {h.name: h.count(probe.text) for h in handles}
        if len(set(text_counts.values())) > 1:
            detail = ", ".join(f"{k}={v}" for k, v in text_counts.items())
            raise UsageError(
                f"sources tokenize probe {probe.id} differently ({detail}); give them separate ids"
            )
        parsed = sorted({h.count(probe.text, specials=True) for h in handles})
        counts[probe.id] = ProbeCount(
            probe.id, probe.sha256, next(iter(text_counts.values())), tuple(parsed)
        )
    if base is not None:
        specials = {p.id for p in probe_set.probes if p.kind == "specials"}
        for pid, c in counts.items():
            other = base.counts.get(pid)
            if other is None or (pid not in specials and other.tokens != c.tokens):
                raise UsageError(
                    f"--base {base.id}: probe {pid} counts differ as ordinary text, "
                    "so it is not the same BPE; drop --base"
                )
    return Signature(
        id=sig_id,
        families=tuple(families),
        sources=tuple({"source": h.name, "sha256": h.sha256, "kind": h.kind} for h in handles),
        base=base.id if base else None,
        probe_set=probe_set.id,
        probe_set_sha256=probe_set.digest,
        counts=counts,
        notes=notes,
    )


def write_signature(sig: Signature, out_dir: Path) -> Path:
    """Write ``<out_dir>/<id>.jsonl``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{sig.id}.jsonl"
    path.write_text("\n".join(sig.lines()) + "\n", encoding="utf-8")
    return path


def read_signature(path: Path) -> Signature:
    """Parse one signature file; a malformed file raises :class:`CatalogError` naming it."""
    try:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        meta = lines[0]
        if meta.get("kind") != "meta" or meta.get("schema") != SIGNATURE_SCHEMA:
            raise ValueError("first line is not a signature meta record")
        counts = {
            r["probe"]: ProbeCount(
                r["probe"], r["sha256"], int(r["tokens"]), tuple(int(x) for x in r["tokens_parsed"])
            )
            for r in lines[1:]
        }
        return Signature(
            id=str(meta["id"]),
            families=tuple(meta.get("families", ())),
            sources=tuple(meta.get("sources", ())),
            base=meta.get("base"),
            probe_set=str(meta["probe_set"]),
            probe_set_sha256=str(meta["probe_set_sha256"]),
            counts=counts,
            path=path,
            notes=str(meta.get("notes", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise CatalogError(
            f"signature file {path} is malformed ({exc}); regenerate it with "
            "`provenance signatures build`"
        ) from None


def user_signature_dir() -> Path:
    return data_dir() / "signatures" / "tokenizers"


def default_output_dir() -> Path:
    """Output folder of ``signatures build``: ``fingerprints/tokenizers`` or the user dir."""
    return fingerprints_dir() / "tokenizers" if checkout_root() else user_signature_dir()


def signature_dirs() -> list[Path]:
    return [fingerprints_dir() / "tokenizers", user_signature_dir()]


def load_signatures(dirs: list[Path] | None = None) -> list[Signature]:
    """Every signature on disk; a user file with the same id as a shipped one replaces it."""
    found: dict[str, Signature] = {}
    for folder in dirs if dirs is not None else signature_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.jsonl")):
                sig = read_signature(path)
                found[sig.id] = sig
    return list(found.values())
