"""A local stand-in for Discord's webhook endpoints, in Discord's shapes.

``POST /api/webhooks/{id}/{token}`` (Execute Webhook) takes JSON or a
multipart body (``payload_json`` plus ``files[n]``) and answers 200 with the
message object when ``wait=true``, 204 otherwise; ``GET`` on the same path
returns the webhook object. A wrong token gets 401 ``{"code": 50027}``, an
unknown id 404 ``{"code": 10015}``, an empty message 400 ``{"code": 50006}``.
A per-webhook bucket of ``limit`` requests answers 429 with ``retry_after``
in the body and the ``X-RateLimit-*`` and ``Retry-After`` headers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app


@dataclass
class Call:
    query: dict[str, str]
    headers: dict[str, str]
    payload: dict[str, Any]
    files: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # field, filename, type, bytes


class FakeDiscord(ScriptedReplies):
    HOOK_ID = "1234567890123456789"
    TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcdefghijklmnopqrstuvwx"
    CHANNEL_ID = "987654321098765432"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.limit: int | None = None
        self.reset_after = 2.5
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self.url = ""

    @property
    def hook_url(self) -> str:
        return f"{self.url}/api/webhooks/{self.HOOK_ID}/{self.TOKEN}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/webhooks/{id}/{token}", self._webhook)
        return app

    def _webhook_object(self) -> dict[str, Any]:
        return {
            "id": self.HOOK_ID,
            "type": 1,
            "name": "alerts",
            "channel_id": self.CHANNEL_ID,
            "guild_id": "111111111111111111",
            "token": self.TOKEN,
            "application_id": None,
        }

    async def _webhook(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != self.HOOK_ID:
            return self.respond(404, {"message": "Unknown Webhook", "code": 10015})
        if request.match_info["token"] != self.TOKEN:
            return self.respond(401, {"message": "Invalid Webhook Token", "code": 50027})
        if request.method == "GET":
            return self.respond(200, self._webhook_object())
        if request.method != "POST":
            return self.respond(405, {"message": "405: Method Not Allowed", "code": 0})
        call = await self._parse(request)
        self.calls.append(call)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if self.limit is not None:
            sent = len(self.calls)
            remaining = max(self.limit - sent, 0)
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset-After": str(self.reset_after),
                "X-RateLimit-Bucket": "abcd1234",
            }
            if sent > self.limit:
                headers.update({"Retry-After": str(int(self.reset_after) + 1), "X-RateLimit-Scope": "shared"})
                return self.respond(
                    429,
                    {"message": "You are being rate limited.", "retry_after": self.reset_after, "global": False},
                    headers,
                )
        content = call.payload.get("content") or ""
        if not content and not call.files:
            return self.respond(400, {"message": "Cannot send an empty message", "code": 50006})
        if len(content) > 2000:
            return self.respond(
                400,
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}},
                },
            )
        if call.query.get("wait") != "true":
            return web.Response(status=204)
        message = {
            "id": str(next(self._ids)),
            "type": 0,
            "content": content,
            "channel_id": self.CHANNEL_ID,
            "webhook_id": self.HOOK_ID,
            "author": {"id": self.HOOK_ID, "username": "alerts", "bot": True},
            "attachments": [
                {"id": str(index), "filename": name, "size": len(data)}
                for index, (_, name, _, data) in enumerate(call.files)
            ],
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
        }
        return self.respond(200, message)

    @staticmethod
    async def _parse(request: web.Request) -> Call:
        query = dict(request.query)
        headers = dict(request.headers)
        if request.content_type == "application/json":
            return Call(query, headers, await request.json())
        payload: dict[str, Any] = {}
        files = []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            elif part.filename is not None:
                data = await part.read()
                files.append((str(part.name), part.filename, part.headers.get("Content-Type", ""), bytes(data)))
        return Call(query, headers, payload, files)


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    with serve_app(fake.app()) as url:
        fake.url = url
        yield fake
