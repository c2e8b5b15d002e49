"""Database URLs and engines: where the store lives and how it is opened.

Supported: SQLite files (the embedded default) and PostgreSQL through psycopg 3. SQLite files are
created 0600 before SQLAlchemy opens them and run in WAL mode with ``synchronous=NORMAL`` (a
committed transaction survives a crash of the process, e.g. ``kill -9``; only a power loss can
take the last few), foreign keys on and a busy timeout. Every failure a user can cause becomes a
one-line :class:`StoreError` that never contains a password.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from provenance.errors import StoreError
from provenance.paths import create_private_file, data_dir

ENV_DB = "PROVENANCE_DB"
DEFAULT_FILENAME = "provenance.sqlite"
SQLITE_BUSY_TIMEOUT_MS = 5000
PG_CONNECT_TIMEOUT_S = 5

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def resolve_db_url(url: str | None) -> str:
    """The database URL to use: ``url`` (``--db``), else ``$PROVENANCE_DB``, else the default file.

    A value without a ``scheme://`` is a filesystem path to a SQLite file. ``postgresql://`` and
    ``postgres://`` are rewritten to ``postgresql+psycopg://``. The result still holds any password
    (it is what the engine connects with): show users :func:`mask_url` of it instead.
    Raises :class:`StoreError` for a URL that cannot be parsed or an unsupported engine.
    """
    value = (url or "").strip() or os.environ.get(ENV_DB, "").strip()
    if not value:
        return _sqlite_url_for(data_dir() / DEFAULT_FILENAME)
    if not _SCHEME.match(value):
        return _sqlite_url_for(Path(value).expanduser())
    parsed = parse_url(value)
    return parsed.render_as_string(hide_password=False)


def parse_url(value: str) -> URL:
    """Parse and normalise a database URL (see :func:`resolve_db_url`)."""
    try:
        parsed = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"cannot parse database URL {_mask_unparsed(value)!r}: use sqlite:///PATH, a file "
            "path, or postgresql://USER@HOST/DB"
        ) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed.set(drivername="sqlite")
    raise StoreError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///PATH (or a file "
        "path) or postgresql://USER@HOST/DB"
    )


# Query parameters of a database URL that carry a credential (libpq's password, passfile,
# sslpassword and sslkey; tokens and secrets of other drivers): shown as ``***``.
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|cred|auth", re.IGNORECASE)


def mask_url(url: str | URL) -> str:
    """``url`` as text with every credential removed, safe for errors, banners and logs.

    The password becomes ``***`` (the user name stays: it is not a credential) and the value of
    every query parameter that can carry a secret (``password``, ``passfile``, ``sslpassword``,
    ``sslkey``, ``*token*`` ...) becomes ``***``; host, port, database and the rest stay readable.
    """
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (ArgumentError, ValueError):
            return _mask_unparsed(url)
    url = URL.create(
        url.drivername,
        username=url.username if url.password is None else (url.username or ""),
        password=None if url.password is None else "***",
        host=url.host,
        port=url.port,
        database=url.database,
        query={k: ("***" if _SECRET_PARAM.search(k) else v) for k, v in url.query.items()},
    )
    return url.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def _secrets_of(url: URL) -> list[str]:
    """The credential values in ``url`` (to scrub from a driver's error text)."""
    found = [str(url.password)] if url.password else []
    for key, value in url.query.items():
        if _SECRET_PARAM.search(key):
            found += [value] if isinstance(value, str) else list(value)
    return [v for v in found if v]


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file a SQLite URL points at; None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str, *, create: bool = False, busy_timeout_ms: int | None = None) -> Engine:
    """An engine for a resolved URL, checked by connecting once.

    SQLite: a missing file is created 0600 (and its directory) when ``create`` is true, else it is
    a :class:`StoreError`. PostgreSQL: the server must be reachable. Raises :class:`StoreError`.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, create=create, busy_timeout_ms=busy_timeout_ms)
    else:
        engine = _postgres_engine(parsed)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open database {mask_url(parsed)}: {describe_error(exc, parsed)}"
            + disk_full_hint(parsed)
        ) from exc
    return engine


def disk_full_hint(url: str | URL) -> str:
    """`` (its disk is full: free space in DIR)`` when a SQLite file's filesystem has (almost)
    no room left, else ``""``: SQLite itself often says only "disk I/O error" then."""
    path = sqlite_path(url)
    if path is None:
        return ""
    folder = path.absolute().parent
    try:
        info = os.statvfs(folder)
    except OSError:
        return ""
    if info.f_bavail * info.f_frsize >= 64 * 1024:
        return ""
    return f" (its disk is full: free space in {folder})"


def describe_error(exc: BaseException, url: URL | None = None) -> str:
    """A short one-line reason for a database error, without SQL, parameters or a password."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if url is not None:
        for secret in _secrets_of(url):
            text = text.replace(secret, "***")
    return text[:300]


def _sqlite_url_for(path: Path) -> str:
    return URL.create("sqlite", database=str(path.absolute())).render_as_string()


def _mask_unparsed(value: str) -> str:
    # userinfo and secret-looking query values in something make_url could not parse
    value = re.sub(r"(://[^:/@?#]*):[^@/?#]*@", r"\1:***@", value)
    return re.sub(
        r"([?&][^=&#]*(?:pass|pwd|secret|token|key|cred|auth)[^=&#]*=)[^&#]*",
        r"\1***",
        value,
        flags=re.IGNORECASE,
    )


def _sqlite_engine(url: URL, *, create: bool, busy_timeout_ms: int | None) -> Engine:
    path = sqlite_path(url)
    kwargs: dict[str, Any] = {}
    if path is None:  # in-memory: one shared connection
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif not path.exists():
        if not create:
            raise StoreError(
                f"no database at {path}: capture or import traffic first, or create it with "
                f"`provenance db upgrade --db {path}`"
            )
        try:
            create_private_file(path)
        except OSError as exc:
            raise StoreError(
                f"cannot create database file {path}: {exc.strerror or exc}; choose a writable "
                "path with --db"
            ) from exc
    elif path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file: pass a file path to --db")
    if path is not None and create and not _writable(path):
        raise StoreError(
            f"database file {path} (or its directory) is not writable: choose a writable path "
            "with --db"
        )
    engine = create_engine(url, **kwargs)
    timeout = SQLITE_BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) decide when transactions begin: see _on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout)}")
            if path is not None:
                _enable_wal(cursor, timeout / 1000)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Real transactions for DDL too; writers take the write lock up front (BEGIN IMMEDIATE),
        # so that they wait for the busy timeout instead of failing on a stale read snapshot.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor: Any, timeout_s: float) -> None:
    """Switch the connection's database to WAL, retrying while another connection holds a lock.

    SQLite answers ``PRAGMA journal_mode`` with "database is locked" without consulting the busy
    handler when it races another connection that is converting the same new file or holds its
    write lock, so several processes opening one fresh database at once need this retry. Raises
    the last ``sqlite3.OperationalError`` once ``timeout_s`` has passed.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _writable(path: Path) -> bool:
    # WAL mode needs to create <file>-wal and <file>-shm beside the database.
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _postgres_engine(url: URL) -> Engine:
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": "provenance"},
    )
