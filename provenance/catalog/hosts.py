"""Host name → provider slug, from ``fingerprints/hosts.json``.

Exact hosts are looked up first, then wildcard patterns in file order. Pattern syntax: a leading
``*.`` matches one or more DNS labels (``*.openai.azure.com``); any other ``*`` matches characters
inside one label (``*-aiplatform.googleapis.com``, ``bedrock-runtime.*.amazonaws.com``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from provenance.catalog._files import check_slug, check_source, fail, need, read_named_table

_HOST_SYNTAX = re.compile(r"^[a-z0-9*][a-z0-9*.-]*[a-z0-9*]$")


def normalise_host(host: str | None) -> str | None:
    """``host`` lower-cased, without port, brackets, trailing dot or URL parts; None if empty.

    Accepts ``api.openai.com``, ``API.OpenAI.com:443``, ``[::1]:8080``, ``https://host/path``.
    """
    if not isinstance(host, str):
        return None
    text = host.strip().lower()
    if "://" in text:
        try:
            text = urlsplit(text).hostname or ""
        except ValueError:
            return None
    elif text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.rstrip(".")
    return text or None


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """Compile a host glob (see module docstring) to an anchored regex."""
    prefix = ""
    body = glob
    if body.startswith("*."):
        prefix = r"(?:[a-z0-9_-]+\.)+"
        body = body[2:]
    parts = [re.escape(part) for part in body.split("*")]
    return re.compile("^" + prefix + "[a-z0-9_-]*".join(parts) + "$")


@dataclass(frozen=True)
class HostEntry:
    """One line of hosts.json."""

    host: str
    provider: str
    source: str


class HostTable:
    """The loaded host table: :meth:`provider_for_host` is the one query."""

    def __init__(
        self,
        entries: list[HostEntry],
        providers: dict[str, dict[str, str]],
        exclusive_vendors: dict[str, str] | None = None,
    ) -> None:
        self.entries = tuple(entries)
        self.providers = providers
        self.exclusive_vendors = dict(exclusive_vendors or {})
        self._exact = {e.host: e.provider for e in entries if "*" not in e.host}
        self._patterns = [(glob_to_regex(e.host), e.provider) for e in entries if "*" in e.host]

    @classmethod
    def from_document(cls, doc: dict[str, Any], filename: str) -> HostTable:
        """Validate a parsed hosts.json; raise CatalogError naming the bad entry."""
        providers = read_named_table(doc, "providers", filename)
        exclusive: dict[str, str] = {}
        for slug, info in doc["providers"].items():
            if "exclusive_vendor" in info:
                where = f"providers.{slug}"
                vendor = need(info, "exclusive_vendor", str, filename, where)
                exclusive[slug] = check_slug(vendor, filename, where, "exclusive_vendor")
        raw = doc.get("hosts")
        if not isinstance(raw, list) or not raw:
            raise fail(filename, "hosts", "must be a non-empty list")
        entries: list[HostEntry] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            where = f"hosts[{index}]"
            host = need(item, "host", str, filename, where)
            where = f"hosts[{index}] ({host})"
            if not _HOST_SYNTAX.match(host) or ".." in host or "**" in host:
                raise fail(filename, where, "host must be a lowercase name or glob")
            if host in seen:
                raise fail(filename, where, "duplicate host")
            seen.add(host)
            provider = check_slug(
                need(item, "provider", str, filename, where), filename, where, "provider"
            )
            if provider not in providers:
                raise fail(
                    filename, where, f"provider {provider!r} is not declared under 'providers'"
                )
            entries.append(HostEntry(host, provider, check_source(item, filename, where)))
        return cls(entries, providers, exclusive)

    def provider_vendor(self, provider: str | None) -> str | None:
        """The vendor whose models alone ``provider`` serves (a first-party API), else None."""
        if not isinstance(provider, str):
            return None
        return self.exclusive_vendors.get(provider)

    def provider_for_host(self, host: str | None) -> str | None:
        """The provider slug serving ``host`` (any form :func:`normalise_host` accepts), or None."""
        name = normalise_host(host)
        if name is None:
            return None
        exact = self._exact.get(name)
        if exact is not None:
            return exact
        for regex, provider in self._patterns:
            if regex.match(name):
                return provider
        return None
