"""Model id → family, vendor, provider hint and tags, from ``fingerprints/models.json``.

Resolution is a pipeline over data, with no model names in code:

1. the id is URL-decoded and stripped; ids with inner whitespace or over 512 characters match
   nothing;
2. every ``normalise`` rule is applied in order (a regex substitution, case-insensitive unless
   the rule says ``case_sensitive``); a rule that fires may set the provider hint (the first hint
   wins), contribute constant tags, and (``id_shape``) mark the string as a provider's id shape;
3. the result is lower-cased and the first ``families`` pattern that matches the WHOLE id wins;
4. tags are the rules' constant tags, then the family's constant tags, then the tokens
   (``tag_token``) of each named group of the family pattern in the order they appear in the id.

An id that no family fits resolves to ``family=None`` — never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from provenance.catalog._files import (
    check_slug,
    check_source,
    check_string_list,
    compile_regex,
    fail,
    need,
    read_named_table,
)

MAX_ID_LENGTH = 512
_MACRO_RE = re.compile(r"\{([a-z_]+)\}")
_HAS_SPACE = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Resolution:
    """What an id tells us: ``family``/``vendor`` are None when no catalog pattern fits.

    ``provider_hint`` is the provider the id's *shape* implies (``accounts/…/models/…`` →
    ``fireworks``), independent of whether the family is known.
    """

    model_id: str
    family: str | None
    vendor: str | None
    provider_hint: str | None
    tags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``provenance resolve --json`` (without the schema key)."""
        return {
            "model_id": self.model_id,
            "family": self.family,
            "vendor": self.vendor,
            "provider_hint": self.provider_hint,
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class NormaliseRule:
    """One ``normalise`` entry: substitute ``regex`` by ``replace`` (None: match only)."""

    name: str
    regex: re.Pattern[str]
    replace: str | None
    provider_hint: str | None
    tags: tuple[str, ...]
    id_shape: bool
    source: str


@dataclass(frozen=True)
class FamilyRule:
    """One ``families`` entry: a full-match pattern over the normalised, lower-case id."""

    family: str
    vendor: str
    regex: re.Pattern[str]
    tags: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Analysis:
    """The intermediate result of :meth:`ModelCatalog.analyse` (for looks_like_model_id)."""

    model_id: str
    normalised: str
    provider_hint: str | None
    id_shape: bool  # a rule marked ``id_shape`` fired: the string has a provider's id shape
    resolution: Resolution


class ModelCatalog:
    """The loaded models.json."""

    def __init__(
        self,
        vendors: dict[str, dict[str, str]],
        rules: list[NormaliseRule],
        families: list[FamilyRule],
        tag_token: re.Pattern[str],
    ) -> None:
        self.vendors = vendors
        self.rules = tuple(rules)
        self.families = tuple(families)
        self.tag_token = tag_token
        self._cached = lru_cache(maxsize=16384)(self._analyse)

    @property
    def family_keys(self) -> frozenset[str]:
        """Every family key the catalog can return."""
        return frozenset(f.family for f in self.families)

    @classmethod
    def from_document(cls, doc: dict[str, Any], filename: str) -> ModelCatalog:
        """Validate a parsed models.json; raise CatalogError naming the bad entry."""
        vendors = read_named_table(doc, "vendors", filename)
        token = compile_regex(
            need(doc, "tag_token", str, filename, "tag_token"), 0, filename, "tag_token"
        )
        macros = doc.get("macros", {})
        if not isinstance(macros, dict) or not all(isinstance(v, str) for v in macros.values()):
            raise fail(filename, "macros", "must map names to pattern strings")
        rules = [
            _read_rule(item, index, filename)
            for index, item in enumerate(_need_list(doc, "normalise", filename))
        ]
        families = [
            _read_family(item, index, filename, vendors, macros)
            for index, item in enumerate(_need_list(doc, "families", filename))
        ]
        owners: dict[str, str] = {}
        for index, fam in enumerate(families):
            if owners.setdefault(fam.family, fam.vendor) != fam.vendor:
                where = f"families[{index}] ({fam.family})"
                raise fail(filename, where, f"family already belongs to {owners[fam.family]!r}")
        return cls(vendors, rules, families, token)

    def resolve(self, model_id: str) -> Resolution:
        """Resolve one id. Never raises; deterministic; cached."""
        return self.analyse(model_id).resolution

    def analyse(self, model_id: str) -> Analysis:
        """The normalised id, the provider hint and the resolution (cached)."""
        if not isinstance(model_id, str):
            model_id = str(model_id)
        return self._cached(model_id)

    def _analyse(self, model_id: str) -> Analysis:
        unknown = Resolution(model_id, None, None, None, ())
        text = model_id.strip()
        if "%" in text:
            text = unquote(text, errors="replace").strip()
        if not text or len(text) > MAX_ID_LENGTH or _HAS_SPACE.search(text):
            return Analysis(model_id, "", None, False, unknown)
        hint: str | None = None
        id_shape = False
        rule_tags: list[str] = []
        for rule in self.rules:
            if rule.regex.search(text) is None:
                continue
            if rule.replace is not None:
                text = rule.regex.sub(rule.replace, text)
            hint = hint or rule.provider_hint
            id_shape = id_shape or rule.id_shape
            rule_tags.extend(rule.tags)
        text = text.lower()
        for family in self.families:
            match = family.regex.fullmatch(text)
            if match is not None:
                tags = _dedupe([*rule_tags, *family.tags, *self._group_tags(match)])
                resolution = Resolution(model_id, family.family, family.vendor, hint, tags)
                return Analysis(model_id, text, hint, id_shape, resolution)
        unknown = Resolution(model_id, None, None, hint, ())
        return Analysis(model_id, text, hint, id_shape, unknown)

    def _group_tags(self, match: re.Match[str]) -> list[str]:
        spans = [(match.start(name), value) for name, value in match.groupdict().items() if value]
        tokens: list[str] = []
        for _, value in sorted(spans):
            tokens.extend(self.tag_token.findall(value))
        return tokens


def _dedupe(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _need_list(doc: dict[str, Any], key: str, filename: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list) or not value:
        raise fail(filename, key, "must be a non-empty list")
    return value


def _read_rule(item: Any, index: int, filename: str) -> NormaliseRule:
    where = f"normalise[{index}]"
    name = need(item, "name", str, filename, where)
    where = f"normalise[{index}] ({name})"
    flags = 0 if item.get("case_sensitive") is True else re.IGNORECASE
    regex = compile_regex(need(item, "pattern", str, filename, where), flags, filename, where)
    replace = item.get("replace")
    if replace is not None and not isinstance(replace, str):
        raise fail(filename, where, "'replace' must be a string")
    if replace is not None:
        try:
            regex.sub(replace, "")  # surfaces bad group references now, not mid-capture
        except (re.error, IndexError) as exc:
            raise fail(filename, where, f"bad replacement: {exc}") from exc
    hint = item.get("provider_hint")
    if hint is not None:
        check_slug(
            need(item, "provider_hint", str, filename, where), filename, where, "provider_hint"
        )
    tags = check_string_list(item, "tags", filename, where)
    id_shape = item.get("id_shape", False)
    if not isinstance(id_shape, bool):
        raise fail(filename, where, "'id_shape' must be true or false")
    source = check_source(item, filename, where)
    return NormaliseRule(name, regex, replace, hint, tags, id_shape, source)


def _read_family(
    item: Any,
    index: int,
    filename: str,
    vendors: dict[str, dict[str, str]],
    macros: dict[str, str],
) -> FamilyRule:
    where = f"families[{index}]"
    family = need(item, "family", str, filename, where)
    where = f"families[{index}] ({family})"
    check_slug(family, filename, where, "family")
    vendor = need(item, "vendor", str, filename, where)
    if vendor not in vendors:
        raise fail(filename, where, f"vendor {vendor!r} is not declared under 'vendors'")
    pattern = need(item, "pattern", str, filename, where)

    def expand(m: re.Match[str]) -> str:
        if m.group(1) not in macros:
            raise fail(filename, where, f"unknown macro {{{m.group(1)}}}")
        return macros[m.group(1)]

    regex = compile_regex(_MACRO_RE.sub(expand, pattern), 0, filename, where)
    tags = check_string_list(item, "tags", filename, where)
    return FamilyRule(family, vendor, regex, tags, check_source(item, filename, where))
