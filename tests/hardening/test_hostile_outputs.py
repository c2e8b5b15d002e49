"""The hostile-string corpus through every text output of the real CLI, in a pipe and on a TTY.

The store is seeded with :mod:`tests.hardening.hostile` (every string in product names, hosts,
paths, headers, bodies and model ids, a 1 MB string included) and TLS connections whose SNI and
client carry them. Then:

* listings (``models``, ``exchanges``, ``connections``) and ``exchanges show`` for every row, in
  a pipe and on a pseudo-terminal: no control character, OSC/CSI sequence of the data, bidi
  override or NUL reaches the output, no forged table row, nothing crashes;
* the Markdown report rendered by a CommonMark renderer with HTML enabled: no element, image or
  link comes out of the data; the HTML report: no script, no remote load, a CSP; the CSV report
  and export: no cell starts a formula; the JSON report and JSON Lines/HAR exports parse and
  carry the strings back exactly (NUL and lone surrogates as the store keeps them).

Dashboard pages get the same corpus in a real browser (``tests/browser/test_dashboard_hostile``).
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provenance.store import ConnectionRecord, open_store
from tests.hardening.hostile import BEACON, FORBIDDEN, HOSTILE, seed_hostile

pytestmark = pytest.mark.slow

#: Sequences only the data could have put into a terminal output (Rich emits SGR colours only).
#: (A terminal turns each newline into CR LF, so a CR is checked on its own: see _bare_cr.)
TERMINAL_FORBIDDEN = ["\x1b]", "\x1b[2J", "\x1b[H", "\x07", "\x00", "\u202e", "\u2066"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("hostile") / "store.sqlite"
    url = f"sqlite:///{db}"
    seed_hostile(url)
    now = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)
    with open_store(url, create=True) as s:
        s.save_connections(
            [
                ConnectionRecord(first_seen=now, last_seen=now, sni=f"s{i}.{t[:60]}", client=t)
                for i, t in enumerate(HOSTILE)
            ]
        )
    yield url


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PROVENANCE_HOME": str(home), "COLUMNS": "160", "NO_COLOR": ""}


def _pipe(args: list[str], home: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "provenance", *args],
        capture_output=True,
        env=_env(home),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    return done.stdout.decode("utf-8", errors="surrogateescape")


def _tty(args: list[str], home: Path) -> str:
    """The command's output on a pseudo-terminal (Rich's terminal path: colour, box drawing)."""
    leader, follower = pty.openpty()
    env = {**_env(home), "TERM": "xterm-256color", "FORCE_COLOR": "1"}
    env.pop("NO_COLOR")
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            pytest.fail(f"{args}: no output for 120 s")
        try:
            data = os.read(leader, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode("utf-8", errors="surrogateescape")
    assert "Traceback" not in out
    return out


def _no_forged_rows(text: str) -> None:
    for line in text.splitlines():
        assert not line.lstrip().startswith("| row | injected |"), line
        assert not line.startswith("overwrite"), line


def _listing_args(store: str) -> list[list[str]]:
    args = [["models", "--db", store], ["exchanges", "--db", store, "--limit", "1000"]]
    args.append(["connections", "--db", store])
    args += [["exchanges", "show", str(i), "--db", store] for i in range(1, len(HOSTILE) + 2)]
    return args


def test_listings_and_exchange_views_in_a_pipe(store: str, tmp_path: Path) -> None:
    for args in _listing_args(store):
        out = _pipe(args, tmp_path)
        for bad in FORBIDDEN:
            assert bad not in out, (args, repr(bad))
        _no_forged_rows(out)
    shown = _pipe(["exchanges", "show", "1", "--db", store], tmp_path)
    assert "alert(1)" in shown  # the data is shown, as text


def test_listings_and_exchange_views_on_a_terminal(store: str, tmp_path: Path) -> None:
    for args in _listing_args(store)[:4]:
        out = _tty(args, tmp_path)
        for bad in TERMINAL_FORBIDDEN:
            assert bad not in out, (args, repr(bad))
        assert "\r" not in out.replace("\r\n", "\n"), args
        _no_forged_rows(out)


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(markup)
    return parser.tags


def test_markdown_report_renders_no_element_of_the_data(store: str, tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    report = _pipe(["report", "--db", store, "--format", "md"], tmp_path)
    for bad in FORBIDDEN:
        assert bad not in report, repr(bad)
    _no_forged_rows(report)
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(report)
    tags = _elements(rendered)
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "b")]
    links = [a.get("href") for t, a in tags if t == "a"]
    assert not [h for h in links if h and "attacker" in h], links
    assert BEACON not in str(links)


def test_html_report_loads_nothing_and_runs_nothing(store: str, tmp_path: Path) -> None:
    report = _pipe(["report", "--db", store, "--format", "html"], tmp_path)
    tags = _elements(report)
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed", "link")]
    assert not [a for t, a in tags if any(k.startswith("on") for k in a)]
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0].get("content") or "")
    for bad in ("\u202e", "\u2066", "\x00", "\x1b"):
        assert bad not in report


def _cells(text: str) -> list[str]:
    csv.field_size_limit(1 << 24)
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_csv_report_has_no_formula_cell(store: str, tmp_path: Path) -> None:
    text = _pipe(["report", "--db", store, "--format", "csv"], tmp_path)
    cells = _cells(text)
    assert cells and max(len(c) for c in cells) <= 32_767  # what a spreadsheet cell holds
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not dangerous, dangerous[:5]


def test_json_outputs_parse_and_keep_the_strings(store: str, tmp_path: Path) -> None:
    doc = json.loads(_pipe(["report", "--db", store, "--format", "json"], tmp_path))
    assert doc
    lines = _pipe(["export", "--db", store, "--format", "jsonl"], tmp_path).splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    assert len(rows) == len(HOSTILE) + 1
    har = json.loads(_pipe(["export", "--db", store, "--format", "har"], tmp_path))
    assert len(har["log"]["entries"]) == len(HOSTILE) + 1
    text = json.dumps(rows, ensure_ascii=False)
    for hostile in HOSTILE:
        if "\x00" not in hostile:  # the store keeps NUL as U+FFFD
            assert json.dumps(hostile, ensure_ascii=False)[1:-1] in text
    listing = json.loads(_pipe(["exchanges", "--db", store, "--json", "--limit", "1000"], tmp_path))
    assert listing
