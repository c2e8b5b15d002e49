"""The unstored journal: exchanges the store could not take, kept on disk until it can.

A capture acknowledges an exchange the moment it is recorded. When the database then refuses
the write for longer than a shutdown can wait (disk full, a read-only file, a server gone or
read-only, a lock held too long), the writer appends the records here instead of losing them,
and the next ``provenance capture`` on the same store imports them and says so.

Contract:

- **Where.** Beside a SQLite database file (``<file>.unstored-<pid>-<n>.jsonl``) and, when that
  cannot be written (the disk that refused the database usually refuses the journal too) or the
  store is a server, in the data directory's ``unstored/`` folder, named by a digest of the
  store's masked URL (``<digest>-<pid>-<n>.jsonl``). Only when both places refuse is a record
  lost; the writer counts it then.
- **What.** JSON lines: a header ``{"schema": "provenance.unstored/1", "store": <masked URL>}``,
  then one :class:`~provenance.records.ExchangeRecord` a line (:func:`encode_record`). Records
  are already redacted: the journal holds nothing the database would not. Files are 0600.
- **Appends are whole.** :meth:`Journal.append` writes a batch and fsyncs it; a write that fails
  halfway is cut back to where it started before the next place is tried, so no record is in
  two files and no file ends in half a record.
- **Recovery is idempotent.** :func:`recover` claims a file by renaming it (two captures
  starting at once never both import it), skips records the database already holds (same
  start time, method, host, path, status and body digests: a crash between a commit and the
  file's removal duplicates nothing), writes the rest, and deletes the file only once all of it
  is stored; what still cannot be written goes back into a fresh journal file.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from provenance.records import ExchangeRecord, Observation, Origin, Source, Usage

log = logging.getLogger("provenance.store")

SCHEMA = "provenance.unstored/1"
FILE_RECORDS = 2000  # records per journal file before a new one is started
FILE_BYTES = 64 * 1024 * 1024
RECOVER_BATCH = 200
_FOLDER = "unstored"
_seq = itertools.count()


# ------------------------------------------------------------------------------------- codec


def encode_record(record: ExchangeRecord) -> str:
    """One JSON line (no newline) holding every field of ``record``; :func:`decode_record`
    gives back an equal record."""
    usage = record.usage
    doc = {
        "started_at": _iso(record.started_at),
        "method": record.method,
        "scheme": record.scheme,
        "host": record.host,
        "port": record.port,
        "path": record.path,
        "status": record.status,
        "provider": record.provider,
        "product": record.product,
        "api": record.api,
        "content_type": record.content_type,
        "latency_ms": record.latency_ms,
        "ttfb_ms": record.ttfb_ms,
        "streamed": record.streamed,
        "request_size": record.request_size,
        "response_size": record.response_size,
        "request_headers": [list(h) for h in record.request_headers],
        "response_headers": [list(h) for h in record.response_headers],
        "request_body": record.request_body,
        "response_body": record.response_body,
        "request_digest": record.request_digest,
        "response_digest": record.response_digest,
        "bodies_truncated": record.bodies_truncated,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "total_tokens": usage.total_tokens,
            "cost": usage.cost,
            "raw": usage.raw,
        },
        "observations": [
            [o.model_id, str(o.source), o.location, o.role, o.kind] for o in record.observations
        ],
        "parse_errors": list(record.parse_errors),
        "origin": str(record.origin),
        "http_version": record.http_version,
        "client_ja4": record.client_ja4,
        "secret_hashes": list(record.secret_hashes),
        "error": record.error,
        "deployment": record.deployment,
        "stream_deltas": record.stream_deltas,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def decode_record(line: str) -> ExchangeRecord:
    """The record :func:`encode_record` wrote; ``ValueError`` (or ``KeyError``/``TypeError``)
    for a line that is not one."""
    doc = json.loads(line)
    if not isinstance(doc, dict):
        raise ValueError("not a journal record")
    u = doc["usage"]
    return ExchangeRecord(
        started_at=datetime.fromisoformat(doc["started_at"]),
        method=doc["method"],
        scheme=doc["scheme"],
        host=doc["host"],
        port=doc["port"],
        path=doc["path"],
        status=doc["status"],
        provider=doc["provider"],
        product=doc["product"],
        api=doc["api"],
        content_type=doc["content_type"],
        latency_ms=doc["latency_ms"],
        ttfb_ms=doc["ttfb_ms"],
        streamed=bool(doc["streamed"]),
        request_size=doc["request_size"],
        response_size=doc["response_size"],
        request_headers=[(str(k), str(v)) for k, v in doc["request_headers"]],
        response_headers=[(str(k), str(v)) for k, v in doc["response_headers"]],
        request_body=doc["request_body"],
        response_body=doc["response_body"],
        request_digest=doc["request_digest"],
        response_digest=doc["response_digest"],
        bodies_truncated=bool(doc["bodies_truncated"]),
        usage=Usage(
            input_tokens=u["input_tokens"],
            output_tokens=u["output_tokens"],
            cached_tokens=u["cached_tokens"],
            cache_write_tokens=u["cache_write_tokens"],
            reasoning_tokens=u["reasoning_tokens"],
            total_tokens=u["total_tokens"],
            cost=u["cost"],
            raw=u["raw"] or {},
        ),
        observations=[
            Observation(model, Source(source), location, role, kind)
            for model, source, location, role, kind in doc["observations"]
        ],
        parse_errors=list(doc["parse_errors"]),
        origin=Origin(doc["origin"]),
        http_version=doc["http_version"],
        client_ja4=doc["client_ja4"],
        secret_hashes=list(doc["secret_hashes"]),
        error=doc["error"],
        deployment=doc["deployment"],
        stream_deltas=doc["stream_deltas"],
    )


def _iso(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat()


# -------------------------------------------------------------------------------- the places


def places(url: str) -> list[tuple[Path, str]]:
    """Where the journal of the store at ``url`` lives: ``(folder, file name prefix)`` pairs,
    the preferred one first (beside a SQLite file, then the data directory)."""
    from provenance.paths import data_dir
    from provenance.store.engine import mask_url

    out: list[tuple[Path, str]] = []
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db = Path(parsed.database).absolute()
        out.append((db.parent, f"{db.name}.unstored-"))
        key = str(db)
    else:
        key = mask_url(url)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    out.append((data_dir() / _FOLDER, f"{digest}-"))
    return out


def pending_files(url: str) -> list[Path]:
    """Journal files waiting to be imported into the store at ``url`` (oldest first), including
    ones a recovery that died left claimed."""
    found: list[Path] = []
    for folder, prefix in places(url):
        with contextlib.suppress(OSError):
            found += [p for p in folder.glob(f"{prefix}*") if ".jsonl" in p.name]
    return sorted(found, key=_mtime)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# ------------------------------------------------------------------------------- the writer


class Journal:
    """Appends records that could not be stored to the journal of the store at ``url``.

    Thread-safe. :attr:`journaled` counts the records written, :attr:`paths` the files used.
    """

    def __init__(self, url: str) -> None:
        from provenance.store.engine import mask_url

        self._url = url
        self._masked = mask_url(url)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._in_file = 0
        self._size = 0
        self._failed_places: set[Path] = set()
        self.journaled = 0
        self.paths: list[Path] = []

    def append(self, records: Sequence[ExchangeRecord], *, sync: bool = True) -> bool:
        """Write ``records`` to the journal, all of them or none; True when they are written
        (and fsynced, unless ``sync`` is False: :meth:`close` syncs then)."""
        if not records:
            return True
        data = "".join(encode_record(r) + "\n" for r in records).encode()
        with self._lock:
            for folder, prefix in places(self._url):
                if folder in self._failed_places:
                    continue
                if self._write(folder, prefix, data, len(records), sync=sync):
                    self.journaled += len(records)
                    return True
                self._failed_places.add(folder)
            return False

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def _write(self, folder: Path, prefix: str, data: bytes, count: int, *, sync: bool) -> bool:
        if self._fd is not None and (
            self._path is None
            or self._path.parent != folder
            or self._in_file + count > FILE_RECORDS
            or self._size + len(data) > FILE_BYTES
        ):
            self._close_file()
        try:
            if self._fd is None:
                self._open(folder, prefix)
            assert self._fd is not None
            try:
                _write_all(self._fd, data)
                if sync:
                    os.fsync(self._fd)
            except OSError:
                with contextlib.suppress(OSError):  # cut the half-written batch back out
                    os.ftruncate(self._fd, self._size)
                    os.lseek(self._fd, self._size, os.SEEK_SET)
                raise
        except OSError as exc:
            log.warning("cannot write the unstored journal in %s (%s)", folder, exc.strerror)
            self._close_file()
            return False
        self._in_file += count
        self._size += len(data)
        return True

    def _open(self, folder: Path, prefix: str) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{prefix}{os.getpid()}-{next(_seq)}.jsonl"
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        header = (json.dumps({"schema": SCHEMA, "store": self._masked}) + "\n").encode()
        try:
            _write_all(fd, header)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        self._fd, self._path, self._in_file, self._size = fd, path, 0, len(header)
        self.paths.append(path)

    def _close_file(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
        if self._path is not None and self._in_file == 0:
            with contextlib.suppress(OSError, ValueError):  # only a header: nothing to recover
                self._path.unlink()
                self.paths.remove(self._path)
        self._fd, self._path, self._in_file, self._size = None, None, 0, 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# ------------------------------------------------------------------------------- recovery


@dataclass
class Recovery:
    """What :func:`recover` did. ``stored``: records written now; ``duplicates``: records the
    store already held; ``remaining``: records still waiting (in ``files_left``); ``unreadable``:
    lines that were not records, or records the database rejected for their data (both kept
    aside in a ``.bad`` file beside the journal, never imported again)."""

    files: int = 0
    stored: int = 0
    duplicates: int = 0
    remaining: int = 0
    unreadable: int = 0
    error: str | None = None
    files_left: list[Path] = field(default_factory=list)

    def line(self) -> str | None:
        """One line for the user, or None when there was nothing to recover."""
        if not self.files:
            return None
        text = (
            f"provenance: {self.stored} exchange(s) recovered into the store from "
            f"{self.files} unstored journal file(s) of an earlier capture"
        )
        if self.duplicates:
            text += f" ({self.duplicates} already stored, skipped)"
        if self.remaining:
            where = ", ".join(str(p) for p in self.files_left[:3])
            text += f"; {self.remaining} still waiting in {where}"
            if self.error:
                text += f" ({self.error})"
        if self.unreadable:
            text += f"; {self.unreadable} unreadable or rejected record(s) kept aside (.bad)"
        return text


def recover(store: Any) -> Recovery:
    """Import every journal file of ``store`` (see the module docstring); never raises for what
    the files hold or for the database refusing again (that is in the result)."""
    from provenance.store.engine import describe_error

    result = Recovery()
    for path in pending_files(store.url):
        claimed = _claim(path)
        if claimed is None:
            continue
        result.files += 1
        records, bad = _read(claimed)
        result.unreadable += len(bad)
        if bad:
            _keep_bad(claimed, bad)
        todo = list(records)
        try:
            while todo:
                batch = todo[:RECOVER_BATCH]
                fresh = _not_stored(store, batch)
                result.duplicates += len(batch) - len(fresh)
                rejected = _write(store, fresh)
                result.stored += len(fresh) - len(rejected)
                if rejected:
                    result.unreadable += len(rejected)
                    _keep_bad(claimed, [encode_record(r) for r in rejected])
                del todo[:RECOVER_BATCH]
        except Exception as exc:  # the database, not the data: keep the rest for next time
            result.error = describe_error(exc)
            journal = Journal(store.url)
            result.remaining += len(todo)
            if journal.append(todo):
                result.files_left += journal.paths
            else:  # cannot rewrite it: put the claimed file back as it is
                kept = claimed.with_name(claimed.name.split(".recovering-")[0])
                with contextlib.suppress(OSError):
                    claimed.rename(kept)
                    result.files_left.append(kept)
                claimed = None  # type: ignore[assignment]
            journal.close()
        if claimed is not None:
            with contextlib.suppress(OSError):
                claimed.unlink()
    return result


def _write(store: Any, records: list[ExchangeRecord]) -> list[ExchangeRecord]:
    """Write ``records`` in one transaction; on a rejection of the data, one by one. Returns
    the records the store rejected for their data; raises for a failure of the database."""
    from provenance.store.writer import is_transient

    if not records:
        return []
    try:
        store.write_exchanges(records)
        return []
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(records) == 1:
            return list(records)
    rejected: list[ExchangeRecord] = []
    for record in records:
        rejected += _write(store, [record])
    return rejected


def _claim(path: Path) -> Path | None:
    """Rename ``path`` to ``….recovering-<our pid>`` (None when another process has it)."""
    name = path.name
    if ".recovering-" in name:
        owner = name.rsplit(".recovering-", 1)[1]
        if owner.isdigit() and _alive(int(owner)):
            return None
        name = name.split(".recovering-")[0]
    if name.endswith(".bad"):
        return None
    target = path.with_name(f"{name}.recovering-{os.getpid()}")
    try:
        path.rename(target)
    except OSError:
        return None
    return target


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> tuple[list[ExchangeRecord], list[str]]:
    records: list[ExchangeRecord] = []
    bad: list[str] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return records, bad
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        if number == 0:
            with contextlib.suppress(ValueError):
                if json.loads(line).get("schema") == SCHEMA:
                    continue
        try:
            records.append(decode_record(line))
        except (ValueError, KeyError, TypeError, AttributeError):
            bad.append(line)
    return records, bad


def _keep_bad(claimed: Path, bad: list[str]) -> None:
    target = claimed.with_name(claimed.name.split(".recovering-")[0] + ".bad")
    with contextlib.suppress(OSError):
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in bad))


def _key(
    started_at: datetime,
    method: str,
    host: str,
    path: str,
    status: int | None,
    request_digest: str | None,
    response_digest: str | None,
) -> tuple[Any, ...]:
    return (_iso(started_at), method, host, path, status, request_digest, response_digest)


def _not_stored(store: Any, batch: Sequence[ExchangeRecord]) -> list[ExchangeRecord]:
    """The records of ``batch`` the store does not hold yet (by :func:`_key`)."""
    from provenance.store.models import ExchangeRow

    lo = min(r.started_at for r in batch)
    hi = max(r.started_at for r in batch)
    query = select(
        ExchangeRow.started_at,
        ExchangeRow.method,
        ExchangeRow.host,
        ExchangeRow.path,
        ExchangeRow.status,
        ExchangeRow.request_digest,
        ExchangeRow.response_digest,
    ).where(ExchangeRow.started_at >= lo, ExchangeRow.started_at <= hi)
    with store.session() as session:
        held = {_key(*row) for row in session.execute(query)}
    out = []
    for r in batch:
        key = _key(
            r.started_at, r.method, r.host, r.path, r.status, r.request_digest, r.response_digest
        )
        if key not in held:
            held.add(key)
            out.append(r)
    return out


def iter_records(paths: Iterable[Path]) -> Iterator[ExchangeRecord]:
    """Every readable record in ``paths`` (for tests and inspection)."""
    for path in paths:
        yield from _read(path)[0]
