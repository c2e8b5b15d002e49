"""The body tap fed in chunks (what live capture does): never raises, memory bounded by the cap,
no swallowed internal error; the Content-Encoding decoders with their bomb cap run inside it."""

from __future__ import annotations

import atheris

from bench.fuzz.common import FuzzFinding, main, no_internal_errors, split

with atheris.instrument_imports(include=["provenance"]):
    from provenance.extract import BodyTap
    from provenance.extract.decode import BodyDecoder

from bench.fuzz.fuzz_extract import ENCODINGS, TYPES, URLS

MAX_BODY = 2048
DECODED_CAP = 1 << 20

SEEDS = [
    b'\x01\x00\x01\x05data: {"model":"gpt-4o"}\n\ndata: [DONE]\n\n',
    b"\x00\x01\x00\x09\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00",
]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    ctype = TYPES[fdp.ConsumeIntInRange(0, len(TYPES) - 1)]
    encoding = ENCODINGS[fdp.ConsumeIntInRange(0, len(ENCODINGS) - 1)]
    url = URLS[fdp.ConsumeIntInRange(0, len(URLS) - 1)]
    cuts = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    tap = BodyTap(
        content_type=ctype,
        content_encoding=encoding,
        role="response",
        max_body=MAX_BODY,
        url=url,
        decoded_cap=DECODED_CAP,
    )
    for chunk in split(body, cuts * 32):
        tap.feed(chunk)
    result = tap.finish()
    no_internal_errors(result.parse_errors, f"BodyTap({ctype}, {encoding})")
    if len(result.body) > MAX_BODY:
        raise FuzzFinding(f"kept {len(result.body)} bytes with max_body={MAX_BODY}")
    decoder = BodyDecoder(encoding, cap=DECODED_CAP)
    total = sum(len(decoder.feed(c)) for c in split(body, cuts * 32)) + len(decoder.finish())
    if encoding not in (None, "identity") and total > DECODED_CAP:
        raise FuzzFinding(f"decoded {total} bytes past the cap {DECODED_CAP}")


if __name__ == "__main__":
    main(test_one_input)
