"""A local stand-in for the Pushover Message API, in Pushover's request and response shapes.

Written from https://pushover.net/api: a form POST to ``/1/messages.json``
with ``token``, ``user`` and ``message``; ``{"status": 1, "request": ...}``
on success; a 4xx with ``status: 0``, an ``errors`` list and the refused
field set to ``"invalid"`` otherwise; ``X-Limit-App-*`` headers on every
answer; ``GET /1/apps/limits.json?token=`` for the app's monthly quota.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import serve_app
from broadcastio_pushover import PushoverProvider

TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
GROUP = "gznej3rKEVAvPUxu9vvNnqpmZpokzF"


@dataclass
class Reply:
    """A scripted answer to the next message request."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakePushover:
    """The parts of Pushover's API the provider uses.

    Tests reach the constants through the fixture (``pushover.TOKEN``).
    """

    TOKEN = TOKEN
    USER = USER
    GROUP = GROUP

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.content_types: list[str] = []
        self.replies: collections.deque[Reply] = collections.deque()
        self.limit = 10000
        self.remaining = 7496
        self.reset = 1_900_000_000
        self.limit_checks = 0
        self._requests = itertools.count(1)

    def reply(self, status: int, body: dict[str, Any] | str, *, delay: float = 0.0, **headers: str) -> None:
        named = {key.replace("_", "-"): value for key, value in headers.items()}
        self.replies.append(Reply(status, body, named, delay))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/1/messages.json", self._messages)
        app.router.add_get("/1/apps/limits.json", self._limits)
        return app

    def _limit_headers(self) -> dict[str, str]:
        return {
            "X-Limit-App-Limit": str(self.limit),
            "X-Limit-App-Remaining": str(self.remaining),
            "X-Limit-App-Reset": str(self.reset),
        }

    def _json(self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> web.Response:
        merged = {**self._limit_headers(), **(headers or {})}
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=merged, content_type="text/html")
        return web.Response(status=status, text=json.dumps(body), headers=merged, content_type="application/json")

    def _invalid(self, field_name: str, error: str) -> web.Response:
        return self._json(400, {field_name: "invalid", "errors": [error], "status": 0, "request": str(uuid.uuid4())})

    async def _messages(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.received.append(form)
        if self.replies:
            reply = self.replies.popleft()
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return self._json(reply.status, reply.body, reply.headers)
        if form.get("token") != TOKEN:
            return self._invalid("token", "application token is invalid, see https://pushover.net/api")
        if form.get("user") not in (USER, GROUP):
            return self._invalid("user", "user identifier is not a valid user, group, or subscribed user key")
        if not form.get("message"):
            return self._invalid("message", "message cannot be blank")
        if self.remaining <= 0:
            return self._json(429, {"errors": ["application is over its monthly limit"], "status": 0})
        self.remaining -= 1
        return self._json(200, {"status": 1, "request": f"e460545a-8e5f-4e5f-9b5e-{next(self._requests):012d}"})

    async def _limits(self, request: web.Request) -> web.Response:
        self.limit_checks += 1
        if request.query.get("token") != TOKEN:
            return self._invalid("token", "application token is invalid, see https://pushover.net/api")
        return self._json(
            200,
            {
                "limit": self.limit,
                "remaining": self.remaining,
                "reset": self.reset,
                "status": 1,
                "request": str(uuid.uuid4()),
            },
        )


@pytest.fixture
def pushover() -> FakePushover:
    return FakePushover()


@pytest.fixture
def pushover_url(pushover: FakePushover) -> Iterator[str]:
    with serve_app(pushover.app()) as url:
        yield url


@pytest.fixture
def make_provider(pushover_url: str) -> Callable[..., PushoverProvider]:
    """Build a provider wired to the local Pushover; keyword arguments override the defaults."""

    def make(**overrides: Any) -> PushoverProvider:
        settings: dict[str, Any] = {"token": TOKEN, "base_url": pushover_url, "timeout": 5.0}
        settings.update(overrides)
        return PushoverProvider(**settings)

    return make
