"""A local stand-in for the Example API, served on 127.0.0.1.

It checks the bearer token (401), records each message and answers 201 with
an id; a test queues any other answer (``api.reply(429, {...}, retry_after="7")``)
through :class:`~broadcastio.testing.servers.ScriptedReplies`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app

TOKEN = "test-token"


class FakeExampleApi(ScriptedReplies):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, object]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/messages", self._messages)
        app.router.add_get("/health", self._health)
        return app

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.respond(401, {"error": "unauthorized"})
        self.received.append(await request.json())
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        return self.respond(201, {"id": f"msg-{len(self.received)}"})

    async def _health(self, request: web.Request) -> web.Response:
        return self.respond(200, {"ok": True})


@pytest.fixture
def api() -> FakeExampleApi:
    return FakeExampleApi()


@pytest.fixture
def api_url(api: FakeExampleApi) -> Iterator[str]:
    with serve_app(api.app()) as url:
        yield url
