"""Local peers in the shapes of node-whatsapp and the Graph API.

Both run as real aiohttp servers on 127.0.0.1 (``serve_app``, from the
conftest fixtures), in a thread with their own loop; tests script their
answers and read what they got. The module name is unique across the
repository because tests import it from ``sys.path``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

NODE_TOKEN = "node-secret-token-4242"
GRAPH_TOKEN = "EAAG-graph-secret-token-7777"
PHONE_NUMBER_ID = "106540352242922"
API_VERSION = "v21.0"


@dataclass
class Reply:
    """One scripted answer: status, JSON body, headers, and a delay before it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None


def _respond(reply: Reply) -> web.Response:
    if reply.raw is not None:
        return web.Response(status=reply.status, text=reply.raw, headers=reply.headers)
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


@dataclass
class FakeNode:
    """node-whatsapp's HTTP API: bearer auth, Idempotency-Key replay, scripted errors."""

    token: str = NODE_TOKEN
    state: str = "ready"
    reason: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: collections.deque[Reply] = field(default_factory=collections.deque)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": {"code": "UNAUTHORIZED", "message": "invalid bearer token"}}, status=401)
        return None

    async def messages(self, request: web.Request) -> web.Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        self.requests.append({"body": body, "headers": dict(request.headers)})
        if key is not None and key in self.results:
            return web.json_response({**self.results[key], "replayed": True})
        reply = self.replies.popleft() if self.replies else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return _respond(reply)
        result = {
            "id": f"true_{body['to']}_FAKE{next(self.counter)}",
            "to": body["to"],
            "timestamp": "2026-01-01T00:00:00Z",
        }
        self.sent.append(body)
        if key is not None:
            self.results[key] = result
        return web.json_response({**result, "replayed": False})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def status(self, request: web.Request) -> web.Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        return web.json_response({"state": self.state, "reason": self.reason, "since": "2026-01-01T00:00:00Z"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/messages", self.messages)
        app.router.add_get("/status", self.status)
        app.router.add_get("/health", self.health)
        return app


@dataclass
class FakeGraph:
    """The Graph API endpoints the Cloud provider uses, for one phone number id."""

    token: str = GRAPH_TOKEN
    requests: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    message_replies: collections.deque[Reply] = field(default_factory=collections.deque)
    upload_replies: collections.deque[Reply] = field(default_factory=collections.deque)
    health_replies: collections.deque[Reply] = field(default_factory=collections.deque)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "Ax1",
            }
            return web.json_response({"error": error}, status=401)
        return None

    async def messages(self, request: web.Request) -> web.Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        body = await request.json()
        self.requests.append({"path": request.path, "body": body})
        reply = self.message_replies.popleft() if self.message_replies else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200 or reply.body is not None:
            return _respond(reply)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": f"wamid.FAKE{next(self.counter)}"}],
            }
        )

    async def media(self, request: web.Request) -> web.Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        form = await request.post()
        file = form.get("file")
        upload = {
            "messaging_product": form.get("messaging_product"),
            "type": form.get("type"),
            "filename": getattr(file, "filename", None),
            "content_type": getattr(file, "content_type", None),
            "content": file.file.read() if isinstance(file, web.FileField) else None,
        }
        self.uploads.append(upload)
        reply = self.upload_replies.popleft() if self.upload_replies else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200 or reply.body is not None:
            return _respond(reply)
        return web.json_response({"id": f"{next(self.counter)}0000000001"})

    async def phone_number(self, request: web.Request) -> web.Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        reply = self.health_replies.popleft() if self.health_replies else Reply()
        if reply.status != 200 or reply.body is not None:
            return _respond(reply)
        return web.json_response(
            {
                "verified_name": "Broadcastio Test",
                "display_phone_number": "+1 555-010-0000",
                "quality_rating": "GREEN",
                "id": PHONE_NUMBER_ID,
            }
        )

    def app(self) -> web.Application:
        app = web.Application()
        root = f"/{API_VERSION}/{PHONE_NUMBER_ID}"
        app.router.add_post(f"{root}/messages", self.messages)
        app.router.add_post(f"{root}/media", self.media)
        app.router.add_get(root, self.phone_number)
        return app


def graph_error(code: int, message: str = "error", *, status: int = 400, subcode: int | None = None) -> Reply:
    """A Graph API error answer."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status=status, body={"error": error})


def node_error(code: str, status: int, *, retry_after: int | None = None, field: str | None = None) -> Reply:
    """A node-whatsapp error answer."""
    error: dict[str, Any] = {"code": code, "message": f"{code.lower()} happened"}
    if field is not None:
        error["field"] = field
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Reply(status=status, body={"error": error}, headers=headers)
