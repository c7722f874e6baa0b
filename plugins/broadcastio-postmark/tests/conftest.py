"""A local stand-in for Postmark's Email API, in Postmark's request and response shapes.

It checks ``X-Postmark-Server-Token`` the way Postmark does (401 with
ErrorCode 10), validates From/To/body as Postmark does (422 with
ErrorCode 300), refuses an unknown sender signature (422, ErrorCode 400),
answers 200 with ``{"To", "SubmittedAt", "MessageID", "ErrorCode": 0,
"Message": "OK"}``, serves ``GET /server`` for the health check, and plays
scripted replies queued by a test.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import serve_app
from broadcastio_postmark import PostmarkProvider

SERVER_TOKEN = "0f6c1d2e-postmark-server-token-7a3b"
SENDER = "Alerts <alerts@example.com>"
SIGNATURE = "alerts@example.com"
TO = "ada@example.org"


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def postmark_error(code: int, message: str) -> dict[str, Any]:
    """An error body as Postmark writes it."""
    return {"ErrorCode": code, "Message": message}


class FakePostmark:
    SERVER_TOKEN = SERVER_TOKEN
    SENDER = SENDER
    TO = TO

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: collections.deque[Reply] = collections.deque()
        self._ids = itertools.count(1)

    def reply(self, status: int, body: dict[str, Any] | str, *, delay: float = 0.0, **headers: str) -> None:
        self.replies.append(Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()}, delay))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/email", self._email)
        app.router.add_get("/server", self._server)
        return app

    @staticmethod
    def _answer(status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> web.Response:
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers, content_type="text/html")
        return web.Response(status=status, text=json.dumps(body), headers=headers, content_type="application/json")

    @staticmethod
    def _authorized(request: web.Request) -> bool:
        return request.headers.get("X-Postmark-Server-Token") == SERVER_TOKEN

    def _refused(self) -> web.Response:
        return self._answer(
            401,
            postmark_error(
                10, "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."
            ),
        )

    async def _email(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused()
        if request.content_type != "application/json" or "application/json" not in request.headers.get("Accept", ""):
            return self._answer(422, postmark_error(409, "JSON data required"))
        body = json.loads(await request.read())
        self.received.append(body)
        self.headers.append(dict(request.headers))
        if self.replies:
            reply = self.replies.popleft()
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return self._answer(reply.status, reply.body, reply.headers)
        if "@" not in str(body.get("To", "")):
            return self._answer(422, postmark_error(300, "Error parsing 'To': Illegal email address."))
        if SIGNATURE not in str(body.get("From", "")):
            return self._answer(
                422, postmark_error(400, "The 'From' address you supplied is not a Sender Signature on your account.")
            )
        if not body.get("TextBody") and not body.get("HtmlBody"):
            return self._answer(422, postmark_error(300, "Provide either email TextBody or HtmlBody or both."))
        number = next(self._ids)
        return self._answer(
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
        return self._answer(200, {"ID": 1, "Name": "broadcastio tests", "ApiTokens": ["***"], "Color": "blue"})


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

    def make(**overrides: Any) -> PostmarkProvider:
        settings: dict[str, Any] = {
            "server_token": SERVER_TOKEN,
            "from_address": SENDER,
            "base_url": postmark_url,
            "timeout": 5.0,
        }
        settings.update(overrides)
        return PostmarkProvider(**settings)

    return make
