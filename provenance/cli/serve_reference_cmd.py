"""``provenance serve-reference MODEL_DIR``: an OpenAI-compatible server over a local model folder.

For hosting a candidate base locally (and for tests). Loopback only unless ``--allow-remote``:
the server has no authentication. For bases too large for one machine use vLLM or SGLang instead;
``provenance fingerprint logits --reference-server`` talks to all three.

Every cap of :mod:`provenance.reference.server` is an option here, with its default in the help;
together they bound what one request can cost (the README states the worst case).
"""

from __future__ import annotations

import argparse
import sys

from provenance.cli.common import add_allow_host_option, float_in, int_in, port_number
from provenance.netaddr import check_listen_address
from provenance.reference.admission import BODY_TIMEOUT, MAX_CONCURRENCY, MAX_QUEUE
from provenance.reference.bodies import PROMPT_BYTES_PER_TOKEN
from provenance.reference.server import (
    LOGITS_BUDGET,
    MAX_NEW_TOKENS,
    MAX_PROMPT_TOKENS,
    MAX_REQUEST_BYTES,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve-reference``."""
    p = sub.add_parser(
        "serve-reference", help="serve a local model folder with an OpenAI-compatible API"
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="Hugging Face model folder (safetensors)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=port_number, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    p.add_argument("--name", default=None, help="model id to serve as (default: the folder name)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host (no authentication!)")  # fmt: skip
    add_allow_host_option(p)
    p.add_argument(
        "--max-request-bytes",
        type=int_in(1024, 1 << 30),
        default=MAX_REQUEST_BYTES,
        help=f"refuse larger request bodies before parsing (default {MAX_REQUEST_BYTES})",
    )
    p.add_argument(
        "--max-prompt-tokens",
        type=int_in(1, 1 << 24),
        default=MAX_PROMPT_TOKENS,
        help=f"refuse longer prompts before the model runs, and text over {PROMPT_BYTES_PER_TOKEN} "
        f"bytes per such token before it is tokenized (default {MAX_PROMPT_TOKENS})",
    )
    p.add_argument(
        "--max-tokens",
        type=int_in(0, 1 << 20),
        default=MAX_NEW_TOKENS,
        help=f"largest max_tokens a request may ask for (default {MAX_NEW_TOKENS})",
    )
    p.add_argument(
        "--max-concurrency",
        type=int_in(1, 1024),
        default=MAX_CONCURRENCY,
        help=f"requests handled at once; the model runs one at a time (default {MAX_CONCURRENCY})",
    )
    p.add_argument(
        "--max-queue",
        type=int_in(0, 1 << 16),
        default=MAX_QUEUE,
        help=f"requests that may wait for a slot; beyond them 503 at once (default {MAX_QUEUE})",
    )
    p.add_argument(
        "--body-timeout",
        type=float_in(0.1, 3600),
        default=BODY_TIMEOUT,
        metavar="SECONDS",
        help=f"an admitted request's body must arrive within this, else 408 (default "
        f"{BODY_TIMEOUT:g})",
    )
    p.add_argument(
        "--max-logits-mib",
        type=int_in(1, 1 << 16),
        default=LOGITS_BUDGET >> 20,
        metavar="MIB",
        help="float32 logits one forward may produce: positions are scored in chunks of this "
        f"over the vocabulary (default {LOGITS_BUDGET >> 20})",
    )
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

    ref = TransformersReference(
        args.model_dir, name=args.name, logits_budget=args.max_logits_mib << 20
    )
    service = ReferenceService(
        ref, ref.name, max_prompt_tokens=args.max_prompt_tokens, max_new_tokens=args.max_tokens
    )
    app = create_app(
        service,
        allow_hosts=tuple(args.allow_host),
        max_request_bytes=args.max_request_bytes,
        max_concurrency=args.max_concurrency,
        max_queue=args.max_queue,
        body_timeout=args.body_timeout,
    )
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
