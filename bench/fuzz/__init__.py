"""Coverage-guided fuzzing (atheris/libFuzzer) of the byte-level parsers: ``make fuzz``.

One module per harness (``fuzz_<name>.py``) with ``SEEDS`` (a starting corpus) and
``test_one_input(data)``; :mod:`bench.fuzz.__main__` runs each in its own process for a fixed time
with a memory limit. A harness fails (and libFuzzer saves the input) when an exception escapes a
parser, when a parser's own invariant breaks (e.g. feeding a stream in chunks must give the same
frames as feeding it whole) or when a parser swallowed an internal error. This package imports
nothing from ``provenance`` itself: each harness imports its targets under atheris's
instrumentation.
"""
