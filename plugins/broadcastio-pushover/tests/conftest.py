"""A local stand-in for the Pushover Message API, in Pushover's request and response shapes.

Written from https://pushover.net/api: a form POST to ``/1/messages.json``
with ``token``, ``user`` and ``message``; ``{"status": 1, "request": ...}``
on success; a 4xx with ``status: 0``, an ``errors`` list and the refused
field set to ``"invalid"`` otherwise; ``X-Limit-App-*`` headers on every
answer; ``GET /1/apps/limits.json?token=`` for the app's monthly quota.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping

import pytest
from aiohttp import web
from broadcastio.testing.servers import Body, ScriptedReplies, serve_app
from broadcastio_pushover import PushoverProvider

TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
GROUP = "gznej3rKEVAvPUxu9vvNnqpmZpokzF"


class FakePushover(ScriptedReplies):
    """The parts of Pushover's API the provider uses.

    Tests reach the constants through the fixture (``pushover.TOKEN``).
    """

    TOKEN = TOKEN
    USER = USER
    GROUP = GROUP

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, str]] = []
        self.content_types: list[str] = []
        self.limit = 10000
        self.remaining = 7496
        self.reset = 1_900_000_000
        self.limit_checks = 0
        self._requests = itertools.count(1)

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

    def respond(self, status: int, body: Body = None, headers: Mapping[str, str] | None = None) -> web.Response:
        """Every Pushover answer, scripted ones too, carries the app-limit headers."""
        return super().respond(status, body, {**self._limit_headers(), **(headers or {})})

    def _invalid(self, field_name: str, error: str) -> web.Response:
        return self.respond(400, {field_name: "invalid", "errors": [error], "status": 0, "request": str(uuid.uuid4())})

    async def _messages(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.received.append(form)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if form.get("token") != TOKEN:
            return self._invalid("token", "application token is invalid, see https://pushover.net/api")
        if form.get("user") not in (USER, GROUP):
            return self._invalid("user", "user identifier is not a valid user, group, or subscribed user key")
        if not form.get("message"):
            return self._invalid("message", "message cannot be blank")
        if self.remaining <= 0:
            return self.respond(429, {"errors": ["application is over its monthly limit"], "status": 0})
        self.remaining -= 1
        return self.respond(200, {"status": 1, "request": f"e460545a-8e5f-4e5f-9b5e-{next(self._requests):012d}"})

    async def _limits(self, request: web.Request) -> web.Response:
        self.limit_checks += 1
        if request.query.get("token") != TOKEN:
            return self._invalid("token", "application token is invalid, see https://pushover.net/api")
        return self.respond(
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
    return functools.partial(PushoverProvider, token=TOKEN, base_url=pushover_url, timeout=5.0)
