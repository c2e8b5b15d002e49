"""Tokens are keyed hashes: stable per key, different across keys; the key file is private."""

from __future__ import annotations

import hashlib
import hmac
import re
import stat
from pathlib import Path

import pytest

from provenance.errors import UsageError
from provenance.redact import Redactor
from provenance.redact.keyfile import KEY_FILE_NAME, load_or_create_key
from tests.secrets_corpus import BY_NAME, PATTERN_SECRETS

KEY_A = b"a" * 32
KEY_B = b"b" * 32


def test_token_is_first_12_hex_of_hmac_sha256() -> None:
    secret = BY_NAME["groq"].value
    expected = hmac.new(KEY_A, secret.encode(), hashlib.sha256).hexdigest()[:12]
    assert Redactor(KEY_A).redact_text(secret) == f"[REDACTED:groq:{expected}]"


def test_stable_for_same_key_and_secret_different_across_keys() -> None:
    a1, a2, b = Redactor(KEY_A), Redactor(KEY_A), Redactor(KEY_B)
    for s in PATTERN_SECRETS:
        text = f"x {s.value} y"
        assert a1.redact_text(text) == a2.redact_text(text) == a1.redact_text(text), s.name
        assert a1.redact_text(text) != b.redact_text(text), s.name


def test_same_secret_same_hash_in_every_location() -> None:
    r = Redactor(KEY_A)
    key = BY_NAME["anthropic-api"].value
    with r.collecting() as found:
        header = r.redact_headers([("x-api-key", key)])[0][1]
        body = r.redact_json({"api_key": key, "text": f"key {key}"})
        url = r.redact_url(f"/v1/messages?api_key={key}")
    digest = re.search(r"[0-9a-f]{12}", header).group()  # type: ignore[union-attr]
    assert digest in body["api_key"] and digest in body["text"] and digest in url
    assert found.hashes == [digest]


def test_collecting_is_per_block_ordered_and_nested() -> None:
    r = Redactor(KEY_A)
    groq, xai = BY_NAME["groq"].value, BY_NAME["xai"].value
    r.redact_text(groq)  # outside any block: collected nowhere
    with r.collecting() as outer:
        r.redact_text(f"{groq} {xai} {groq}")
        with r.collecting() as inner:
            r.redact_text(xai)
    assert len(outer.hashes) == 2 and inner.hashes == [outer.hashes[1]]
    with r.collecting() as later:
        pass
    assert later.hashes == []


def test_collecting_keeps_concurrent_exchanges_apart() -> None:
    """One redactor, many threads: each block sees only its own thread's credentials."""
    import threading

    r = Redactor(KEY_A)
    secrets = [BY_NAME[name].value for name in ("groq", "xai", "anthropic-api", "openai-project")]
    results: dict[int, list[str]] = {}
    start = threading.Barrier(len(secrets))

    def work(i: int) -> None:
        start.wait()
        with r.collecting() as found:
            for _ in range(200):
                r.redact_text(f"key {secrets[i]} again")
        results[i] = found.hashes

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(secrets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: results[i] for i in results} == {i: [r.digest(s)] for i, s in enumerate(secrets)}


def test_bad_keys_rejected() -> None:
    with pytest.raises(ValueError):
        Redactor(b"short")
    with pytest.raises(ValueError):
        Redactor("a" * 32)  # type: ignore[arg-type]


def test_key_file_created_0600_and_reused(home: Path) -> None:
    r1 = Redactor.from_data_dir()
    path = home / KEY_FILE_NAME
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    r2 = Redactor.from_data_dir()
    secret = BY_NAME["fireworks"].value
    assert r1.redact_text(secret) == r2.redact_text(secret)
    assert [p.name for p in home.iterdir()] == [KEY_FILE_NAME]  # no temp file left behind


def test_key_differs_per_installation(tmp_path: Path) -> None:
    assert load_or_create_key(tmp_path / "a" / "k") != load_or_create_key(tmp_path / "b" / "k")


def test_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_text("not hex\n")
    with pytest.raises(UsageError, match="damaged; move it away"):
        load_or_create_key(path)


def test_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")  # a file where the data directory should be: fails even for root
    with pytest.raises(UsageError, match="cannot read or create the redaction key"):
        load_or_create_key(not_a_dir / KEY_FILE_NAME)


def test_concurrent_creation_agrees_on_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / KEY_FILE_NAME
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create_key(path), range(16)))
    assert len(set(keys)) == 1
