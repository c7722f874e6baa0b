"""Real servers and processes for the Celery tests: Redis, HTTP receivers, celery workers.

The outbox target lives in ONE fixture, ``outbox_url``: a fresh database
of one session PostgreSQL server, the store a campaign across machines
uses (``test_smoke`` also runs on a SQLite file, the one-machine store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from broadcastio import Message, Metadata, Outbox
from broadcastio.testing.servers import serve_app
from broadcastio.testing.services import PostgresServer, RedisServer, postgres_server, redis_server

VISIBILITY_TIMEOUT = 3.0
"""Small, so Redis hands a killed worker's chunk to another worker within seconds."""
LEASE_SECONDS = 5.0


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def broker_url(redis: RedisServer) -> Iterator[str]:
    """The session's Redis, emptied for each test (queues, unacked tasks)."""
    import redis as redis_client

    client = redis_client.Redis.from_url(redis.url)
    client.flushdb()
    yield redis.url
    with contextlib.suppress(Exception):
        client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def outbox_url(pg: PostgresServer) -> str:
    """Where the campaign is journalled: a fresh PostgreSQL database (the one place to change it)."""
    return pg.database()


@pytest.fixture
def sqlite_outbox_url(tmp_path: Path) -> str:
    """The one-machine store: a SQLite file every worker process of this host shares."""
    return str(tmp_path / "outbox.sqlite")


class Receiver:
    """A webhook receiver on 127.0.0.1 counting POSTs per Idempotency-Key.

    ``idempotent``: a repeated key is acknowledged again and not counted as
    a new delivery (what an idempotent API does). ``delay``: seconds per request.
    """

    def __init__(self, *, idempotent: bool, delay: float = 0.0, fail_first: int = 0) -> None:
        self.idempotent = idempotent
        self.delay = delay
        self.fail_first = fail_first  # answer the first POSTs 503 with Retry-After: 2 (a transient failure)
        self.refused: set[str] = set()
        self.accepted_at: dict[str, float] = {}  # key -> when it was first accepted (monotonic)
        self.posts: Counter[str] = Counter()  # key -> POSTs received
        self.delivered: dict[str, str] = {}  # key -> the worker that delivered it first
        self.workers: Counter[str] = Counter()  # worker -> POSTs
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        if request.method != "POST":
            return web.Response(status=200)
        key = request.headers["Idempotency-Key"]
        worker = request.headers.get("X-Worker", "?")
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.refused) < self.fail_first and key not in self.refused:
            self.refused.add(key)
            return web.Response(status=503, headers={"Retry-After": "2"})
        self.accepted_at.setdefault(key, time.monotonic())
        self.posts[key] += 1
        self.workers[worker] += 1
        self.delivered.setdefault(key, worker)
        return web.json_response({"id": key})

    @property
    def total(self) -> int:
        return sum(self.posts.values())


@contextlib.contextmanager
def serve(receiver: Receiver) -> Iterator[Receiver]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    with serve_app(app) as base:
        receiver.url = f"{base}/hook"
        yield receiver


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    with contextlib.ExitStack() as stack:

        def make(*, idempotent: bool, delay: float = 0.0, fail_first: int = 0) -> Receiver:
            return stack.enter_context(serve(Receiver(idempotent=idempotent, delay=delay, fail_first=fail_first)))

        yield make


def write_config(directory: Path, receiver: Receiver, *, rate_limit: str | None = None) -> Path:
    """A broadcastio.toml with one webhook provider pointing at ``receiver``
    (``rate_limit``: its TOML inline table, e.g. ``{ per_second = 100, burst = 5 }``)."""
    path = directory / "broadcastio.toml"
    path.write_text(
        "[[providers]]\n"
        'name = "hook"\n'
        'type = "webhook"\n' + (f"rate_limit = {rate_limit}\n" if rate_limit else "") + "[providers.settings]\n"
        f'url = "{receiver.url}"\n'
        f"idempotent = {'true' if receiver.idempotent else 'false'}\n"
        "timeout = 10\n"
        'headers = { "X-Worker" = "${BROADCASTIO_TEST_WORKER}" }\n'
    )
    return path


