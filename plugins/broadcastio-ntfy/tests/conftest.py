"""A local stand-in for a ntfy server, in ntfy's request and response shapes.

``POST /<topic>`` publishes the body as the message, reading ``Title``,
``Priority`` and ``Tags`` (RFC 2047 encoded values decoded, as ntfy does)
and answers the message JSON with its ``id``. The ``protected`` topics need
the access token or the basic-auth user (403 ``40301`` anonymous, 401
``40101`` for a wrong token); ``limit`` publishes answer 429 ``42901``;
``GET /v1/health`` answers ``{"healthy": true}``.
"""

from __future__ import annotations

import base64
import email.header
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app

_PRIORITIES = {
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "min": 1,
    "low": 2,
    "default": 3,
    "high": 4,
    "max": 5,
    "urgent": 5,
}


def _decoded(value: str | None) -> str | None:
    if value is None:
        return None
    return str(email.header.make_header(email.header.decode_header(value)))


@dataclass
class Published:
    topic: str
    headers: dict[str, str]
    message: str
    title: str | None
    tags: list[str]
    priority: int


class FakeNtfy(ScriptedReplies):
    TOPIC = "broadcastio-alerts-7f3a"
    PROTECTED = "ops-private"
    TOKEN = "tk_AbCdEfGhIjKlMnOpQrStUvWxYz012"
    USER, PASSWORD = "phil", "s3cret-passw0rd"

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Published] = []
        self.limit: int | None = None
        self.healthy = True
        self._ids = itertools.count(1)
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/health", self._health)
        app.router.add_route("POST", "/{topic}", self._publish)
        app.router.add_route("PUT", "/{topic}", self._publish)
        return app

    def _error(self, status: int, code: int, error: str) -> web.Response:
        body = {"code": code, "http": status, "error": error, "link": "https://ntfy.sh/docs/publish/"}
        return self.respond(status, body)

    async def _health(self, request: web.Request) -> web.Response:
        return self.respond(200, {"healthy": self.healthy})

    def _authorized(self, request: web.Request, topic: str) -> web.Response | None:
        header = request.headers.get("Authorization")
        if header is not None:
            valid = {
                f"Bearer {self.TOKEN}",
                "Basic " + base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode(),
            }
            if header not in valid:
                return self._error(401, 40101, "unauthorized")
            return None
        if topic == self.PROTECTED:
            return self._error(403, 40301, "forbidden")
        return None

    async def _publish(self, request: web.Request) -> web.Response:
        topic = request.match_info["topic"]
        refused = self._authorized(request, topic)
        if refused is not None:
            return refused
        body = (await request.read()).decode("utf-8")
        raw_priority = request.headers.get("Priority", "3")
        if raw_priority.lower() not in _PRIORITIES:
            return self._error(400, 40007, "invalid request: priority invalid")
        tags = [tag for tag in (_decoded(request.headers.get("Tags")) or "").split(",") if tag]
        item = Published(
            topic,
            dict(request.headers),
            body,
            _decoded(request.headers.get("Title")),
            tags,
            _PRIORITIES[raw_priority.lower()],
        )
        self.published.append(item)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if self.limit is not None and len(self.published) > self.limit:
            return self._error(429, 42901, "limit reached: too many requests, please be nice")
        answer: dict[str, Any] = {
            "id": f"msg{next(self._ids):07d}",
            "time": 1767225600,
            "expires": 1767268800,
            "event": "message",
            "topic": topic,
            "message": body,
        }
        if item.title:
            answer["title"] = item.title
        if tags:
            answer["tags"] = tags
        if item.priority != 3:
            answer["priority"] = item.priority
        return self.respond(200, answer)


@pytest.fixture
def ntfy() -> Iterator[FakeNtfy]:
    fake = FakeNtfy()
    with serve_app(fake.app()) as url:
        fake.url = url
        yield fake
