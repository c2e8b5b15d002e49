"""Stand-ins: the servers, clients and processes the demo, the tests and the benchmarks run.

Nothing in the library imports this package. :mod:`.provider` is the bundled stand-in provider
(OpenAI, Anthropic, Gemini and Connect shapes; ``make demo``, the end-to-end tests);
:mod:`.tokencount` answers token counts with a real tokenizer (the tokenizer fingerprint's
tests and benchmarks); :mod:`.upstream` and :mod:`.loadgen` are the raw-asyncio upstream and
load generator of the proxy suite and the hardening tests; :mod:`.processes` launches the real
proxies (``mitmdump``, ``mitmdump -s`` the capture addon, ``provenance capture``) and measures
them; :mod:`.postgres` runs a throw-away PostgreSQL server; :mod:`.stats` holds the few
statistics the measurements need.
"""
