"""``provenance serve-reference MODEL_DIR``: an OpenAI-compatible server over a local model folder.

For hosting a candidate base locally (and for tests). Loopback only unless ``--allow-remote``:
the server has no authentication. For bases too large for one machine use vLLM or SGLang instead;
``provenance fingerprint logits --reference-server`` talks to all three.
"""

from __future__ import annotations

import argparse
import sys

from provenance.netaddr import check_listen_address


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve-reference``."""
    p = sub.add_parser(
        "serve-reference", help="serve a local model folder with an OpenAI-compatible API"
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="Hugging Face model folder (safetensors)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--name", default=None, help="model id to serve as (default: the folder name)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host (no authentication!)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, then serve until interrupted."""
    check_listen_address(
        args.host,
        args.port,
        allow_remote=args.allow_remote,
        what="this unauthenticated server",
    )
    from provenance.optional import require

    for module in ("uvicorn", "starlette"):
        require(module, "serve", "serve-reference")
    import uvicorn

    from provenance.reference.server import ReferenceService, create_app
    from provenance.reference.transformers_backend import TransformersReference

    ref = TransformersReference(args.model_dir, name=args.name)
    app = create_app(ReferenceService(ref, ref.name))
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)

    original_startup = server.startup

    async def startup(sockets: object = None) -> None:
        await original_startup(sockets=sockets)  # type: ignore[arg-type]
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        sys.stderr.write(f"serving {ref.name!r} ({ref.device}) on http://{args.host}:{port}/v1\n")
        sys.stderr.flush()

    server.startup = startup  # type: ignore[method-assign]
    server.run()
    return 0
