"""NSS key log files (``SSLKEYLOGFILE``), as written by browsers, Node, curl and Python's ssl.

Each line is ``LABEL <client_random hex> <secret hex>``; ``#`` starts a comment. TLS 1.2 uses
``CLIENT_RANDOM`` (the master secret); TLS 1.3 uses the ``*_TRAFFIC_SECRET*`` labels. The same
text also arrives inside a pcapng Decryption Secrets Block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KNOWN_LABELS = frozenset(
    {
        "CLIENT_RANDOM",
        "CLIENT_EARLY_TRAFFIC_SECRET",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EARLY_EXPORTER_SECRET",
        "EXPORTER_SECRET",
    }
)


@dataclass(slots=True)
class KeyLog:
    """Secrets by client random: ``secrets[client_random][label] -> bytes``.

    ``bad_lines`` counts lines that could not be read (never their content: they hold keys).
    """

    secrets: dict[bytes, dict[str, bytes]] = field(default_factory=dict)
    bad_lines: int = 0

    def __len__(self) -> int:
        return len(self.secrets)

    def add_text(self, text: str) -> int:
        """Add every valid line of ``text``; return how many were added."""
        added = 0
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3 or parts[0] not in KNOWN_LABELS:
                self.bad_lines += 1
                continue
            try:
                client_random = bytes.fromhex(parts[1])
                secret = bytes.fromhex(parts[2])
            except ValueError:
                self.bad_lines += 1
                continue
            if len(client_random) != 32 or not secret:
                self.bad_lines += 1
                continue
            self.secrets.setdefault(client_random, {})[parts[0]] = secret
            added += 1
        return added

    def lookup(self, client_random: bytes) -> dict[str, bytes] | None:
        """The secrets logged for one connection, or None."""
        return self.secrets.get(client_random)

    @classmethod
    def from_file(cls, path: str | Path) -> KeyLog:
        """Read a key log file (UTF-8; undecodable bytes are counted as bad lines)."""
        log = cls()
        log.add_text(Path(path).read_bytes().decode("utf-8", "replace"))
        return log
