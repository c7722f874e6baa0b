"""A local stand-in for Slack: the Web API methods and an incoming webhook, in Slack's shapes.

Web API (``/api/<method>``): a bearer token is checked as Slack does
(``not_authed`` without one, ``invalid_auth`` for a wrong one, both HTTP
200), ``chat.postMessage`` takes JSON and answers ``{"ok": true, "channel",
"ts", "message"}`` or ``{"ok": false, "error": ...}``. Incoming webhook
(``/services/T.../B.../<secret>``): 200 ``ok``, or a 4xx/5xx status with the
bare error string as the body. Tests queue scripted answers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any


class FakeSlack(ScriptedReplies):
    """Constants are attributes (``slack.TOKEN``): with importlib mode tests cannot import conftest."""

    TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
    CHANNEL = "C0123ABCDEF"
    ARCHIVED = "C0ARCHIVED1"
    HOOK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self._ts = itertools.count(1)
        self.url = ""

    @property
    def hook_url(self) -> str:
        return self.url + self.HOOK_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._web_api)
        app.router.add_route("*", "/services/{team}/{hook}/{secret}", self._webhook)
        return app

    async def _web_api(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            return self.respond(200, {"ok": False, "error": "not_authed"})
        if authorization != f"Bearer {self.TOKEN}":
            return self.respond(200, {"ok": False, "error": "invalid_auth"})
        method = request.match_info["method"]
        if method == "auth.test":
            return self.respond(
                200,
                {
                    "ok": True,
                    "url": "https://acme.slack.com/",
                    "team": "Acme",
                    "user": "broadcastio",
                    "team_id": "T00000000",
                    "user_id": "U00000000",
                    "bot_id": "B00000000",
                },
            )
        if method != "chat.postMessage":
            return self.respond(200, {"ok": False, "error": "unknown_method"})
        if request.content_type != "application/json":
            return self.respond(200, {"ok": False, "error": "invalid_arguments"})
        body = await request.json()
        self.calls.append(Call(request.path, dict(request.headers), body))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        channel = body.get("channel")
        if channel == self.ARCHIVED:
            return self.respond(200, {"ok": False, "error": "is_archived"})
        if channel != self.CHANNEL:
            return self.respond(200, {"ok": False, "error": "channel_not_found"})
        if not body.get("text"):
            return self.respond(200, {"ok": False, "error": "no_text"})
        ts = f"1767225600.{next(self._ts):06d}"
        return self.respond(
            200,
            {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"type": "message", "text": body["text"], "bot_id": "B00000000", "ts": ts},
            },
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        if request.path != self.HOOK_PATH:
            return web.Response(status=404, text="no_service")
        if request.method != "POST":
            return web.Response(status=405, text="invalid_method")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        self.calls.append(Call(request.path, dict(request.headers), body))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if not isinstance(body, dict) or not body.get("text"):
            return web.Response(status=400, text="no_text")
        return web.Response(status=200, text="ok")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    with serve_app(fake.app()) as url:
        fake.url = url
        yield fake
