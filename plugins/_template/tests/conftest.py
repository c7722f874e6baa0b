"""A local stand-in for the Example API, served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from broadcastio.testing.servers import serve_app

TOKEN = "test-token"


def make_app(received: list[dict[str, object]]) -> web.Application:
    async def messages(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if body["to"] == "busy":
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "7"})
        if body["to"] == "nobody":
            return web.json_response({"error": "unknown recipient"}, status=404)
        received.append(body)
        return web.json_response({"id": f"msg-{len(received)}"}, status=201)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/messages", messages)
    app.router.add_get("/health", health)
    return app


@pytest.fixture
def received() -> list[dict[str, object]]:
    return []


@pytest.fixture
def api_url(received: list[dict[str, object]]) -> Iterator[str]:
    with serve_app(make_app(received)) as url:
        yield url
