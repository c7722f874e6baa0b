"""A real local webhook receiver on 127.0.0.1 that records requests and answers as scripted."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from broadcastio.testing.servers import serve_app


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


class Receiver:
    """Records every request; answers POSTs from a script, then with a default 200.

    Other methods (the health check's HEAD) get ``head_status`` and an empty body.
    """

    def __init__(self) -> None:
        self.head_status = 200
        self.requests: list[Received] = []
        self.script: collections.deque[Answer] = collections.deque()
        self.url = ""

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    @property
    def posts(self) -> list[Received]:
        return [item for item in self.requests if item.method == "POST"]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Received(request.method, request.path, dict(request.headers), body))
        if request.method != "POST":
            return web.Response(status=self.head_status)
        answer = self.script.popleft() if self.script else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    sink = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sink.handle)
    with serve_app(app) as base_url:
        sink.url = f"{base_url}/hooks/in"
        yield sink
