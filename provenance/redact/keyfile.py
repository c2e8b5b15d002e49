"""The per-installation redaction key: 32 random bytes in ``data_dir()/redaction.key`` (0600).

The key turns each secret into a stable keyed hash (HMAC-SHA256), so one API key can be followed
across exchanges, proxies and imports on this installation without keeping any of its plaintext.
Whoever holds the key can test a guessed secret against the stored hashes, hence 0600.

The file holds the key as 64 hex digits and a newline. It is created once, atomically: a private
temporary file is written and then hard-linked into place, so two processes starting together
(a proxy and an import) agree on one key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from provenance.errors import UsageError
from provenance.paths import create_private_file, data_dir

KEY_FILE_NAME = "redaction.key"
KEY_BYTES = 32


def key_path() -> Path:
    """Where the key lives: ``data_dir()/redaction.key``."""
    return data_dir() / KEY_FILE_NAME


def _read(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise UsageError(
            f"the redaction key file {path} is damaged; move it away and a new key will be made "
            "(hashes stored so far will then no longer match new ones)"
        )
    return key


def load_or_create_key(path: Path | None = None) -> bytes:
    """Return the installation's key, creating the key file (mode 0600) on first use."""
    path = key_path() if path is None else path
    try:
        if path.exists():
            return _read(path)
        key = secrets.token_bytes(KEY_BYTES)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        create_private_file(tmp)
        try:
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(key.hex() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                return _read(path)  # another process won the race: use its key
            except OSError:
                if path.exists():
                    return _read(path)
                os.replace(tmp, path)  # file systems without hard links
        finally:
            tmp.unlink(missing_ok=True)
        return key
    except UsageError:
        raise
    except OSError as e:
        raise UsageError(
            f"cannot read or create the redaction key {path} ({e.strerror or e}); "
            "check that the data directory is writable or set PROVENANCE_HOME"
        ) from e
