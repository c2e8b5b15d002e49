"""Secrets streamed back in small deltas, one fragment per frame, are redacted in the stored body.

Every corpus secret (``tests/secrets_corpus.py``) is streamed in 1–7 character pieces in each
provider's streaming shape (``tests/extract/streamshapes.py``), through ``extract`` (import)
and through a ``BodyTap`` fed in 1–7 byte chunks (live capture). The text read back out of
the stored body must equal ``redact_text`` of the whole text, and no text field of the record
may hold a secret. Model ids split the same way stay as they are.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.extract import BodyTap, ExtractOptions, extract
from provenance.extract.websocket import WebSocketTap, extract_websocket
from provenance.records import ExchangeRecord, RawExchange
from provenance.redact import TOKEN_RE, Redactor
from provenance.redact.fragments import (
    SPLIT_SECRET_NOTICE,
    redact_split_secrets,
    secret_spans,
)
from tests.extract.conftest import CI, LEAK_ID
from tests.extract.streamshapes import SHAPES, WS_SHAPES, Shape, gemini_array, split
from tests.secrets_corpus import SECRETS, assert_no_secrets, find_secrets, plant_text

MODEL_IDS = " ".join(
    [
        LEAK_ID,
        "gpt-4o-2024-08-06",
        "claude-sonnet-4-5-20250929",
        "models/gemini-2.5-pro-preview-06-05",
        "accounts/fireworks/models/deepseek-v3p1",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ]
)


def raw_exchange(url: str, **kw: object) -> RawExchange:
    base: dict[str, object] = dict(
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        method="POST",
        url=url,
        request_headers=[("content-type", "application/json")],
        request_body=None,
        status=200,
        response_headers=[],
        response_body=None,
    )
    base.update(kw)
    return RawExchange(**base)  # type: ignore[arg-type]


def all_text(record: ExchangeRecord) -> str:
    return json.dumps(
        [
            record.path,
            record.request_headers,
            record.response_headers,
            record.request_body,
            record.response_body,
            record.error,
            record.product,
            [o.model_id for o in record.observations],
            record.parse_errors,
        ],
        ensure_ascii=False,
    )


def credential_hashes(redacted: str) -> set[str]:
    """The hashes of the credential tokens in a text (personal ``user-id`` tokens excluded)."""
    tokens = TOKEN_RE.findall(redacted)
    return {t[-13:-1] for t in tokens if not t.startswith("[REDACTED:user-id:")}


def chunks(data: bytes, seed: object) -> list[bytes]:
    rng = random.Random(str(seed))
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 7)
        out.append(data[i : i + n])
        i += n
    return out


def record_for(shape: Shape, pieces: list[str], redactor: Redactor, via: str, **options):
    body = shape.build(pieces)
    headers = [("content-type", shape.content_type)]
    opts = ExtractOptions(**options)
    if via == "import":
        raw = raw_exchange(shape.url, response_headers=headers, response_body=body)
        return extract(raw, redactor=redactor, options=opts)
    wire = gzip.compress(body)
    headers.append(("content-encoding", "gzip"))
    tap = BodyTap.for_headers(headers, role="response", max_body=opts.max_body, url=shape.url)
    for chunk in chunks(wire, shape.name):
        tap.feed(chunk)
    raw = raw_exchange(shape.url, response_headers=headers, streamed=True)
    return extract(raw, redactor=redactor, options=opts, response_tap=tap.finish())


def ws_record(url: str, messages: list[tuple[bool, dict]], redactor: Redactor) -> ExchangeRecord:
    tap = WebSocketTap(url=url)
    for from_client, doc in messages:
        tap.feed(json.dumps(doc), from_client=from_client, is_text=True)
    handshake = raw_exchange(url, method="GET", status=101, response_headers=[])
    return extract_websocket(handshake, tap.finish(), redactor=redactor)


TEXT = plant_text()


def test_the_corpus_text_holds_every_secret() -> None:
    assert find_secrets(TEXT) == list(SECRETS)  # so the tests below are not vacuous


@pytest.mark.parametrize("via", ["import", "live"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_corpus_streamed_in_small_deltas_is_redacted(redactor, shape: Shape, via: str) -> None:
    pieces = split(TEXT, shape.name)
    assert not any(find_secrets(p) for p in pieces)  # no frame holds a whole secret
    rec = record_for(shape, pieces, redactor, via)
    stored = rec.response_body
    assert stored is not None and rec.response_digest
    streamed = shape.read(stored)
    assert_no_secrets(streamed)
    assert_no_secrets(all_text(rec))
    assert streamed == redactor.redact_text(TEXT)  # exactly what the joined text redacts to
    assert set(rec.secret_hashes) == credential_hashes(redactor.redact_text(TEXT))
    assert not rec.parse_errors, rec.parse_errors


@pytest.mark.parametrize(("name", "url", "build", "read"), WS_SHAPES, ids=[s[0] for s in WS_SHAPES])
def test_corpus_streamed_over_a_websocket_is_redacted(redactor, name, url, build, read) -> None:
    rec = ws_record(url, build(split(TEXT, name)), redactor)
    streamed = read(rec.response_body)
    assert_no_secrets(streamed)
    assert_no_secrets(all_text(rec))
    assert streamed == redactor.redact_text(TEXT)
    assert rec.secret_hashes and not rec.parse_errors


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_model_ids_split_across_frames_are_not_secrets(redactor, shape: Shape) -> None:
    rec = record_for(shape, split(MODEL_IDS, "ids-" + shape.name), redactor, "import")
    assert shape.read(rec.response_body) == MODEL_IDS
    assert "[REDACTED:" not in rec.response_body
    assert rec.secret_hashes == []


@pytest.mark.parametrize(("name", "url", "build", "read"), WS_SHAPES, ids=[s[0] for s in WS_SHAPES])
def test_model_ids_split_across_websocket_messages_are_not_secrets(
    redactor, name, url, build, read
) -> None:
    rec = ws_record(url, build(split(MODEL_IDS, name)), redactor)
    assert read(rec.response_body) == MODEL_IDS and "[REDACTED:" not in rec.response_body


_PATTERN_SAMPLES = [s for s in SECRETS if not s.context_only]


@CI
@given(data=st.data())
def test_property_any_split_points(data) -> None:
    redactor = Redactor(b"split-property-key-0123456789abcdef")
    samples = data.draw(
        st.lists(st.sampled_from(SECRETS), min_size=1, max_size=3, unique_by=lambda s: s.name)
    )
    text = "reply: " + plant_text(samples) + " done"
    cuts = data.draw(st.sets(st.integers(1, len(text) - 1), max_size=80))
    bounds = [0, *sorted(cuts), len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    shape = data.draw(st.sampled_from(SHAPES), label="shape")
    rec = record_for(shape, pieces, redactor, "import")
    streamed = shape.read(rec.response_body)
    assert_no_secrets(streamed, samples)
    assert_no_secrets(all_text(rec), samples)
    assert streamed == redactor.redact_text(text)


def test_interleaved_channels_are_joined_apart(redactor) -> None:
    """Two choices streamed at once: each joins its own text; a key split in choice 0 is
    found across choice 1's frames, and choice 1's text is untouched."""
    key = next(s for s in SECRETS if s.name == "openai-project").value
    first = split(f"key {key} end", 3)
    second = split("plain words in the other choice", 4)
    frames = []
    for i in range(max(len(first), len(second))):
        for index, pieces in ((0, first), (1, second)):
            if i < len(pieces):
                chunk = {"choices": [{"index": index, "delta": {"content": pieces[i]}}]}
                frames.append(f"data: {json.dumps(chunk)}\n\n")
    raw = raw_exchange(
        "https://api.openai.com/v1/chat/completions",
        response_headers=[("content-type", "text/event-stream")],
        response_body="".join(frames).encode(),
    )
    rec = extract(raw, redactor=redactor)
    texts: dict[int, str] = {0: "", 1: ""}
    for line in rec.response_body.split("\n"):
        if line.startswith("data: "):
            choice = json.loads(line[6:])["choices"][0]
            texts[choice["index"]] += choice["delta"]["content"]
    assert_no_secrets(texts[0])
    assert texts[0] == redactor.redact_text(f"key {key} end")
    assert texts[1] == "plain words in the other choice"


def test_the_token_lands_in_the_fragment_where_the_secret_starts(redactor) -> None:
    key = next(s for s in SECRETS if s.name == "github-classic").value
    frames: list[object] = [
        {"delta": {"text": "see " + key[:5]}},
        {"delta": {"text": key[5:20]}},
        {"other": "x"},
        {"delta": {"text": key[20:] + " ok"}},
    ]
    result = redact_split_secrets(frames, redactor)
    token = redactor.redact_text(key)
    assert result.redacted == 1 and result.frames == {0, 1, 3} and not result.unmapped
    assert [f.get("delta", {}).get("text") for f in frames] == ["see " + token, "", None, " ok"]


def test_secret_spans_are_exact(redactor) -> None:
    a = next(s for s in SECRETS if s.name == "github-classic").value
    b = next(s for s in SECRETS if s.name == "groq").value
    old = redactor.redact_text(a)  # a token already in the text stays text
    cases = {
        f"x {a} {old} {b}": [a, b],
        f"{old}{a}": [a],
        f"{a} and {a}": [a, a],
        f"{a}\n{b}": [a, b],
        f"{b}{a}": None,  # adjacent: whatever the redactor replaced, mapped back exactly
    }
    for original, expected in cases.items():
        redacted = redactor.redact_text(original)
        spans = secret_spans(original, redacted, redactor)
        if expected is not None:
            assert [original[s:e] for s, e, _ in spans] == expected
        rebuilt, pos = [], 0
        for start, end, token in spans:
            assert token[-13:-1] == redactor.digest(original[start:end])
            rebuilt += [original[pos:start], token]
            pos = end
        assert "".join(rebuilt) + original[pos:] == redacted
    with pytest.raises(ValueError):
        secret_spans(f"x {a}", "y " + redactor.redact_text(a), redactor)
    with pytest.raises(ValueError):
        secret_spans(f"x {a}", "x [REDACTED:github:000000000000]", redactor)


class _RehashingRedactor(Redactor):
    """A redactor whose tokens hash something other than the text they replace."""

    def redact_secret(self, secret: str, kind: str = "field") -> str:
        return super().redact_secret(secret + "#", kind)


def test_unmappable_secret_replaces_the_body_by_the_redacted_stream_text() -> None:
    redactor = _RehashingRedactor(b"rehashing-key-0123456789abcdef0123")
    shape = SHAPES[0]
    rec = record_for(shape, split(TEXT, 5), redactor, "import")
    assert_no_secrets(all_text(rec))
    assert rec.response_digest and rec.response_body
    assert any(SPLIT_SECRET_NOTICE in e for e in rec.parse_errors), rec.parse_errors
    lines = [json.loads(line) for line in rec.response_body.split("\n")]
    content = next(d for d in lines if d["channel"].endswith("delta/content"))
    assert content["text"] == redactor.redact_text(TEXT)


def test_unmappable_secret_over_a_websocket_replaces_the_log() -> None:
    redactor = _RehashingRedactor(b"rehashing-key-0123456789abcdef0123")
    name, url, build, _read = WS_SHAPES[0]
    rec = ws_record(url, build(split(TEXT, name)), redactor)
    assert_no_secrets(all_text(rec))
    assert any(SPLIT_SECRET_NOTICE in e for e in rec.parse_errors)


def test_json_array_stream_cut_at_the_cap_keeps_no_split_secret(redactor) -> None:
    key = next(s for s in SECRETS if s.name == "anthropic-api").value
    pieces = split(f"the key is {key} and more", 9) + ["filler text " * 3] * 40
    body = gemini_array(pieces)
    shape = next(s for s in SHAPES if s.name == "gemini-json-array")
    raw = raw_exchange(
        shape.url, response_headers=[("content-type", shape.content_type)], response_body=body
    )
    rec = extract(raw, redactor=redactor, options=ExtractOptions(max_body=len(body) // 2))
    assert rec.bodies_truncated
    assert_no_secrets("".join(json.loads(x)["text"] for x in rec.response_body.split("\n")))
    assert_no_secrets(all_text(rec))
    assert any(SPLIT_SECRET_NOTICE in e for e in rec.parse_errors)


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/json", lambda t: json.dumps({"choices": [{"message": {"content": t}}]})),
        ("text/plain; charset=utf-8", lambda t: t),
    ],
    ids=["json", "text"],
)
def test_secrets_across_chunk_boundaries_of_a_whole_body_are_redacted(
    redactor, content_type: str, encode
) -> None:
    """A non-streamed body is joined before it is redacted, however the wire cut it."""
    body = encode(TEXT).encode()
    headers = [("content-type", content_type), ("content-encoding", "gzip")]
    url = "https://api.openai.com/v1/chat/completions"
    tap = BodyTap.for_headers(headers, role="response", max_body=1_000_000, url=url)
    pieces = chunks(gzip.compress(body), content_type)
    assert len(pieces) > 100
    for piece in pieces:
        tap.feed(piece)
    rec = extract(
        raw_exchange(url, response_headers=headers), redactor=redactor, response_tap=tap.finish()
    )
    assert_no_secrets(all_text(rec))
    assert len(rec.secret_hashes) > 30


def _leaks(frames: list[str]) -> set[str]:
    return {s.name for s in find_secrets("".join(frames))}


@pytest.mark.parametrize("sep", ["", "x"], ids=["adjacent", "glued-by-a-letter"])
def test_never_worse_than_redacting_frame_by_frame(redactor, sep: str) -> None:
    """Two whole secrets in consecutive frames with no space between: a span of the joined
    text may run from the first into the second (``sk-…`` swallowing ``Bearer``), which would
    cut the context the frame alone had. Nothing the per-frame pass hid may show."""
    worse = []
    for a, b in itertools.product(_PATTERN_SAMPLES, repeat=2):
        texts = [a.value + sep, b.value]
        per_frame = [redactor.redact_text(t) for t in texts]
        frames: list[object] = [{"text": t} for t in texts]
        redact_split_secrets(frames, redactor)
        stored = [redactor.redact_text(f["text"]) for f in frames]  # type: ignore[index]
        if _leaks(stored) - _leaks(per_frame) - _leaks([" ".join(per_frame)]):
            worse.append((a.name, b.name))
    assert worse == []


@CI
@given(data=st.data())
def test_property_adjacent_secrets_in_random_chunks(data) -> None:
    """Secrets glued together, cut anywhere: what is stored leaks nothing that redacting the
    whole text would hide, nor anything the frames alone would hide."""
    redactor = Redactor(b"split-property-key-0123456789abcdef")
    samples = data.draw(st.lists(st.sampled_from(_PATTERN_SAMPLES), min_size=2, max_size=4))
    seps = data.draw(st.lists(st.sampled_from(["", " ", "x", "\n", "="]), min_size=4, max_size=4))
    text = "".join(s.value + sep for s, sep in zip(samples, seps, strict=False))
    cuts = data.draw(st.sets(st.integers(1, len(text) - 1), max_size=12))
    bounds = [0, *sorted(cuts), len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    frames: list[object] = [{"delta": {"text": p}} for p in pieces]
    result = redact_split_secrets(frames, redactor)
    assert not result.unmapped
    stored = [redactor.redact_text(f["delta"]["text"]) for f in frames]  # type: ignore[index]
    leaked = _leaks(stored)
    assert not leaked - _leaks([redactor.redact_text(text)])
    assert not leaked - _leaks([redactor.redact_text(p) for p in pieces])
