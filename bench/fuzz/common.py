"""Helpers shared by the fuzz harnesses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator


class FuzzFinding(AssertionError):
    """A parser broke one of its own promises (not an escaped exception, but as bad)."""


def split(data: bytes, cuts: bytes) -> Iterator[bytes]:
    """``data`` in chunks whose sizes come from the bytes of ``cuts`` (1-256 each)."""
    pos = 0
    for c in cuts:
        if pos >= len(data):
            return
        yield data[pos : pos + c + 1]
        pos += c + 1
    if pos < len(data):
        yield data[pos:]


def take(data: bytes, n: int) -> tuple[bytes, bytes]:
    """The first ``n`` bytes (the harness's own parameters) and the rest (the input proper)."""
    return data[:n], data[n:]


def no_internal_errors(errors: list[str], where: str) -> None:
    """Parsers record their own bugs as "internal error ..." instead of raising: a finding."""
    bad = [e for e in errors if "internal error" in e]
    if bad:
        raise FuzzFinding(f"{where}: {bad[0]}")


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Hand control to libFuzzer (argv: corpus dirs and libFuzzer flags)."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
