"""A throw-away PostgreSQL server for the tests and the store benchmark.

``initdb`` + ``pg_ctl`` in a temp dir, as the ``postgres`` user when run as root (``initdb``
refuses root; ``runuser`` switches). :func:`start_postgres_server` raises
:class:`ServiceMissing` with the reason when a server cannot run here; the tests turn that into
a skip, or a failure under ``PROVENANCE_REQUIRE_SERVICES=1`` (CI).
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
from dataclasses import dataclass, field
from pathlib import Path


class ServiceMissing(RuntimeError):
    """PostgreSQL cannot run on this machine; the message says why and what to install."""


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
    """Start a throw-away cluster; :class:`ServiceMissing` (with the reason) when it cannot."""
    bindir = find_pg_bindir()
    if bindir is None:
        raise ServiceMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ServiceMissing("psycopg is not installed") from None
    root = Path(tempfile.mkdtemp(prefix="provenance-pg-"))
    runas: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise ServiceMissing(
                "running as root and no 'postgres' user exists to run PostgreSQL"
            ) from None
        if shutil.which("runuser") is None:
            shutil.rmtree(root, ignore_errors=True)
            raise ServiceMissing("running as root and `runuser` is missing")
        os.chown(root, user.pw_uid, user.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir=bindir, root=root, runas=runas)
    try:
        server.init()
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise ServiceMissing(f"could not start PostgreSQL: {exc}") from exc
    return server


def stop_postgres_server(server: PostgresServer) -> None:
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
        server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)