def journal(outbox_url: str, campaign: str, count: int) -> None:
    """Journal ``count`` messages as campaign ``campaign``; keys name their row number."""
    messages = (
        Message(recipient=f"r{number}", text="hello", metadata=Metadata(idempotency_key=f"k{number:06d}"))
        for number in range(1, count + 1)
    )
    with Outbox(outbox_url) as box:
        box.add(messages, campaign=campaign)


class Workers:
    """Celery worker processes (``celery -A broadcastio_celery worker``, prefork), each its own process group."""

    def __init__(self, directory: Path, broker_url: str, config: Path, **env: str) -> None:
        self.directory = directory
        self.broker_url = broker_url
        self.config = config
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0

    def start(
        self, name: str, *, concurrency: int = 1, beat: bool = False, queue: str | None = None
    ) -> subprocess.Popen[bytes]:
        self.started += 1
        env = {
            **os.environ,
            "BROADCASTIO_BROKER_URL": self.broker_url,
            "BROADCASTIO_CONFIG": str(self.config),
            "BROADCASTIO_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "BROADCASTIO_LEASE_SECONDS": str(LEASE_SECONDS),
            "BROADCASTIO_CONCURRENCY": "8",
            "BROADCASTIO_TEST_WORKER": name,
            **self.env,
        }
        argv = [sys.executable, "-m", "celery", "-A", "broadcastio_celery", "worker", "--pool", "prefork",
                "--concurrency", str(concurrency), "-n", f"{name}-{self.started}@%h", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        if queue is not None:
            argv += ["--queues", queue]
        if beat:
            argv += ["--beat", "--schedule", str(self.directory / f"beat-{self.started}")]
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, env=env, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        log.close()
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL the whole worker (its main process and its pool), as a crash would."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def kill_pool_process(self, name: str) -> int:
        """SIGKILL one pool process of the worker (an OOM kill); the main process lives on. Its pid."""
        main = self.processes[name].pid
        children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
        if not children:
            raise AssertionError(f"worker {name} has no pool process")
        child = int(children[0])
        os.kill(child, signal.SIGKILL)
        return child

    def terminate(self, name: str, timeout: float = 60) -> int:
        """SIGTERM the worker's main process (Celery's warm shutdown); its exit code."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a pool child left behind would be a bug; never leak it
        return code

    def close(self) -> None:
        for name in list(self.processes):
            self.kill(name)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.directory.glob("*.log"))


@pytest.fixture
def workers_for(tmp_path: Path, broker_url: str) -> Iterator[Callable[..., Workers]]:
    made: list[Workers] = []

    def make(receiver: Receiver, *, rate_limit: str | None = None, **env: str) -> Workers:
        workers = Workers(tmp_path, broker_url, write_config(tmp_path, receiver, rate_limit=rate_limit), **env)
        made.append(workers)
        return workers

    yield make
    for workers in made:
        workers.close()


def wait_for(check: Callable[[], bool], timeout: float, what: str, workers: Workers | None = None) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if check():
            return
        time.sleep(0.2)
    detail = workers.logs() if workers is not None else ""
    standing = f" ({check!r})" if isinstance(check, settled) else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{standing}\n{detail}")


class settled:
    """True once no row of the campaign is pending or sending (unknown rows may stay);
    its repr (shown when a wait times out) is the last standing it read."""

    def __init__(self, outbox_url: str, campaign: str) -> None:
        self.outbox_url = outbox_url
        self.campaign = campaign
        self.last = "nothing read yet"

    def __call__(self) -> bool:
        with Outbox(self.outbox_url) as box:
            status = box.campaign(self.campaign)
            held = sorted({row.owner or "-" for row in box.rows(("pending", "sending"), campaign=self.campaign)})
        self.last = f"{status!r}; owners of open rows: {held[:6]}"
        return status.pending == 0 and status.sending == 0

    def __repr__(self) -> str:
        return f"campaign {self.campaign}: {self.last}"


def queued(broker_url: str, queue: str = "broadcastio") -> list[dict[str, object]]:
    """The task messages waiting in a Redis queue, decoded (kombu's JSON envelope, base64 body)."""
    import base64

    import redis as redis_client

    client = redis_client.Redis.from_url(broker_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    decoded = []
    for item in raw:
        envelope = json.loads(item)
        args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        decoded.append({"task": envelope["headers"]["task"], "args": args, "kwargs": kwargs})
    return decoded
