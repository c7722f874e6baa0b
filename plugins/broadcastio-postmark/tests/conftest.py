"""A local stand-in for Postmark's Email API, in Postmark's request and response shapes.

It checks ``X-Postmark-Server-Token`` the way Postmark does (401 with
ErrorCode 10), validates From/To/body as Postmark does (422 with
ErrorCode 300), refuses an unknown sender signature (422, ErrorCode 400),
answers 200 with ``{"To", "SubmittedAt", "MessageID", "ErrorCode": 0,
"Message": "OK"}``, serves ``GET /server`` for the health check, and plays
scripted replies queued by a test.
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
from broadcastio_postmark import PostmarkProvider

SERVER_TOKEN = "0f6c1d2e-postmark-server-token-7a3b"
SENDER = "Alerts <alerts@example.com>"
SIGNATURE = "alerts@example.com"
TO = "ada@example.org"


def postmark_error(code: int, message: str) -> dict[str, Any]:
    """An error body as Postmark writes it."""
    return {"ErrorCode": code, "Message": message}


class FakePostmark(ScriptedReplies):
    SERVER_TOKEN = SERVER_TOKEN
    SENDER = SENDER
    TO = TO

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/email", self._email)
        app.router.add_get("/server", self._server)
        return app

    @staticmethod
    def _authorized(request: web.Request) -> bool:
        return request.headers.get("X-Postmark-Server-Token") == SERVER_TOKEN

    def _refused(self) -> web.Response:
        return self.respond(
            401,
            postmark_error(
                10, "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."
            ),
        )

    async def _email(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused()
        if request.content_type != "application/json" or "application/json" not in request.headers.get("Accept", ""):
            return self.respond(422, postmark_error(409, "JSON data required"))
        body = json.loads(await request.read())
        self.received.append(body)
        self.headers.append(dict(request.headers))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if "@" not in str(body.get("To", "")):
            return self.respond(422, postmark_error(300, "Error parsing 'To': Illegal email address."))
        if SIGNATURE not in str(body.get("From", "")):
            return self.respond(
                422, postmark_error(400, "The 'From' address you supplied is not a Sender Signature on your account.")
            )
        if not body.get("TextBody") and not body.get("HtmlBody"):
            return self.respond(422, postmark_error(300, "Provide either email TextBody or HtmlBody or both."))
        number = next(self._ids)
        return self.respond(
            200,
            {
                "To": body["To"],
                "SubmittedAt": "2026-12-01T21:00:00.0000000Z",
                "MessageID": f"b7bc2f4a-e38e-4336-af7d-{number:012d}",
                "ErrorCode": 0,
                "Message": "OK",
            },
        )

    async def _server(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused()
        return self.respond(200, {"ID": 1, "Name": "broadcastio tests", "ApiTokens": ["***"], "Color": "blue"})


@pytest.fixture
def postmark() -> FakePostmark:
    return FakePostmark()


@pytest.fixture
def postmark_url(postmark: FakePostmark) -> Iterator[str]:
    with serve_app(postmark.app()) as url:
        yield url


@pytest.fixture
def make_provider(postmark_url: str) -> Callable[..., PostmarkProvider]:
    """Build a provider wired to the local Postmark; keyword arguments override the defaults."""
    return functools.partial(
        PostmarkProvider, server_token=SERVER_TOKEN, from_address=SENDER, base_url=postmark_url, timeout=5.0
    )
