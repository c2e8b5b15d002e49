"""provenance benchmarks: ``make bench`` (``python -m bench``) writes ``docs/benchmarks.md``.

Every figure that is compared with a target is a ratio or a difference measured side by side in
the same run (baseline and subject interleaved, several repeats), so a busy machine slows both.
Suites (each a module with ``run(ctx) -> Section``): ``store`` (1M exchanges on SQLite and
PostgreSQL, the landing page render), ``import`` (HAR and flow files vs mitmproxy's FlowReader),
``proxy`` (throughput, latency, streaming, stalled store, soak memory).
"""
