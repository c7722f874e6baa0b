"""A local stand-in for the Vonage Messages API (and the Account API balance), in Vonage's shapes.

It checks basic auth ``api_key:api_secret`` as Vonage does (401 problem
JSON with ``#unauthorized``), validates the SMS body (422 problem JSON
with ``#1020`` invalid params), answers 202 ``{"message_uuid"}``, serves
``GET /account/get-balance`` for the health check, and plays scripted replies.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import serve_app
from broadcastio_vonage import VonageSmsProvider

API_KEY = "abcd1234"
API_SECRET = "ABCDEFGH01234abc"
FROM = "+447700900001"
TO = "+447700900000"
ERRORS = "https://developer.vonage.com/api-errors"


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def problem(code: str, title: str, detail: str, *, family: str = "messages") -> dict[str, Any]:
    """An RFC 7807 problem body as Vonage writes it."""
    base = f"{ERRORS}/{family}" if family else ERRORS
    return {"type": f"{base}#{code}", "title": title, "detail": detail, "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"}


class FakeVonage:
    API_KEY = API_KEY
    API_SECRET = API_SECRET
    FROM = FROM
    TO = TO

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: collections.deque[Reply] = collections.deque()
        self.balance = 10.28
        self._ids = itertools.count(1)

    def reply(self, status: int, body: dict[str, Any] | str, *, delay: float = 0.0, **headers: str) -> None:
        self.replies.append(Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()}, delay))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/account/get-balance", self._balance)
        return app

    @staticmethod
    def _answer(status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> web.Response:
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers, content_type="text/html")
        content_type = "application/problem+json" if status >= 400 else "application/json"
        return web.Response(status=status, text=json.dumps(body), headers=headers, content_type=content_type)

    @staticmethod
    def _authorized(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        return key == API_KEY and secret == API_SECRET

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(
                401, problem("unauthorized", "Unauthorized", "You did not provide correct credentials.", family="")
            )
        body = json.loads(await request.read())
        self.received.append(body)
        self.headers.append(dict(request.headers))
        if self.replies:
            reply = self.replies.popleft()
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return self._answer(reply.status, reply.body, reply.headers)
        invalid = [
            name
            for name, ok in (
                ("channel", body.get("channel") == "sms"),
                ("message_type", body.get("message_type") == "text"),
                ("to", str(body.get("to", "")).isdigit()),
                ("from", bool(body.get("from"))),
                ("text", bool(body.get("text"))),
            )
            if not ok
        ]
        if invalid:
            detail = f"The value of one or more parameters is invalid: {', '.join(invalid)}"
            return self._answer(422, {**problem("1020", "Invalid params", detail), "invalid_parameters": invalid})
        return self._answer(202, {"message_uuid": f"aaaaaaaa-bbbb-cccc-dddd-{next(self._ids):012d}"})

    async def _balance(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(401, {"error-code": "401", "error-code-label": "authentication failed"})
        return self._answer(200, {"value": self.balance, "autoReload": False})


@pytest.fixture
def vonage() -> FakeVonage:
    return FakeVonage()


@pytest.fixture
def vonage_url(vonage: FakeVonage) -> Iterator[str]:
    with serve_app(vonage.app()) as url:
        yield url


@pytest.fixture
def make_provider(vonage_url: str) -> Callable[..., VonageSmsProvider]:
    """Build a provider wired to the local Vonage; keyword arguments override the defaults."""

    def make(**overrides: Any) -> VonageSmsProvider:
        settings: dict[str, Any] = {
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "from_number": FROM,
            "base_url": vonage_url,
            "account_url": vonage_url,
            "timeout": 5.0,
        }
        settings.update(overrides)
        return VonageSmsProvider(**settings)

    return make
