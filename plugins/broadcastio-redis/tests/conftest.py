"""A real Redis server (one per session), a fresh namespace per test, and a timestamping webhook receiver."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import serve_app
from broadcastio.testing.services import RedisServer, redis_server

WORKER = Path(__file__).with_name("_worker.py")


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """One real redis-server on 127.0.0.1 for the whole session (fails loudly when not installed)."""
    with redis_server() as server:
        yield server


@pytest.fixture
def namespace() -> str:
    """A namespace no other test shares."""
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class Request:
    worker: str
    key: str
    started: float
    ended: float = 0.0
    status: int = 200


@dataclass
class Receiver:
    """Records every POST with wall-clock start and end; answers 503 to the workers in ``fail_for``
    (from wall time ``fail_after`` on)."""

    url: str = ""
    delay: dict[str, float] = field(default_factory=dict)
    fail_for: set[str] = field(default_factory=set)
    fail_after: float = 0.0
    requests: list[Request] = field(default_factory=list)
    concurrent: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: web.Request) -> web.Response:
        worker = request.headers.get("X-Worker", "")
        entry = Request(worker, request.headers.get("Idempotency-Key", ""), time.time())
        await request.read()
        with self.lock:
            self.concurrent += 1
            self.peak = max(self.peak, self.concurrent)
            self.requests.append(entry)
        try:
            wait = self.delay.get(worker, self.delay.get("*", 0.0))
            if wait:
                await asyncio.sleep(wait)
        finally:
            with self.lock:
                self.concurrent -= 1
            entry.ended = time.time()
        if worker in self.fail_for and entry.started >= self.fail_after:
            entry.status = 503
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response({"id": entry.key})

    def by(self, worker: str) -> list[Request]:
        return [r for r in self.requests if r.worker == worker]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()
    app = web.Application()
    app.router.add_route("*", "/hook", box.handle)
    with serve_app(app) as base:
        box.url = f"{base}/hook"
        yield box


class Workers:
    """Worker processes (tests/_worker.py), each logging JSON lines to its own file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, **settings: Any) -> subprocess.Popen[bytes]:
        settings = {"name": name, "log": str(self.log_path(name)), **settings}
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with (self.directory / f"{name}.err").open("wb") as errors:
            process = subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(settings)], env=env, stdout=subprocess.DEVNULL, stderr=errors
            )
        self.processes[name] = process
        return process

    def log_path(self, name: str) -> Path:
        return self.directory / f"{name}.jsonl"

    def lines(self, name: str) -> list[dict[str, Any]]:
        path = self.log_path(name)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"worker {name} still running after {timeout} s")
            err = (self.directory / f"{name}.err").read_text(encoding="utf-8", errors="replace")
            assert process.returncode == 0, f"worker {name} exited {process.returncode}: {err[-3000:]}"

    def kill_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.kill_all()
