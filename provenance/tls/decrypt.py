"""Decrypt TLS 1.2 and 1.3 records with secrets from a key log (``cryptography`` AEAD/CBC).

One :class:`DirectionDecryptor` per connection direction. TLS 1.3 needs the handshake and
traffic secrets (handshake keys until that side's Finished, then traffic keys; KeyUpdate is
followed); TLS 1.2 derives its key block from the master secret (``CLIENT_RANDOM``) and both
randoms. Supported suites: AES-GCM, ChaCha20-Poly1305, AES-CCM (1.3) and AES-CBC with
HMAC-SHA1/256/384 (1.2, with or without encrypt-then-MAC). Failures raise :class:`DecryptError`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass


class DecryptError(ValueError):
    """A record could not be decrypted (wrong keys, unsupported suite, bad padding)."""


@dataclass(frozen=True, slots=True)
class Suite:
    """What decryption needs to know about a cipher suite."""

    cipher: str  # "gcm", "chacha", "ccm", "cbc"
    key_len: int
    hash_name: str  # PRF / HKDF hash
    mac_len: int = 0  # CBC only: HMAC output length
    mac_hash: str = ""


TLS13_SUITES = {
    0x1301: Suite("gcm", 16, "sha256"),
    0x1302: Suite("gcm", 32, "sha384"),
    0x1303: Suite("chacha", 32, "sha256"),
    0x1304: Suite("ccm", 16, "sha256"),
}

TLS12_SUITES = {
    **{c: Suite("gcm", 16, "sha256") for c in (0x009C, 0x009E, 0xC02B, 0xC02F)},
    **{c: Suite("gcm", 32, "sha384") for c in (0x009D, 0x009F, 0xC02C, 0xC030)},
    **{c: Suite("chacha", 32, "sha256") for c in (0xCCA8, 0xCCA9, 0xCCAA)},
    **{c: Suite("cbc", 16, "sha256", 20, "sha1") for c in (0x002F, 0x0033, 0xC009, 0xC013)},
    **{c: Suite("cbc", 32, "sha256", 20, "sha1") for c in (0x0035, 0x0039, 0xC00A, 0xC014)},
    **{c: Suite("cbc", 16, "sha256", 32, "sha256") for c in (0x003C, 0x0067, 0xC023, 0xC027)},
    **{c: Suite("cbc", 32, "sha256", 32, "sha256") for c in (0x003D, 0x006B)},
    **{c: Suite("cbc", 32, "sha384", 48, "sha384") for c in (0xC024, 0xC028)},
}


def hkdf_expand_label(secret: bytes, label: str, length: int, hash_name: str) -> bytes:
    """TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1)."""
    full = b"tls13 " + label.encode("ascii")
    info = struct.pack("!H", length) + bytes([len(full)]) + full + b"\x00"
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return out[:length]


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """TLS 1.2 PRF (P_hash, RFC 5246 §5)."""
    seed = label + seed
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + seed, hash_name).digest()
    return out[:length]


def _aead(suite: Suite, key: bytes):
    from cryptography.hazmat.primitives.ciphers import aead

    if suite.cipher == "gcm":
        return aead.AESGCM(key)
    if suite.cipher == "chacha":
        return aead.ChaCha20Poly1305(key)
    if suite.cipher == "ccm":
        return aead.AESCCM(key)
    raise DecryptError(f"not an AEAD suite: {suite.cipher}")


class DirectionDecryptor:
    """Decrypts the records of one direction, counting sequence numbers itself."""

    def __init__(
        self,
        version: int,
        suite: Suite,
        key: bytes,
        iv: bytes,
        mac_key: bytes = b"",
        encrypt_then_mac: bool = False,
    ) -> None:
        self.version = version
        self.suite = suite
        self.key = key
        self.iv = iv
        self.mac_key = mac_key
        self.etm = encrypt_then_mac
        self.seq = 0
        self._aead = None if suite.cipher == "cbc" else _aead(suite, key)

    # -- TLS 1.3 ----------------------------------------------------------------------------
    @classmethod
    def tls13(cls, suite: Suite, secret: bytes) -> DirectionDecryptor:
        """Keys for one TLS 1.3 traffic secret."""
        key = hkdf_expand_label(secret, "key", suite.key_len, suite.hash_name)
        iv = hkdf_expand_label(secret, "iv", 12, suite.hash_name)
        dec = cls(0x0304, suite, key, iv)
        dec.secret = secret  # type: ignore[attr-defined]
        return dec

    def key_update(self) -> DirectionDecryptor:
        """The decryptor after a TLS 1.3 KeyUpdate from this direction."""
        secret: bytes = self.secret  # type: ignore[attr-defined]
        size = hashlib.new(self.suite.hash_name).digest_size
        return DirectionDecryptor.tls13(
            self.suite, hkdf_expand_label(secret, "traffic upd", size, self.suite.hash_name)
        )

    def decrypt(
        self, content_type: int, record_version: bytes, fragment: bytes
    ) -> tuple[int, bytes]:
        """Decrypt one record; returns (inner content type, plaintext). Raises DecryptError.

        The sequence number only advances on success, so a failed trial leaves state intact.
        """
        try:
            if self.version == 0x0304:
                result = self._open13(content_type, record_version, fragment)
            elif self.suite.cipher == "cbc":
                result = (content_type, self._open12_cbc(content_type, record_version, fragment))
            else:
                result = (content_type, self._open12_aead(content_type, record_version, fragment))
        except DecryptError:
            raise
        except Exception as exc:  # cryptography's InvalidTag, ValueError on sizes
            raise DecryptError(type(exc).__name__) from None
        self.seq += 1
        return result

    def _nonce(self) -> bytes:
        padded = self.seq.to_bytes(len(self.iv), "big")
        return bytes(a ^ b for a, b in zip(self.iv, padded, strict=True))

    def _open13(self, ctype: int, rversion: bytes, fragment: bytes) -> tuple[int, bytes]:
        header = bytes([ctype]) + rversion + struct.pack("!H", len(fragment))
        plain = self._aead.decrypt(self._nonce(), fragment, header)  # type: ignore[union-attr]
        stripped = plain.rstrip(b"\x00")
        if not stripped:
            raise DecryptError("empty inner plaintext")
        return stripped[-1], stripped[:-1]

    def _open12_aead(self, ctype: int, rversion: bytes, fragment: bytes) -> bytes:
        if self.suite.cipher == "chacha":
            nonce = self._nonce()
            body = fragment
        else:
            nonce, body = self.iv + fragment[:8], fragment[8:]
        plain_len = len(body) - 16
        if plain_len < 0:
            raise DecryptError("record too short")
        aad = struct.pack("!QB", self.seq, ctype) + rversion + struct.pack("!H", plain_len)
        return self._aead.decrypt(nonce, body, aad)  # type: ignore[union-attr]

    def _open12_cbc(self, ctype: int, rversion: bytes, fragment: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        mac_len = self.suite.mac_len
        if self.etm:
            fragment, mac = fragment[:-mac_len], fragment[-mac_len:]
            aad = struct.pack("!QB", self.seq, ctype) + rversion + struct.pack("!H", len(fragment))
            if not hmac.compare_digest(
                hmac.new(self.mac_key, aad + fragment, self.suite.mac_hash).digest(), mac
            ):
                raise DecryptError("bad MAC")
        if len(fragment) < 32 or len(fragment) % 16:
            raise DecryptError("bad CBC record length")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(fragment[:16])).decryptor()
        plain = decryptor.update(fragment[16:]) + decryptor.finalize()
        pad = plain[-1]
        if pad + 1 > len(plain):
            raise DecryptError("bad padding")
        plain = plain[: -(pad + 1)]
        if self.etm:
            return plain
        if len(plain) < mac_len:
            raise DecryptError("bad padding")
        plain, mac = plain[:-mac_len], plain[-mac_len:]
        aad = struct.pack("!QB", self.seq, ctype) + rversion + struct.pack("!H", len(plain))
        if not hmac.compare_digest(
            hmac.new(self.mac_key, aad + plain, self.suite.mac_hash).digest(), mac
        ):
            raise DecryptError("bad MAC")
        return plain


def tls12_decryptors(
    cipher_suite: int,
    master_secret: bytes,
    client_random: bytes,
    server_random: bytes,
    *,
    encrypt_then_mac: bool = False,
) -> tuple[DirectionDecryptor, DirectionDecryptor]:
    """(client→server, server→client) decryptors for a TLS 1.2 connection."""
    suite = TLS12_SUITES.get(cipher_suite)
    if suite is None:
        raise DecryptError(f"unsupported TLS 1.2 cipher suite 0x{cipher_suite:04x}")
    iv_len = 16 if suite.cipher == "cbc" else (12 if suite.cipher == "chacha" else 4)
    mac_len = suite.mac_len
    size = 2 * (mac_len + suite.key_len + iv_len)
    block = tls12_prf(
        master_secret, b"key expansion", server_random + client_random, size, suite.hash_name
    )
    parts = []
    pos = 0
    for n in (mac_len, mac_len, suite.key_len, suite.key_len, iv_len, iv_len):
        parts.append(block[pos : pos + n])
        pos += n
    c_mac, s_mac, c_key, s_key, c_iv, s_iv = parts
    return (
        DirectionDecryptor(0x0303, suite, c_key, c_iv, c_mac, encrypt_then_mac),
        DirectionDecryptor(0x0303, suite, s_key, s_iv, s_mac, encrypt_then_mac),
    )
