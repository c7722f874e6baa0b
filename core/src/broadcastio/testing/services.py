"""Real PostgreSQL and Redis servers for tests, started from Debian's packages.

Each server runs on 127.0.0.1 on a free port, with its data in a fresh
temporary directory, and is stopped (and its directory removed) when the
context manager exits. Both can be stopped and started again mid-test, for
outage tests. A missing program raises :class:`ServiceUnavailable` naming
the Debian package to install, so a suite fails loudly instead of skipping.

PostgreSQL's ``initdb`` and ``pg_ctl`` refuse to run as root: as root, they
run as the ``postgres`` user the Debian package creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from broadcastio._errors import BroadcastioError

__all__ = ["PostgresServer", "RedisServer", "ServiceUnavailable", "free_port", "postgres_server", "redis_server"]

_PG_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class ServiceUnavailable(BroadcastioError):
    """A server program the tests need is not installed."""


def free_port() -> int:
    """A 127.0.0.1 TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _program(name: str, package: str, extra_dirs: list[Path] | None = None) -> str:
    for directory in extra_dirs or []:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServiceUnavailable(f"{name} not found: install Debian's {package} package (apt-get install -y {package})")
    return found


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


class PostgresServer:
    """A throwaway PostgreSQL cluster; :meth:`database` gives each test its own database."""

    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.initdb = _program("initdb", "postgresql", _PG_DIRS)
        self.pg_ctl = _program("pg_ctl", "postgresql", _PG_DIRS)
        self.psql = _program("psql", "postgresql", _PG_DIRS)
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.user = "postgres"
        self._as_postgres = os.geteuid() == 0
        self._fsync = fsync

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise ServiceUnavailable(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        else:
            self.user = os.environ.get("USER") or "postgres"
        self._run(self.initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.directory}'",
            "max_connections = 200",
            f"fsync = {'on' if self._fsync else 'off'}",
            "full_page_writes = off" if not self._fsync else "full_page_writes = on",
        ]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")

    def start(self) -> None:
        """Start (or start again, after :meth:`stop`) on the same port and data."""
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.directory / "log"), "-w", "-t", "60", "start")
        _wait_for_port(self.port, 30, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean), or ``immediate`` (like a crash)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str = "fast", down_for: float = 0.0) -> None:
        self.stop(mode)
        if down_for:
            time.sleep(down_for)
        self.start()

    @property
    def url(self) -> str:
        """The DSN of the ``postgres`` database."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def database(self, name: str | None = None) -> str:
        """Create a new empty database; returns its DSN."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._run(self.psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "postgres",
                  "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"')  # fmt: skip
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"


class RedisServer:
    """A throwaway Redis server, no persistence; :meth:`stop`/:meth:`start` for outages."""

    def __init__(self, directory: Path) -> None:
        self.program = _program("redis-server", "redis-server")
        self.directory = directory
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.directory), "--protected-mode", "no"]  # fmt: skip
        log = (self.directory / "redis.log").open("ab")
        self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _wait_for_port(self.port, 30, "Redis")

    def stop(self) -> None:
        """Kill the server (SIGKILL): clients see the connection drop, as in an outage."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=30)
            self._process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def postgres_server(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """A running PostgreSQL cluster for the duration of the block.

    ``fsync=False`` (the default) keeps tests fast; a process crash still
    loses nothing committed, only a crash of the machine would.
    """
    directory = Path(tempfile.mkdtemp(prefix="broadcastio-pg-"))
    if os.geteuid() == 0:  # the postgres user must reach its cluster directory
        shutil.chown(directory, "postgres", "postgres")
    server = PostgresServer(directory / "cluster", fsync=fsync)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running Redis server for the duration of the block."""
    directory = Path(tempfile.mkdtemp(prefix="broadcastio-redis-"))
    server = RedisServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
