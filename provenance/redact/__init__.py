"""Secret redaction: everything captured passes through a :class:`Redactor` before it is stored,
logged or exported.

- :mod:`provenance.redact.patterns` — the table of key formats (kind, regex, source);
- :mod:`provenance.redact.names` — which header, query and JSON names carry secrets, and which
  hold evidence;
- :mod:`provenance.redact.values` — the value rule: values that are secrets by what they are
  (high-entropy tokens of credential shape, base64-wrapped keys), whatever their name;
- :mod:`provenance.redact.roles` — what a JSON key or a name/value pair's name means;
- :mod:`provenance.redact.keyfile` — the per-installation HMAC key (``data_dir()/redaction.key``);
- :mod:`provenance.redact.redactor` — :class:`Redactor` itself (text, headers, URLs, JSON;
  per-exchange secret hashes with ``Redactor.collecting()``);
- :mod:`provenance.redact.bodies` — what is stored of a body: whole documents, stream frames
  and WebSocket logs, one interface;
- :mod:`provenance.redact.quick` — the fast path: one walk proving a body's documents need no
  redaction (same output as the full path, without copies);
- :mod:`provenance.redact.fragments` — secrets split across stream frames, or over two
  neighbouring fields.
"""

from __future__ import annotations

from provenance.redact.patterns import PATTERNS, TOKEN_RE, SecretPattern, classify
from provenance.redact.redactor import Redactor

__all__ = ["PATTERNS", "TOKEN_RE", "Redactor", "SecretPattern", "classify"]
