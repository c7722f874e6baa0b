"""A local stand-in for a Matrix homeserver's client-server API, in the spec's shapes.

``PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}`` checks
the bearer token (401 ``M_MISSING_TOKEN`` / ``M_UNKNOWN_TOKEN``), membership
(403 ``M_FORBIDDEN``) and answers ``{"event_id": ...}``. As the spec asks,
it deduplicates by (access token, txnId): a repeated transaction returns the
first event id and adds no event. ``limit`` events per token answer 429
``M_LIMIT_EXCEEDED`` with ``retry_after_ms``. ``GET /account/whoami``
answers the user id; ``GET /directory/room/{alias}`` resolves ``aliases``
(404 ``M_NOT_FOUND`` otherwise).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app


@dataclass
class Event:
    room_id: str
    txn_id: str
    raw_path: str
    headers: dict[str, str]
    content: dict[str, Any]
    event_id: str


class FakeHomeserver(ScriptedReplies):
    TOKEN = "syt_YnJvYWRjYXN0aW8_AbCdEfGhIjKlMnOpQrSt_0a1b2c"
    USER = "@broadcastio:example.org"
    ROOM = "!AbCdEfGhIjKl:example.org"
    OTHER_ROOM = "!ZyXwVuT:example.org"
    NOT_JOINED = "!NotJoined:example.org"
    ALIAS = "#ops:example.org"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.requests: list[str] = []  # raw paths of every send request, duplicates included
        self.delays: collections.deque[float] = collections.deque()
        self.aliases = {self.ALIAS: self.ROOM}
        self.resolved: list[str] = []  # raw paths of directory look-ups
        self.answered = 0  # send requests fully handled (a late answer included)
        self.transactions: dict[tuple[str, str], str] = {}
        self.joined = {self.ROOM, self.OTHER_ROOM}
        self.limit: int | None = None
        self.retry_after_ms = 1500
        self._ids = itertools.count(1)
        self.url = ""

    def slow(self, seconds: float) -> None:
        """Process the next send (the event is created), then answer it ``seconds`` late."""
        self.delays.append(seconds)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}", self._counted_send)
        app.router.add_get("/_matrix/client/v3/account/whoami", self._whoami)
        app.router.add_get("/_matrix/client/v3/directory/room/{alias}", self._directory)
        return app

    def _auth(self, request: web.Request) -> web.Response | str:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self.respond(401, {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
        token = header.removeprefix("Bearer ")
        if token != self.TOKEN:
            return self.respond(
                401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.", "soft_logout": False}
            )
        return token

    async def _whoami(self, request: web.Request) -> web.Response:
        token = self._auth(request)
        if isinstance(token, web.Response):
            return token
        return self.respond(200, {"user_id": self.USER, "device_id": "BROADCASTIO", "is_guest": False})

    async def _directory(self, request: web.Request) -> web.Response:
        alias = request.match_info["alias"]
        self.resolved.append(request.raw_path)
        room = self.aliases.get(alias)
        if room is None:
            return self.respond(404, {"errcode": "M_NOT_FOUND", "error": f"Room alias {alias} not found"})
        return self.respond(200, {"room_id": room, "servers": ["example.org"]})

    async def _counted_send(self, request: web.Request) -> web.Response:
        try:
            return await self._send(request)
        finally:
            self.answered += 1

    async def _send(self, request: web.Request) -> web.Response:
        token = self._auth(request)
        if isinstance(token, web.Response):
            return token
        self.requests.append(request.raw_path)
        room, txn = request.match_info["room"], request.match_info["txn"]
        if request.match_info["event_type"] != "m.room.message":
            return self.respond(400, {"errcode": "M_UNRECOGNIZED", "error": "unexpected event type"})
        late = self.delays.popleft() if self.delays else 0.0
        response = await self._process(request, token, room, txn)
        if late:
            await asyncio.sleep(late)  # processed (the event exists), answered late
        return response

    async def _process(self, request: web.Request, token: str, room: str, txn: str) -> web.Response:
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        seen = self.transactions.get((token, txn))
        if seen is not None:
            return self.respond(200, {"event_id": seen})
        try:
            content = await request.json()
        except ValueError:
            return self.respond(400, {"errcode": "M_NOT_JSON", "error": "Content not JSON."})
        if room not in self.joined:
            return self.respond(403, {"errcode": "M_FORBIDDEN", "error": f"User {self.USER} not in room {room}"})
        if self.limit is not None and len(self.events) >= self.limit:
            return self.respond(
                429,
                {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": self.retry_after_ms},
            )
        if not isinstance(content.get("body"), str) or content.get("msgtype") not in ("m.text", "m.notice"):
            return self.respond(400, {"errcode": "M_BAD_JSON", "error": "body and msgtype are required"})
        event_id = f"${next(self._ids):08d}abcdefghijklmnopqrstuvwxyz"
        self.transactions[(token, txn)] = event_id
        self.events.append(Event(room, txn, request.raw_path, dict(request.headers), content, event_id))
        return self.respond(200, {"event_id": event_id})


@pytest.fixture
def homeserver() -> Iterator[FakeHomeserver]:
    fake = FakeHomeserver()
    with serve_app(fake.app()) as url:
        fake.url = url
        yield fake
