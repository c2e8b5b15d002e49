"""Fixtures shared by every test.

- ``provenance_home`` (autouse): ``PROVENANCE_HOME`` points at a fresh temp dir and
  ``PROVENANCE_DB`` is unset, so no test touches the user's data directory or database.
- ``sqlite_url``: a SQLAlchemy URL of a (not yet existing) SQLite file in the test's temp dir.
- ``postgres_server`` (session): a real PostgreSQL server started by this fixture in a temp dir
  (``initdb`` + ``pg_ctl``, as the ``postgres`` user when we run as root), stopped at the end.
- ``postgres_url``: an empty database of the test's own on that server (a fresh schema in a
  shared database, selected by the URL; ``postgres_server.create_database()`` for a real one).
- ``store_url``: parametrised over ``sqlite`` and ``postgres`` (the latter marked ``postgres``),
  so a test taking it runs against both engines.

A missing service skips with the reason, or fails when ``PROVENANCE_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE_SERVICES_ENV = "PROVENANCE_REQUIRE_SERVICES"


def service_missing(reason: str) -> None:
    """Skip the test because a service is missing, or fail it when services are required (CI)."""
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def provenance_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("provenance-home")
    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    monkeypatch.delenv("PROVENANCE_DB", raising=False)
    return home


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in the test's temp dir (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'provenance-test.sqlite'}"


# --------------------------------------------------------------------------- PostgreSQL


def find_pg_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's layout."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.parent.name.split(".")],
    )
    for path in reversed(candidates):
        bindir = Path(path).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster in a temp dir, on 127.0.0.1 and a unix socket there.

    ``stop()``/``start()`` restart the same cluster on the same port (fault-injection tests).
    """

    bindir: Path
    root: Path
    port: int = 0
    runas: list[str] = field(default_factory=list)
    _db_counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _shared_db: str = ""

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        proc = subprocess.run(
            [*self.runas, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.root,
            check=False,
        )
        if proc.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}\n{log}"
            )
        return proc

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.port = _free_port()

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
            "-c max_connections=60 -c shared_buffers=32MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, database: str = "postgres"):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        )

    def create_database(self, prefix: str = "t") -> str:
        """Create a fresh empty database and return its SQLAlchemy URL (slow: ~0.5 s each)."""
        name = f"{prefix}_{next(self._db_counter)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_schema(self, prefix: str = "s") -> str:
        """A fresh empty schema in the shared database ``provenance_test``, as a URL whose
        connections use it as their search path (``?options=-csearch_path=...``): the cheap way
        to give every test an empty database of its own."""
        if not self._shared_db:
            self._shared_db = self.create_database("provenance_test").rsplit("/", 1)[1]
        name = f"{prefix}_{next(self._db_counter)}"
        with self._admin(self._shared_db) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url(self._shared_db)}?options=-csearch_path%3D{name}"


def start_postgres_server() -> PostgresServer:
    """Start a throw-away cluster, or skip/fail (see ``service_missing``) when it cannot run."""
    bindir = find_pg_bindir()
    if bindir is None:
        service_missing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    assert bindir is not None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        service_missing("psycopg is not installed")
    root = Path(tempfile.mkdtemp(prefix="provenance-pg-"))
    runas: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            service_missing("running as root and no 'postgres' user exists to run PostgreSQL")
            raise
        if shutil.which("runuser") is None:
            shutil.rmtree(root, ignore_errors=True)
            service_missing("running as root and `runuser` is missing")
        os.chown(root, user.pw_uid, user.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir=bindir, root=root, runas=runas)
    try:
        server.init()
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        service_missing(f"could not start PostgreSQL: {exc}")
    return server


def stop_postgres_server(server: PostgresServer) -> None:
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
        server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (do not stop it: use your own for faults)."""
    server = start_postgres_server()
    yield server
    stop_postgres_server(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """An empty database of the test's own on the session's PostgreSQL server (a fresh schema,
    selected through the URL: see ``PostgresServer.create_schema``)."""
    return postgres_server.create_schema()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))
