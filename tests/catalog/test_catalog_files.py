"""The catalog files on disk are valid, and a bad edit fails loudly, naming file and entry."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from provenance import paths
from provenance.catalog import Catalog, clear_cache, family_vendors, load_catalog
from provenance.errors import CatalogError

FILES = ("hosts.json", "models.json", "products.json")
SLUG = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
SOURCE = re.compile(r"^(https://\S+|traffic: .+)$")


def _doc(name: str) -> dict[str, Any]:
    return json.loads((paths.fingerprints_dir() / name).read_text(encoding="utf-8"))


def _entries(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every object that must carry a source, with a readable location."""
    out: list[tuple[str, dict[str, Any]]] = []
    for key in ("providers", "vendors", "products"):
        out += [(f"{key}.{slug}", info) for slug, info in doc.get(key, {}).items()]
    for key in ("hosts", "normalise", "families", "rules"):
        out += [(f"{key}[{i}]", item) for i, item in enumerate(doc.get(key, []))]
    return out


@pytest.mark.parametrize("name", FILES)
def test_every_entry_names_a_source(name: str) -> None:
    entries = _entries(_doc(name))
    assert entries
    for where, entry in entries:
        assert SOURCE.match(entry.get("source", "")), f"{name}: {where} has no usable source"


def test_shipped_catalog_loads() -> None:
    catalog = load_catalog()
    assert catalog.directory == paths.fingerprints_dir().resolve()
    assert load_catalog() is catalog  # cached


def test_host_entries_are_unique_lowercase_and_declared() -> None:
    doc = _doc("hosts.json")
    hosts = [h["host"] for h in doc["hosts"]]
    assert len(hosts) == len(set(hosts)), "duplicate host"
    for host in hosts:
        assert host == host.lower() and " " not in host
    assert {h["provider"] for h in doc["hosts"]} <= set(doc["providers"])
    assert all(SLUG.match(slug) for slug in doc["providers"])


def test_model_patterns_compile_and_families_are_slugs_with_a_vendor() -> None:
    doc = _doc("models.json")
    for rule in doc["normalise"]:
        re.compile(rule["pattern"])
    families = doc["families"]
    for fam in families:
        assert SLUG.match(fam["family"]), fam["family"]
        assert fam["family"] == fam["family"].lower()
        assert fam["vendor"] in doc["vendors"], fam
    # one vendor per family key, and every family key used maps to a vendor
    assert set(family_vendors()) == {f["family"] for f in families}
    for fam in families:
        assert family_vendors()[fam["family"]] == fam["vendor"]


def test_issue_family_keys_are_present() -> None:
    required = {
        "kimi-k2",
        "kimi-k2.5",
        "deepseek-v3",
        "deepseek-r1",
        "qwen2.5",
        "qwen3",
        "qwen3-coder",
        "qwen3.5",
        "glm-4.5",
        "glm-4.6",
        "gpt-oss",
        "llama-4",
        "mixtral",
        "mistral-large",
        "minimax-m2",
        "gpt-4o",
        "gpt-4.1",
        "gpt-5",
        "claude",
        "gemini",
        "grok",
    }
    assert required <= set(family_vendors())


def test_model_hints_are_declared_providers() -> None:
    providers = set(_doc("hosts.json")["providers"])
    hints = {r["provider_hint"] for r in _doc("models.json")["normalise"] if "provider_hint" in r}
    assert hints <= providers


def test_product_rules_name_declared_products() -> None:
    doc = _doc("products.json")
    assert {r["product"] for r in doc["rules"]} <= set(doc["products"])
    for rule in doc["rules"]:
        for cond in rule["when"]:
            if "pattern" in cond:
                re.compile(cond["pattern"])


def _code_strings(path: Path) -> list[str]:
    """String literals and names in a module, docstrings excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                out.append(node.value.lower())
        elif isinstance(node, ast.Name):
            out.append(node.id.lower())
    return out


def test_no_model_names_in_code() -> None:
    """Catalogs are data: the package's code never names a model family (docstrings aside)."""
    package = Path(__file__).parents[2] / "provenance" / "catalog"
    strings = [s for p in package.glob("*.py") for s in _code_strings(p)]
    assert strings
    for word in ("kimi", "deepseek", "qwen", "llama", "claude", "gemini", "gpt-", "mistral", "glm"):
        assert not any(word in s for s in strings), word


# ---------------------------------------------------------------- bad edits fail loudly


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(paths.fingerprints_dir() / name, tmp_path / name)
    clear_cache()
    yield tmp_path
    clear_cache()


def _edit(directory: Path, name: str, change) -> None:
    path = directory / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _family(name: str):
    def pick(doc: dict[str, Any]) -> dict[str, Any]:
        return next(f for f in doc["families"] if f["family"] == name)

    return pick


