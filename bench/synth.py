"""A realistic synthetic store of N exchanges, bulk-loaded fast (no ORM, no per-row round trip).

Shape (deterministic for a given ``n`` and seed): 90 days of traffic from 14 products through 10
providers; each product asks for one of a few model ids (about 200 distinct ids in all, mostly
real catalog spellings plus dated and fine-tune variants), most responses name the served id, a
few products switch base model half-way, about 5 % of exchanges have no product and 4 % carry no
id at all. Bodies are short redacted JSON documents (about 400 bytes per exchange in all).

Loading bypasses the ORM: SQLite gets ``executemany`` on the DB-API connection with the values
already in the store's on-disk formats; PostgreSQL gets ``COPY ... FROM STDIN`` in text format.
Both run in large transactions, then the store's daily rollups are rebuilt from the raw rows
(``rollups.rebuild``, as any bulk load that bypasses ``write_exchanges`` must). The schema
comes from the store's own migrations (``open_store(create=True)``), so the queries under test
see exactly the production tables and indexes. ``LoadStats`` says what was generated, for
self-checks after the load.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T_START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
CHUNK = 20_000

PROVIDERS: dict[str, str] = {  # slug -> host
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "fireworks": "api.fireworks.ai",
    "together": "api.together.xyz",
    "openrouter": "openrouter.ai",
    "github-copilot": "api.githubcopilot.com",
    "deepseek": "api.deepseek.com",
    "google-ai-studio": "generativelanguage.googleapis.com",
    "mistral": "api.mistral.ai",
    "groq": "api.groq.com",
}

BASE_IDS: dict[str, list[str]] = {  # provider -> model ids it serves (real spellings)
    "openai": ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-5", "o3-mini", "gpt-4.1"],
    "anthropic": ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"],
    "fireworks": [
        "accounts/fireworks/models/kimi-k2p5",
        "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast",
        "accounts/fireworks/models/qwen3-235b-a22b",
        "accounts/fireworks/models/deepseek-v3p1",
    ],
    "together": ["meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen3-Coder-480B-A35B-Instruct"],
    "openrouter": ["moonshotai/kimi-k2", "z-ai/glm-4.6", "x-ai/grok-4"],
    "github-copilot": ["gpt-4o", "claude-sonnet-4-5"],
    "deepseek": ["deepseek-chat", "deepseek-reasoner"],
    "google-ai-studio": ["gemini-2.5-pro", "gemini-2.5-flash"],
    "mistral": ["mistral-large-2411", "codestral-2501"],
    "groq": ["llama-3.3-70b-versatile", "qwen/qwen3-32b"],
}

# product -> (provider, weight); a product in SWITCHES moves to its second provider half-way.
PRODUCTS: dict[str, tuple[str, int]] = {
    "cursor": ("fireworks", 22),
    "claude-code": ("anthropic", 18),
    "copilot": ("github-copilot", 14),
    "windsurf": ("openrouter", 8),
    "chatgpt": ("openai", 10),
    "continue": ("together", 5),
    "aider": ("deepseek", 4),
    "zed": ("anthropic", 3),
    "cline": ("openrouter", 3),
    "gemini-cli": ("google-ai-studio", 3),
    "le-chat": ("mistral", 2),
    "perplexity": ("groq", 2),
    "composer": ("fireworks", 3),
    "raycast": ("openai", 1),
}
SWITCHES = {"composer": "together", "windsurf": "fireworks"}
UNATTRIBUTED_SHARE = 0.05
NO_ID_SHARE = 0.04
RESPONSE_ID_SHARE = 0.8
STREAM_HEADERS = '[["content-type", "text/event-stream"]]'
JSON_HEADERS = '[["content-type", "application/json"]]'

EXCHANGE_COLUMNS = (
    "id",
    "started_at",
    "product_id",
    "provider_id",
    "method",
    "scheme",
    "host",
    "port",
    "path",
    "status",
    "api",
    "content_type",
    "latency_ms",
    "ttfb_ms",
    "streamed",
    "request_size",
    "response_size",
    "request_headers",
    "response_headers",
    "request_body",
    "response_body",
    "request_digest",
    "response_digest",
    "bodies_truncated",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "usage_raw",
    "parse_errors",
    "origin",
    "http_version",
    "client_ja4",
    "error",
    "secret_hashes",
    "deployment",
)
OBSERVATION_COLUMNS = ("id", "exchange_id", "model_id", "source", "location", "role", "kind")


def model_ids() -> dict[str, list[str]]:
    """provider -> ids, the base spellings plus dated/fine-tune variants (~200 distinct)."""
    out: dict[str, list[str]] = {}
    for provider, ids in BASE_IDS.items():
        variants = list(ids)
        for base in ids:
            for k in range(1, 9):
                variants.append(f"{base}-ft-{k:02d}" if k % 2 else f"{base}-2026{k:02d}01")
        out[provider] = variants
    return out


@dataclass
class LoadStats:
    """What the generator produced (for self-checks after loading)."""

    exchanges: int = 0
    observations: int = 0
    model_observations: int = 0
    per_product: Counter[str] = field(default_factory=Counter)
    distinct_ids: set[str] = field(default_factory=set)
    rollup_seconds: float = 0.0


def _dt_sqlite(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC; see store.models.UTCDateTime)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class Generator:
    """Deterministic rows: ``chunks()`` yields (exchange tuples, observation tuples) per chunk."""

    def __init__(self, n: int, seed: int = 8) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.ids = model_ids()
        self.products = list(PRODUCTS)
        self.weights = [w for _, w in PRODUCTS.values()]
        self.provider_ids = {slug: i + 1 for i, slug in enumerate(PROVIDERS)}
        self.product_ids = {name: i + 1 for i, name in enumerate(PRODUCTS)}
        self.stats = LoadStats()
        self._obs_id = 0

    def chunks(
        self, *, sqlite: bool
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        step = DAYS * 86400 / self.n
        for start in range(0, self.n, CHUNK):
            ex: list[tuple[Any, ...]] = []
            obs: list[tuple[Any, ...]] = []
            for i in range(start, min(self.n, start + CHUNK)):
                at = T_START + timedelta(seconds=i * step + self.rng.random() * step)
                self._row(i + 1, at, i / self.n, ex, obs, sqlite=sqlite)
            yield ex, obs

    def _row(
        self,
        ex_id: int,
        at: datetime,
        progress: float,
        ex: list[tuple[Any, ...]],
        obs: list[tuple[Any, ...]],
        *,
        sqlite: bool,
    ) -> None:
        rng = self.rng
        product = rng.choices(self.products, self.weights)[0]
        provider = PRODUCTS[product][0]
        if product in SWITCHES and progress > 0.5:
            provider = SWITCHES[product]
        attributed = rng.random() >= UNATTRIBUTED_SHARE
        ids = self.ids[provider]
        asked = ids[0] if rng.random() < 0.6 else rng.choice(ids)
        has_id = rng.random() >= NO_ID_SHARE
        served = asked if rng.random() < RESPONSE_ID_SHARE else None
        streamed = rng.random() < 0.6
        latency = rng.lognormvariate(6.5, 0.6)
        inp, out = rng.randint(200, 60_000), rng.randint(5, 4_000)
        token = f"{rng.getrandbits(48):012x}"
        model_json = json.dumps(asked) if has_id else "null"
        req_body = (
            f'{{"model": {model_json}, "stream": {"true" if streamed else "false"}, '
            f'"messages": [{{"role": "user", "content": "question {ex_id} about the code"}}]}}'
        )
        served_json = json.dumps(served) if has_id and served is not None else "null"
        resp_body = f'{{"id": "chatcmpl-{ex_id}", "model": {served_json}, "choices": []}}'
        usage_raw = f'{{"usage": {{"prompt_tokens": {inp}, "completion_tokens": {out}}}}}'
        headers_req = (
            f'[["authorization", "Bearer [REDACTED:bearer:{token}]"], ["user-agent", "{product}"]]'
        )
        headers_resp = STREAM_HEADERS if streamed else JSON_HEADERS
        started = _dt_sqlite(at) if sqlite else at
        ex.append(
            (
                ex_id,
                started,
                self.product_ids[product] if attributed else None,
                self.provider_ids[provider],
                "POST",
                "https",
                PROVIDERS[provider],
                443,
                "/v1/chat/completions",
                200,
                "openai.chat",
                "application/json",
                latency,
                latency / 4,
                (1 if streamed else 0) if sqlite else streamed,
                len(req_body),
                len(resp_body),
                headers_req,
                headers_resp,
                req_body,
                resp_body,
                f"{ex_id:064x}",
                f"{ex_id * 7:064x}",
                0 if sqlite else False,
                inp,
                out,
                None,
                None,
                None,
                inp + out,
                None,
                usage_raw,
                "[]",
                "live",
                "HTTP/1.1",
                None,
                None,
                f'["{token}"]',
                None,
            )
        )
        self.stats.exchanges += 1
        self.stats.per_product[product if attributed else "(unattributed)"] += 1
        if not has_id:
            return
        self._obs(obs, ex_id, asked, "request_field", "request")
        if served is not None:
            self._obs(obs, ex_id, served, "response_field", "response")

    def _obs(
        self, obs: list[tuple[Any, ...]], ex_id: int, model: str, source: str, role: str
    ) -> None:
        self._obs_id += 1
        obs.append((self._obs_id, ex_id, model, source, "$.model", role, "model"))
        self.stats.observations += 1
        self.stats.model_observations += 1
        self.stats.distinct_ids.add(model)


def load(url: str, n: int, *, seed: int = 8) -> LoadStats:
    """Create the store at ``url`` (an empty database) and bulk-load ``n`` exchanges into it.

    The rows bypass ``write_exchanges``, so the daily rollups are rebuilt afterwards with the
    store's own ``rollups.rebuild`` (what any bulk load must do); ``stats.rollup_seconds`` says
    how long that took.
    """
    import time

    from provenance.store import open_store, rollups

    store = open_store(url, create=True)
    try:
        gen = Generator(n, seed)
        if store.engine.dialect.name == "sqlite":
            _load_sqlite(store, gen)
        else:
            _load_postgres(store, gen)
        start = time.perf_counter()
        with store.engine.begin() as connection:
            rollups.rebuild(connection)
            rollups.analyze(connection)
        gen.stats.rollup_seconds = time.perf_counter() - start
    finally:
        store.close()
    return gen.stats


def _small_tables(gen: Generator) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    providers = [(i, slug) for slug, i in gen.provider_ids.items()]
    products = [(i, name) for name, i in gen.product_ids.items()]
    return providers, products


def _load_sqlite(store: Any, gen: Generator) -> None:
    raw = store.engine.raw_connection()
    try:
        conn = raw.driver_connection
        cur = conn.cursor()
        cur.execute("PRAGMA synchronous = OFF")  # bench load only; the store itself uses NORMAL
        providers, products = _small_tables(gen)
        cur.execute("BEGIN")
        cur.executemany("INSERT INTO providers (id, slug) VALUES (?, ?)", providers)
        cur.executemany("INSERT INTO products (id, name) VALUES (?, ?)", products)
        ex_sql = "INSERT INTO exchanges ({}) VALUES ({})".format(
            ", ".join(EXCHANGE_COLUMNS), ", ".join("?" for _ in EXCHANGE_COLUMNS)
        )
        obs_sql = "INSERT INTO observations ({}) VALUES ({})".format(
            ", ".join(OBSERVATION_COLUMNS), ", ".join("?" for _ in OBSERVATION_COLUMNS)
        )
        for ex, obs in gen.chunks(sqlite=True):
            cur.executemany(ex_sql, ex)
            cur.executemany(obs_sql, obs)
        cur.execute("COMMIT")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("ANALYZE")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.close()
    finally:
        raw.close()


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _copy_block(rows: list[tuple[Any, ...]]) -> bytes:
    return "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows).encode()


def _load_postgres(store: Any, gen: Generator) -> None:
    raw = store.engine.raw_connection()
    try:
        conn = raw.driver_connection
        providers, products = _small_tables(gen)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO providers (id, slug) VALUES (%s, %s)", providers)
            cur.executemany("INSERT INTO products (id, name) VALUES (%s, %s)", products)
            ex_copy = "COPY exchanges ({}) FROM STDIN".format(", ".join(EXCHANGE_COLUMNS))
            obs_copy = "COPY observations ({}) FROM STDIN".format(", ".join(OBSERVATION_COLUMNS))
            for ex, obs in gen.chunks(sqlite=False):
                with cur.copy(ex_copy) as copy:
                    copy.write(_copy_block(ex))
                with cur.copy(obs_copy) as copy:
                    copy.write(_copy_block(obs))
            for table in ("providers", "products", "exchanges", "observations"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        conn.commit()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        finally:
            conn.autocommit = False
    finally:
        raw.close()
