"""A campaign on Celery workers against the local outbox broadcast, side by side.

Run: ``python bench/campaign.py [--n 20000]``. Needs ``broadcastio[http,testing]``,
``broadcastio-webhook``, ``broadcastio-celery``, Debian's ``redis-server``
(and ``postgresql`` when the PostgreSQL store is installed).

It starts its own Redis, and two webhook receivers in their own process:
one that takes 20 ms per request (like a real API), one that answers at
once. The campaign (``--n`` messages, chunks of 250 rows) is journalled,
then sent:

- on 1, 2 and 4 Celery worker processes (``celery -A broadcastio_celery
  worker --pool prefork --concurrency 1``, each sending 8 at a time), through
  the 20 ms receiver: the run is bound by the receiver, so 4 workers should
  go about 4x as fast as one (target >= 3.5x);
- through the local broadcast (``Orchestrator.broadcast`` with an SQLite
  ``Outbox``, concurrency 8), through the same receiver;
- through the fast receiver (half as many messages), on 1 worker and
  locally: what the distributed path (Redis, chunk tasks, a shared journal)
  costs per message over the local outbox (target <= 1.5x).

Times run from the first journalled row to the last row final (journalling
included, worker start-up excluded: four workers start once and are warmed
first; the queue a campaign goes to picks how many of them work on it). Each
measurement gets a fresh journal. The distributed journal is PostgreSQL (``postgres_server(fsync=True)``) when
``Outbox("postgresql://...")`` works, else an SQLite file. Ends with
``campaign_ratio scale4=<x> overhead=<y>``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 250
CONCURRENCY = 8
SLOW = 0.020


def _sink_main(delay: float, conn: Any) -> None:
    """A webhook receiver in its own process: 200 after ``delay`` seconds."""
    import asyncio

    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        if delay:
            await asyncio.sleep(delay)
        return web.json_response({"id": request.headers.get("Idempotency-Key", "")})

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(serve())


@contextlib.contextmanager
def _sink(delay: float) -> Iterator[str]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_sink_main, args=(delay, child), daemon=True)
    process.start()
    try:
        port = parent.recv()
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.join(5)


def _config(directory: Path, url: str, name: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        f'[[providers]]\nname = "hook"\ntype = "webhook"\n[providers.settings]\nurl = "{url}"\nidempotent = true\n'
    )
    return path


def _messages(n: int, tag: str) -> Iterator[Any]:
    from broadcastio import Message, Metadata

    for index in range(n):
        yield Message(recipient=f"user-{index}", text="bench", metadata=Metadata(idempotency_key=f"{tag}-{index}"))


def _settled(target: str, campaign: str) -> bool:
    from broadcastio import Outbox

    with Outbox(target) as box:
        status = box.campaign(campaign)
    return status.total > 0 and status.pending == 0 and status.sending == 0


QUEUES = {1: "w1", 2: "w2", 4: "w4"}
"""A measurement on k workers uses queue QUEUES[k]: worker 0 serves them all, worker 1 w2 and w4, the rest w4."""


class _Workers:
    """Four worker processes, started once; which of them work is chosen by the queue."""

    def __init__(self, directory: Path, broker: str, config: Path) -> None:
        env = {**os.environ, "BROADCASTIO_BROKER_URL": broker, "BROADCASTIO_CONFIG": str(config),
               "BROADCASTIO_CONCURRENCY": str(CONCURRENCY)}  # fmt: skip
        self.processes = []
        for number in range(4):
            queues = ",".join(queue for count, queue in QUEUES.items() if number < count)
            argv = [sys.executable, "-m", "celery", "-A", "broadcastio_celery", "worker", "--pool", "prefork",
                    "--concurrency", "1", "-n", f"bench{number}@%h", "--loglevel", "ERROR", "--queues", queues,
                    "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
            log = (directory / f"worker{number}.log").open("ab")
            process = subprocess.Popen(
                argv, env=env, cwd=directory, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.processes.append(process)
            log.close()

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _wait(target: str, campaign: str, timeout: float) -> None:
    ends = time.monotonic() + timeout
    while not _settled(target, campaign):
        if time.monotonic() > ends:
            raise SystemExit(f"campaign {campaign} did not finish within {timeout:.0f} s")
        time.sleep(0.05)


def _enqueue(target: str, broker: str, queue: str, config: Path, n: int, tag: str, chunk: int) -> None:
    from broadcastio import Outbox
    from broadcastio_celery import CeleryWorkers

    with Outbox(target) as box:
        box.add(_messages(n, tag), campaign=tag)
    CeleryWorkers().start(target, tag, total_rows=n, chunk_size=chunk, config_path=str(config),
                          options={"broker_url": broker, "queue": queue})  # fmt: skip


def _warm(target: str, broker: str, configs: tuple[Path, ...]) -> None:
    """Every worker process builds its orchestrators (one per configuration) before the clock runs."""
    for number, config in enumerate(configs):
        tag = f"warm{number}"
        _enqueue(target, broker, QUEUES[4], config, 32, tag, 1)
        _wait(target, tag, 120)


def _distributed(target: str, broker: str, config: Path, workers: int, n: int, tag: str) -> float:
    """Seconds for ``n`` messages on ``workers`` Celery worker processes."""
    started = time.perf_counter()
    _enqueue(target, broker, QUEUES[workers], config, n, tag, CHUNK)
    _wait(target, tag, 600)
    return time.perf_counter() - started


def _local(directory: Path, config: Path, n: int, tag: str) -> float:
    """Seconds for ``n`` messages through ``Orchestrator.broadcast`` with an SQLite outbox."""
    from broadcastio import Outbox, build_orchestrator

    orchestrator = build_orchestrator(config)
    try:
        with Outbox(directory / f"{tag}.sqlite") as box:
            list(orchestrator.broadcast(_messages(8, f"{tag}-warm"), outbox=box, campaign=f"{tag}-warm"))
            started = time.perf_counter()
            sent = sum(r.ok for r in orchestrator.broadcast(_messages(n, tag), outbox=box, campaign=tag,
                                                           concurrency=CONCURRENCY))  # fmt: skip
            elapsed = time.perf_counter() - started
    finally:
        orchestrator.close()
    if sent != n:
        raise SystemExit(f"local broadcast sent {sent} of {n}")
    return elapsed


@contextlib.contextmanager
def _journal_targets(directory: Path) -> Iterator[tuple[Callable[[str], str], str]]:
    """A fresh distributed journal per measurement: a PostgreSQL database when
    the PostgreSQL store is installed, else an SQLite file."""
    from broadcastio import BroadcastioError, Outbox

    def sqlite(tag: str) -> str:
        return str(directory / f"{tag}.sqlite")

    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield sqlite, "SQLite file"
        return
    from broadcastio.testing.services import postgres_server

    with postgres_server(fsync=True) as server:
        probe = server.database()
        try:
            Outbox(probe).close()
        except (BroadcastioError, OSError):
            yield sqlite, "SQLite file (no PostgreSQL store installed)"
            return
        yield (lambda tag: server.database()), "PostgreSQL 15 (fsync on)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per campaign")
    args = parser.parse_args()
    n = args.n

    from broadcastio.testing.services import redis_server

    with (
        tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp,
        redis_server() as redis,
        _sink(SLOW) as slow_url,
        _sink(0.0) as fast_url,
    ):
        directory = Path(tmp)
        slow, fast = _config(directory, slow_url, "slow"), _config(directory, fast_url, "fast")
        pool = _Workers(directory, redis.url, slow)
        with contextlib.ExitStack() as stack:
            stack.callback(pool.close)
            new_target, label = stack.enter_context(_journal_targets(directory))
            _warm(new_target("warm"), redis.url, (slow, fast))
            print(f"campaign of {n} messages, chunks of {CHUNK}, {CONCURRENCY} sends in flight per process; "
                  f"cores: {os.cpu_count()}; distributed journal: {label}")  # fmt: skip
            print(f"{'receiver 20 ms/request':<34}{'seconds':>9}{'msg/s':>9}{'vs 1 worker':>13}")
            times: dict[int, float] = {}
            for workers in (1, 2, 4):
                tag = f"slow{workers}"
                times[workers] = _distributed(new_target(tag), redis.url, slow, workers, n, tag)
                print(f"{f'celery, {workers} worker process(es)':<34}{times[workers]:>9.2f}"
                      f"{n / times[workers]:>9.0f}{times[1] / times[workers]:>12.2f}x")  # fmt: skip
            local_slow = _local(directory, slow, n, "local-slow")
            print(f"{'local broadcast, SQLite outbox':<34}{local_slow:>9.2f}{n / local_slow:>9.0f}"
                  f"{times[1] / local_slow:>12.2f}x")  # fmt: skip
            print(f"{f'receiver answers at once ({max(n // 2, 1)})':<34}{'µs/msg':>9}{'msg/s':>9}{'vs local':>13}")
            small = max(n // 2, 1)  # a per-message cost: half the campaign is enough
            local_fast = _local(directory, fast, small, "local-fast")
            celery_fast = _distributed(new_target("fast1"), redis.url, fast, 1, small, "fast1")
            for label_, seconds in (("local broadcast, SQLite outbox", local_fast), ("celery, 1 worker", celery_fast)):
                print(f"{label_:<34}{seconds / small * 1e6:>9.0f}{small / seconds:>9.0f}{seconds / local_fast:>12.2f}x")
    scale4 = times[1] / times[4]
    overhead = celery_fast / local_fast
    print(f"campaign_ratio scale4={scale4:.2f} overhead={overhead:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
