"""Product attribution (which client sent a request) from ``fingerprints/products.json``.

Rules are tried in file order; the first whose conditions all hold wins. A condition is either a
header (name case-insensitive; optional regex searched case-insensitively in any of its values)
or a ``host`` glob (hosts.json syntax) matched against the request host: the ``host`` argument,
else the ``Host`` or ``:authority`` header. A named group ``version`` fills the version.
Headers are the client's claim; tools copy each other's headers, so this is attribution, not proof.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provenance.catalog._files import (
    check_slug,
    check_source,
    compile_regex,
    fail,
    need,
    read_named_table,
)
from provenance.catalog.hosts import glob_to_regex, normalise_host

Headers = Iterable[tuple[str | bytes, str | bytes]] | Mapping[str, str]
_MEMO_LIMIT = 4096


@dataclass(frozen=True)
class ProductMatch:
    """The product a request claims to come from, and the rule that said so."""

    product: str
    version: str | None
    rule_index: int
    source: str


@dataclass(frozen=True)
class Condition:
    """One condition of a rule: a header (with optional value regex) or a host glob."""

    header: str | None
    regex: re.Pattern[str] | None


@dataclass(frozen=True)
class ProductRule:
    """One entry of ``rules``."""

    product: str
    conditions: tuple[Condition, ...]
    source: str


class ProductRules:
    """The loaded products.json."""

    def __init__(self, products: dict[str, dict[str, str]], rules: list[ProductRule]) -> None:
        self.products = products
        self.rules = tuple(rules)
        # Only these headers (and the host) decide a match, so a match is remembered by them:
        # a capture sends the same client's headers again and again.
        self._names = frozenset(c.header for r in self.rules for c in r.conditions if c.header)
        self._memo: dict[tuple, ProductMatch | None] = {}

    @classmethod
    def from_document(cls, doc: dict[str, Any], filename: str) -> ProductRules:
        """Validate a parsed products.json; raise CatalogError naming the bad entry."""
        products = read_named_table(doc, "products", filename)
        raw = doc.get("rules")
        if not isinstance(raw, list) or not raw:
            raise fail(filename, "rules", "must be a non-empty list")
        rules: list[ProductRule] = []
        for index, item in enumerate(raw):
            where = f"rules[{index}]"
            product = need(item, "product", str, filename, where)
            where = f"rules[{index}] ({product})"
            check_slug(product, filename, where, "product")
            if product not in products:
                raise fail(filename, where, f"product {product!r} is not declared under 'products'")
            when = need(item, "when", list, filename, where)
            if not when:
                raise fail(filename, where, "'when' must list at least one condition")
            conditions = tuple(_read_condition(c, filename, where) for c in when)
            rules.append(ProductRule(product, conditions, check_source(item, filename, where)))
        return cls(products, rules)

    def match(self, headers: Headers | None, *, host: str | None = None) -> ProductMatch | None:
        """The first rule that ``headers`` (and ``host``) satisfy, or None. Never raises."""
        table = _header_table(headers)
        request_host = normalise_host(host) or _host_from_headers(table)
        key = (request_host, *((n, *v) for n, v in table.items() if n in self._names))
        if key in self._memo:
            return self._memo[key]
        found = None
        for index, rule in enumerate(self.rules):
            version = _satisfies(rule, table, request_host)
            if version is not False:
                found = ProductMatch(rule.product, version or None, index, rule.source)
                break
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = found
        return found


def _read_condition(item: Any, filename: str, where: str) -> Condition:
    if not isinstance(item, dict):
        raise fail(filename, where, "each condition must be a JSON object")
    if "host" in item:
        glob = need(item, "host", str, filename, where)
        return Condition(None, glob_to_regex(glob.lower()))
    header = need(item, "header", str, filename, where).lower()
    pattern = item.get("pattern")
    if pattern is None:
        return Condition(header, None)
    if not isinstance(pattern, str):
        raise fail(filename, where, "'pattern' must be a string")
    return Condition(header, compile_regex(pattern, re.IGNORECASE, filename, where))


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _header_table(headers: Headers | None) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    if headers is None:
        return table
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    try:
        for pair in pairs:
            try:
                name, value = pair
            except (TypeError, ValueError):
                continue
            table.setdefault(_text(name).strip().lower(), []).append(_text(value).strip())
    except TypeError:
        return {}
    return table


def _host_from_headers(table: dict[str, list[str]]) -> str | None:
    for name in (":authority", "host"):
        for value in table.get(name, ()):
            host = normalise_host(value)
            if host:
                return host
    return None


def _satisfies(rule: ProductRule, table: dict[str, list[str]], host: str | None) -> str | bool:
    """False if a condition fails; else the captured version ('' when none)."""
    version = ""
    for cond in rule.conditions:
        if cond.header is None:
            if host is None or cond.regex is None or not cond.regex.match(host):
                return False
            continue
        values = table.get(cond.header)
        if not values:
            return False
        if cond.regex is None:
            continue
        found = next((m for m in map(cond.regex.search, values) if m is not None), None)
        if found is None:
            return False
        captured = found.groupdict().get("version")
        if captured and not version:
            version = captured
    return version
