"""What the capture addon costs per exchange on mitmproxy's event loop, measured in process.

    python -m bench.hook_cost [process|loop]     # prints one JSON line

``process`` (the default, as the addon runs): the hooks snapshot the exchange and hand it to the
extraction process; ``loop``: extraction and redaction run in the hook itself.

The proxy suite's latency figures include everything; this isolates the addon: the same JSON
exchange the load generator sends (``provenance.standins.upstream``'s completion) driven through the
``Capture`` hooks with ``mitmproxy.test.taddons`` and a real SQLite store. The ``response`` hook
runs before mitmproxy forwards a buffered response, so its wall time is added to every
non-streamed request's latency and, under concurrency, queues the other flows behind it.
Run in its own process so the writer thread and the store are fresh.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from provenance.standins.stats import percentile
from provenance.standins.upstream import json_body

WARMUP, MEASURED = 100, 1000


def main() -> None:
    from mitmproxy.test import taddons, tflow, tutils

    mode = sys.argv[1] if len(sys.argv) > 1 else "process"

    from provenance.addons.capture import Capture

    request = json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "benchmark " * 20}]}
    ).encode()

    def flow() -> object:
        req = tutils.treq(
            host="api.openai.com",
            port=443,
            path=b"/v1/chat/completions",
            method=b"POST",
            content=request,
        )
        req.headers["content-type"] = "application/json"
        req.headers["authorization"] = "Bearer sk-bench-" + "0" * 40
        resp = tutils.tresp(content=json_body())
        resp.headers["content-type"] = "application/json"
        return tflow.tflow(req=req, resp=resp)

    addon = Capture(print_summary=False)
    with tempfile.TemporaryDirectory() as tmp, taddons.context(addon) as tctx:
        tctx.configure(
            addon,
            provenance_db=f"sqlite:///{Path(tmp) / 'hook.sqlite'}",
            provenance_extract_process=mode == "process",
        )
        wall: list[float] = []
        cpu: list[float] = []
        for i in range(WARMUP + MEASURED):
            f = flow()
            t0, c0 = time.perf_counter(), time.thread_time()
            addon.requestheaders(f)
            addon.responseheaders(f)
            addon.response(f)
            t1, c1 = time.perf_counter(), time.thread_time()
            if i >= WARMUP:
                wall.append((t1 - t0) * 1000)
                cpu.append((c1 - c0) * 1000)
        addon.done()
        written = addon.summary.written if addon.summary else None
    print(
        json.dumps(
            {
                "mode": mode,
                "p50_ms": percentile(wall, 50),
                "p90_ms": percentile(wall, 90),
                "p99_ms": percentile(wall, 99),
                "cpu_ms_mean": statistics.fmean(cpu),
                "exchanges": MEASURED + WARMUP,
                "written": written,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