BAD_EDITS = [
    (
        "models.json",
        lambda d: _family("kimi-k2.5")(d).update(pattern="kimi-k2\\.5("),
        r"models\.json: families\[\d+\] \(kimi-k2\.5\): pattern does not compile",
    ),
    (
        "models.json",
        lambda d: _family("gpt-4o")(d).pop("source"),
        r"models\.json: families\[\d+\] \(gpt-4o\): missing 'source'",
    ),
    (
        "models.json",
        lambda d: _family("grok")(d).update(vendor="nobody"),
        r"models\.json: families\[\d+\] \(grok\): vendor 'nobody' is not declared",
    ),
    (
        "models.json",
        lambda d: _family("grok")(d).update(family="Grok"),
        r"models\.json: families\[\d+\] \(Grok\): family 'Grok' is not a lowercase slug",
    ),
    (
        "models.json",
        lambda d: _family("grok")(d).update(source="see the docs"),
        r"models\.json: families\[\d+\] \(grok\): source must start with",
    ),
    (
        "models.json",
        lambda d: _family("grok")(d).update(pattern="grok{nosuch}"),
        r"models\.json: families\[\d+\] \(grok\): unknown macro \{nosuch\}",
    ),
    (
        "models.json",
        lambda d: d["normalise"][0].update(replace="\\g<nosuch>"),
        r"models\.json: normalise\[0\] \(openai-fine-tune\): bad replacement",
    ),
    (
        "models.json",
        lambda d: d["normalise"][2].update(provider_hint="nowhere"),
        r"models\.json: normalise \(bedrock-arn\): provider_hint 'nowhere' is not a provider",
    ),
    (
        "models.json",
        lambda d: d.update(schema="provenance.models/9"),
        r"models\.json: schema: expected 'provenance\.models/1'",
    ),
    (
        "hosts.json",
        lambda d: d["hosts"].append(dict(d["hosts"][0])),
        r"hosts\.json: hosts\[\d+\] \(api\.openai\.com\): duplicate host",
    ),
    (
        "hosts.json",
        lambda d: d["hosts"][0].update(provider="unknown-provider"),
        r"hosts\.json: hosts\[0\] \(api\.openai\.com\): provider .unknown-provider. is not",
    ),
    (
        "hosts.json",
        lambda d: d["hosts"][0].update(host="API.openai.com"),
        r"hosts\.json: hosts\[0\] \(API\.openai\.com\): host must be a lowercase name or glob",
    ),
    (
        "hosts.json",
        lambda d: d["providers"]["openai"].update(exclusive_vendor="nobody"),
        r"hosts\.json: providers\.openai: exclusive_vendor 'nobody' is not a vendor",
    ),
    (
        "products.json",
        lambda d: d["rules"][0].update(product="emacs"),
        r"products\.json: rules\[0\] \(emacs\): product 'emacs' is not declared",
    ),
    (
        "products.json",
        lambda d: d["rules"][0]["when"][0].update(pattern="(?P<version"),
        r"products\.json: rules\[0\] \(cursor-cli\): pattern does not compile",
    ),
]


@pytest.mark.parametrize(("name", "change", "message"), BAD_EDITS)
def test_bad_edit_raises_catalog_error_naming_file_and_entry(
    catalog_copy: Path, name: str, change, message: str
) -> None:
    _edit(catalog_copy, name, change)
    with pytest.raises(CatalogError, match=message) as info:
        Catalog.from_directory(catalog_copy)
    assert info.value.exit_code == 1
    assert "\n" not in str(info.value)


def test_invalid_json_names_the_line(catalog_copy: Path) -> None:
    (catalog_copy / "products.json").write_text('{"schema": \n oops}', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"products\.json: line 2: invalid JSON"):
        load_catalog(catalog_copy)


def test_missing_file_is_a_catalog_error(catalog_copy: Path) -> None:
    (catalog_copy / "hosts.json").unlink()
    with pytest.raises(CatalogError, match=r"hosts\.json: cannot read"):
        load_catalog(catalog_copy)


def test_an_edited_copy_changes_answers(catalog_copy: Path) -> None:
    """The loader really reads the directory it is given (the data decides, not the code)."""

    def add(doc: dict[str, Any]) -> None:
        doc["families"].insert(
            0,
            {
                "family": "house-model",
                "vendor": "openai",
                "pattern": "house{rest}",
                "source": "traffic: test",
            },
        )

    _edit(catalog_copy, "models.json", add)
    catalog = load_catalog(catalog_copy)
    assert catalog.models.resolve("house-7b").family == "house-model"
    assert catalog.models.resolve("house-7b").tags == ("7b",)
