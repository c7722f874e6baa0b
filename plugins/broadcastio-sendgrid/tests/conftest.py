"""A local stand-in for SendGrid's v3 Mail Send API, in SendGrid's request and response shapes.

It checks the Bearer key the way SendGrid does (401 with an ``errors``
array), validates the parts of the body SendGrid requires, answers 202
with an ``X-Message-Id`` header and an empty body, serves ``GET /v3/scopes``
for the health check, and plays scripted replies queued by a test.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_sendgrid import SendGridProvider

API_KEY = "SG.test-key-id.9d2f0c7a4b1e8f3a6c5d"
SENDER = "Alerts <alerts@example.com>"
TO = "ada@example.org"


def sendgrid_errors(*errors: tuple[str, str | None]) -> dict[str, Any]:
    """An error body as SendGrid writes it."""
    return {"errors": [{"message": message, "field": field_, "help": None} for message, field_ in errors]}


class FakeSendGrid(ScriptedReplies):
    """The parts of SendGrid's v3 API the provider uses (constants reached through the fixture)."""

    API_KEY = API_KEY
    SENDER = SENDER
    TO = TO

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.scopes = ["mail.send", "user.profile.read"]
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/mail/send", self._mail_send)
        app.router.add_get("/v3/scopes", self._scopes)
        return app

    @staticmethod
    def _authorized(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}"

    async def _mail_send(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.respond(
                401, sendgrid_errors(("The provided authorization grant is invalid, expired, or revoked", None))
            )
        if request.content_type != "application/json":
            return self.respond(400, sendgrid_errors(("Content-Type should be application/json.", None)))
        body = json.loads(await request.read())
        self.received.append(body)
        self.headers.append(dict(request.headers))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        problems = []
        if not body.get("personalizations"):
            problems.append(
                (
                    "The personalizations field is required and must have at least one personalization.",
                    "personalizations",
                )
            )
        if not isinstance(body.get("from"), dict) or not body["from"].get("email"):
            problems.append(("The from object must be provided for every email send.", "from"))
        if not body.get("subject"):
            problems.append(("The subject is required.", "subject"))
        content = body.get("content") or []
        if not content or any(not item.get("value") for item in content):
            problems.append(("The content value must be a string at least one character in length.", "content.0.value"))
        if content and content[0].get("type") != "text/plain" and any(i.get("type") == "text/plain" for i in content):
            problems.append(("If present, text/plain content must be first.", "content.0.type"))
        if problems:
            return self.respond(400, sendgrid_errors(*problems))
        return self.respond(202, None, {"X-Message-Id": f"sgmsg{next(self._ids):06d}"})

    async def _scopes(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.respond(401, sendgrid_errors(("authorization required", None)))
        return self.respond(200, {"scopes": self.scopes})


@pytest.fixture
def sendgrid() -> FakeSendGrid:
    return FakeSendGrid()


@pytest.fixture
def sendgrid_url(sendgrid: FakeSendGrid) -> Iterator[str]:
    with serve_app(sendgrid.app()) as url:
        yield url


@pytest.fixture
def make_provider(sendgrid_url: str) -> Callable[..., SendGridProvider]:
    """Build a provider wired to the local SendGrid; keyword arguments override the defaults."""
    return functools.partial(SendGridProvider, api_key=API_KEY, from_address=SENDER, base_url=sendgrid_url, timeout=5.0)
