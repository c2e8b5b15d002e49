"""``provenance signatures {build,probes,list}``: generate and inspect tokenizer signatures.

* ``build SOURCE… --id ID [--families K,…] [--source TEXT] [--family K=TEXT]… [--base ID]
  [--pattern P] [--out DIR]``: count the probe set with the tokenizer(s) in SOURCE (a file, a
  folder, or ``pkg:NAME[:FILE]``) and write ``<id>.jsonl``; ``build --manifest`` regenerates every
  shipped signature from ``fingerprints/tokenizers/manifest.json``.
* ``probes [--out FILE]``: search the probe texts anew for the ids in the manifest.
* ``list [--json]``: the signatures the registry reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from provenance.cli.common import add_json_option, emit_json, int_in, print_table
from provenance.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("signatures", help="generate and list tokenizer signatures")
    cmds = parser.add_subparsers(dest="signatures_cmd", metavar="CMD", parser_class=type(parser))

    build = cmds.add_parser("build", help="write <id>.jsonl from tokenizer files or packages")
    build.add_argument(
        "sources", nargs="*", metavar="SOURCE", help="tokenizer file or folder, or pkg:NAME[:FILE]"
    )
    build.add_argument("--id", dest="sig_id", help="tokenizer id, e.g. kimi-k2")
    build.add_argument("--families", default="", help="comma-separated catalog family keys")
    build.add_argument(
        "--source",
        dest="claim_source",
        default="",
        help="where the family claim comes from (applies to --families)",
    )
    build.add_argument(
        "--family",
        action="append",
        default=[],
        metavar="KEY=SOURCE",
        help="one family key with its own source (repeatable)",
    )
    build.add_argument("--base", default=None, help="id with identical ordinary-text counts")
    build.add_argument("--notes", default="", help="free text stored in the meta line")
    build.add_argument("--pattern", default=None, help="split pattern of a bare *.tiktoken file")
    build.add_argument("--out", type=Path, default=None, help="output folder")
    build.add_argument("--probes", type=Path, default=None, help="probe set file")
    build.add_argument(
        "--manifest",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="regenerate every id listed in the manifest (default: the shipped one)",
    )
    build.set_defaults(func=_build)

    probes = cmds.add_parser("probes", help="search the probe texts (offline, slow)")
    probes.add_argument("--out", type=Path, default=None, help="probe set file to write")
    probes.add_argument("--units", type=int_in(1, 10_000), default=10, help="units per text probe")
    probes.add_argument(
        "--text-probes", type=int_in(1, 1_000), default=4, help="number of text probes"
    )
    probes.set_defaults(func=_probes)

    lst = cmds.add_parser("list", help="the signatures the registry reads")
    add_json_option(lst)
    lst.set_defaults(func=_list)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _families(args: argparse.Namespace) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    keys = [k.strip() for k in args.families.split(",") if k.strip()]
    if keys and not args.claim_source:
        raise UsageError("--families needs --source saying where the claim comes from")
    out.extend({"family": k, "source": args.claim_source} for k in keys)
    for item in args.family:
        key, sep, src = item.partition("=")
        if not sep or not key.strip() or not src.strip():
            raise UsageError(f"--family {item!r}: expected KEY=SOURCE")
        out.append({"family": key.strip(), "source": src.strip()})
    return out


def _build(args: argparse.Namespace) -> int:
    from provenance.tokenizers import load_tokenizer
    from provenance.tokenizers.probes import load_probe_set
    from provenance.tokenizers.signatures import (
        build_signature,
        default_output_dir,
        load_signatures,
        write_signature,
    )

    probe_set = load_probe_set(args.probes)
    out_dir = args.out or default_output_dir()
    if args.manifest is not None:
        from provenance.tokenizers.manifest import load_manifest

        entries = load_manifest(Path(args.manifest) if args.manifest else None)
        built: dict[str, object] = {}
        for entry in entries:
            handles = [load_tokenizer(s) for s in entry.sources]
            base = built.get(entry.base) if entry.base else None
            sig = build_signature(
                entry.id,
                handles,
                probe_set,
                families=list(entry.families),
                base=base,
                notes=entry.notes,
            )  # type: ignore[arg-type]
            built[entry.id] = sig
            print(f"wrote {write_signature(sig, out_dir)}")
        return 0
    if not args.sources or not args.sig_id:
        raise UsageError("signatures build needs SOURCE… and --id (or --manifest)")
    handles = [load_tokenizer(s, pattern=args.pattern) for s in args.sources]
    existing = {s.id: s for s in load_signatures()}
    base = None
    if args.base:
        base = existing.get(args.base)
        if base is None:
            raise UsageError(f"--base {args.base}: no such signature")
    sig = build_signature(
        args.sig_id, handles, probe_set, families=_families(args), base=base, notes=args.notes
    )
    for other in existing.values():
        if (
            other.id != sig.id
            and other.probe_set_sha256 == sig.probe_set_sha256
            and all(other.counts.get(k) == v for k, v in sig.counts.items())
        ):
            raise UsageError(
                f"{sig.id} tokenizes every probe exactly like {other.id}; "
                f"add the source to {other.id} instead of a new id"
            )
    print(f"wrote {write_signature(sig, out_dir)}")
    return 0


def _probes(args: argparse.Namespace) -> int:
    from provenance.fingerprint.tokenizer.probe_search import search_probes
    from provenance.tokenizers import load_tokenizer
    from provenance.tokenizers.manifest import load_manifest
    from provenance.tokenizers.probes import default_probe_path

    handles = {e.id: load_tokenizer(e.sources[0]) for e in load_manifest() if not e.base}
    doc = search_probes(handles, text_probes=args.text_probes, units_per_probe=args.units)
    out = args.out or default_probe_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from provenance.tokenizers.signatures import load_signatures

    sigs = load_signatures()
    if args.json:
        emit_json(
            {
                "schema": "provenance.signatures/1",
                "signatures": [
                    {
                        "id": s.id,
                        "families": s.family_keys,
                        "base": s.base,
                        "probe_set": s.probe_set,
                        "sources": [x["source"] for x in s.sources],
                        "path": str(s.path),
                    }
                    for s in sigs
                ],
            }
        )
        return 0
    rows = [(s.id, ", ".join(s.family_keys), s.base, s.probe_set, s.path) for s in sigs]
    print_table("tokenizer signatures", ["id", "families", "base", "probe set", "file"], rows)
    return 0
