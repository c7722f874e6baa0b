"""A local stand-in for the Vonage Messages API (and the Account API balance), in Vonage's shapes.

It checks basic auth ``api_key:api_secret`` as Vonage does (401 problem
JSON with ``#unauthorized``), validates the SMS body (422 problem JSON
with ``#1020`` invalid params), answers 202 ``{"message_uuid"}``, serves
``GET /account/get-balance`` for the health check, and plays scripted replies.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import Body, ScriptedReplies, respond, serve_app
from broadcastio_vonage import VonageSmsProvider

API_KEY = "abcd1234"
API_SECRET = "ABCDEFGH01234abc"
FROM = "+447700900001"
TO = "+447700900000"
ERRORS = "https://developer.vonage.com/api-errors"


def problem(code: str, title: str, detail: str, *, family: str = "messages") -> dict[str, Any]:
    """An RFC 7807 problem body as Vonage writes it."""
    base = f"{ERRORS}/{family}" if family else ERRORS
    return {"type": f"{base}#{code}", "title": title, "detail": detail, "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"}


class FakeVonage(ScriptedReplies):
    API_KEY = API_KEY
    API_SECRET = API_SECRET
    FROM = FROM
    TO = TO

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.balance = 10.28
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/account/get-balance", self._balance)
        return app

    def respond(self, status: int, body: Body = None, headers: Mapping[str, str] | None = None) -> web.Response:
        """Vonage sends its errors as RFC 7807 ``application/problem+json``."""
        json_type = "application/problem+json" if status >= 400 else "application/json"
        return respond(status, body, headers, json_type=json_type)

    @staticmethod
    def _authorized(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        return key == API_KEY and secret == API_SECRET

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.respond(
                401, problem("unauthorized", "Unauthorized", "You did not provide correct credentials.", family="")
            )
        body = json.loads(await request.read())
        self.received.append(body)
        self.headers.append(dict(request.headers))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
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
            return self.respond(422, {**problem("1020", "Invalid params", detail), "invalid_parameters": invalid})
        return self.respond(202, {"message_uuid": f"aaaaaaaa-bbbb-cccc-dddd-{next(self._ids):012d}"})

    async def _balance(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.respond(401, {"error-code": "401", "error-code-label": "authentication failed"})
        return self.respond(200, {"value": self.balance, "autoReload": False})


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
    return functools.partial(
        VonageSmsProvider,
        api_key=API_KEY,
        api_secret=API_SECRET,
        from_number=FROM,
        base_url=vonage_url,
        account_url=vonage_url,
        timeout=5.0,
    )
