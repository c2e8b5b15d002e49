"""The dashboard's password: its policy, its hash, and how the hash reaches the server process.

:func:`password_weakness` names what makes a password too weak to guard a dashboard served
beyond loopback (``provenance dashboard --allow-remote --password-env VAR``), and never quotes
it. :func:`hash_password` stores a password as ``scrypt$<salt hex>$<hash hex>``;
:func:`password_matches` checks one against it in constant time, and takes as long as scrypt
does (the gate, :class:`provenance.gate.PasswordGate`, runs it off the event loop). The hash
reaches the server process through a pipe (:func:`hand_over_secret`,
:func:`take_handed_secret`), never under an environment variable name a user could also
choose; a hand-over that cannot be read fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import MutableMapping

MIN_PASSWORD = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MiB and some 50 ms per check
_ROWS = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm",
         "qwertyuiopasdfghjklzxcvbnm", "azertyuiop", "qwertzuiop", "1qaz2wsx3edc4rfv")  # fmt: skip
_LEET = str.maketrans("013457@$!", "oieastasi")
# Words that cracking lists try first; a password made only of them (in any case, with digits
# and symbols added) is refused. Kept short on purpose: a blocklist, not a dictionary.
_COMMON_WORDS = """password passwd pass admin administrator root toor user guest login letmein
    welcome hello secret changeme default test testing master qwerty iloveyou love monkey dragon
    shadow sunshine princess football baseball superman batman trustno whatever freedom
    summer winter spring autumn abc provenance dashboard streamlit auditor audit access"""
_COMMON = frozenset(_COMMON_WORDS.split())
_LONGEST = max(map(len, _COMMON))


def password_weakness(password: str) -> str | None:
    """Why ``password`` is too weak to guard the dashboard (a phrase to follow "the password"),
    or None when it passes. Refused: empty or white space only; under :data:`MIN_PASSWORD`
    characters once the white space at its ends is stripped; one character repeated, or fewer
    than four different ones; a shorter string repeated; a run of keys, letters or digits in
    order; digits and symbols only; common passwords, and common words with digits or symbols
    added. The phrase never quotes the password. (No rule on letter case or character classes
    beyond that: a long passphrase of plain words is a good password.)"""
    text = password.strip()
    if not text:
        return "is empty or only white space"
    if len(text) < MIN_PASSWORD:
        return f"is shorter than {MIN_PASSWORD} characters (white space at its ends not counted)"
    if len(set(text)) == 1:
        return "is one character repeated"
    if len(set(text)) < 4:
        return "uses fewer than 4 different characters"
    if _repeats(text):
        return "is a shorter string repeated"
    lower = text.lower()
    if any(lower in row or lower in row[::-1] for row in _ROWS):
        return "is a run of neighbouring keys, letters or digits"
    if not any(c.isalpha() for c in text):
        return "has no letters (digits and symbols only)"
    if any(_only_common_words(letters) for letters in _letter_readings(lower)):
        return "is a common password, or common words with digits or symbols added"
    return None


def _letter_readings(lower: str) -> tuple[str, str]:
    """The letters of ``lower``, read plainly and with digit-for-letter swaps (``p@ssw0rd``)
    inside it (not at its ends, where digits and symbols are usually just appended)."""
    plain = "".join(c for c in lower if c.isalpha())
    first = next(i for i, c in enumerate(lower) if c.isalpha())
    last = max(i for i, c in enumerate(lower) if c.isalpha())
    core = lower[first : last + 1].translate(_LEET)
    return plain, "".join(c for c in core if c.isalpha())


def _repeats(text: str) -> bool:
    """Whether ``text`` is a shorter string repeated (``abcabc``)."""
    return (text + text).find(text, 1) < len(text)


def _only_common_words(letters: str) -> bool:
    """Whether ``letters`` is a concatenation of :data:`_COMMON` words."""
    ends = [True] + [False] * len(letters)
    for end in range(1, len(letters) + 1):
        starts = range(max(0, end - _LONGEST), end)
        ends[end] = any(ends[start] and letters[start:end] in _COMMON for start in starts)
    return ends[-1]


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>`` of ``password`` (scrypt, N=2^14, r=8, p=1)."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(stored: str, password: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time comparison). Takes as long as
    scrypt does: call it off the event loop."""
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    if scheme != "scrypt" or not digest:
        return False
    given = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=len(digest))
    return hmac.compare_digest(given, digest)


# The hash travels to the server process (which ``provenance dashboard`` becomes with
# ``execve``) through a pipe: the variable below carries only the number of the descriptor to
# read it from, and ``provenance dashboard`` refuses it as a ``--password-env`` name.
AUTH_FD_ENV = "PROVENANCE_DASHBOARD_AUTH_FD"
_MAX_SECRET = 4096


def hand_over_secret(secret: str, env: dict[str, str]) -> None:
    """Put ``secret`` in a pipe that a program this process ``execve``s can read once, and name
    the pipe's descriptor in ``env`` (the environment that program will get). POSIX only."""
    data = secret.encode()
    if not data or len(data) > _MAX_SECRET:
        raise ValueError("the secret to hand over must be 1 to 4096 bytes")
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # far below a pipe's buffer: never blocks
    finally:
        os.close(write_end)
    os.set_inheritable(read_end, True)
    env[AUTH_FD_ENV] = str(read_end)


def take_handed_secret(env: MutableMapping[str, str]) -> str | None:
    """The password hash handed over with :func:`hand_over_secret`, read (and the descriptor
    closed), or None when ``env`` names none (no password configured). Fails closed: a named
    descriptor that cannot be read, or that holds no password hash, raises RuntimeError rather
    than letting the server run without its password."""
    named = env.get(AUTH_FD_ENV)
    if named is None:
        return None
    try:
        fd = int(named)
        with os.fdopen(fd, "rb", closefd=True) as pipe:
            data = pipe.read(_MAX_SECRET + 1)
    except (ValueError, OSError) as exc:
        raise RuntimeError(
            f"${AUTH_FD_ENV} names no readable descriptor: the dashboard's password hash is "
            "missing (start the dashboard with `provenance dashboard --password-env VAR`)"
        ) from exc
    secret = data.decode("ascii", "replace")
    if not secret.startswith("scrypt$") or len(data) > _MAX_SECRET:
        raise RuntimeError(
            f"the descriptor in ${AUTH_FD_ENV} holds no password hash (start the dashboard "
            "with `provenance dashboard --password-env VAR`)"
        )
    return secret
