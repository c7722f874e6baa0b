"""A local stand-in for the Telegram Bot API, in its request and response shapes.

Routes are ``/bot<token>/<method>``; a wrong token gets 401 as from
Telegram, unknown chats "chat not found", a blocking user "bot was blocked
by the user", and ``sendDocument`` parses the multipart upload and keeps
the file bytes. Tests queue scripted answers (errors, slow replies).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_telegram import TelegramProvider

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@dataclass
class Call:
    """One Bot API call the server received."""

    method: str
    fields: dict[str, str]
    document: tuple[str, str, bytes] | None = None  # filename, content type, bytes
    content_type: str = ""


class FakeBotApi(ScriptedReplies):
    """The Bot API methods the provider uses.

    Constants are attributes (``bot.TOKEN``): with ``--import-mode=importlib``
    a test module cannot import conftest.
    """

    TOKEN = TOKEN
    CHAT = "123456789"
    CHANNEL = "@broadcastio_news"
    BLOCKED_CHAT = "666000666"
    MIGRATED_GROUP = "-4242"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.known_chats = {self.CHAT, self.CHANNEL, "-1001234567890"}
        self._message_ids = itertools.count(1)

    def reply_error(self, code: int, description: str, **parameters: Any) -> None:
        """Answer the next send call with a Bot API error."""
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.reply(code, body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        return app

    def _error(self, code: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return self.respond(code, body)

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.TOKEN:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        if method == "getMe":
            return self.respond(200, {"ok": True, "result": self._bot()})
        if method not in ("sendMessage", "sendDocument"):
            return self._error(404, "Not Found")
        call = await self._parse(method, request)
        self.calls.append(call)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        return self._deliver(call)

    @staticmethod
    async def _parse(method: str, request: web.Request) -> Call:
        if request.content_type == "application/json":
            data = await request.json()
            return Call(method, {key: str(value) for key, value in data.items()}, content_type=request.content_type)
        fields: dict[str, str] = {}
        document = None
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                document = (value.filename, value.content_type, value.file.read())
            else:
                fields[key] = str(value)
        return Call(method, fields, document, content_type=request.content_type)

    def _deliver(self, call: Call) -> web.Response:
        chat = call.fields.get("chat_id", "")
        if chat == self.BLOCKED_CHAT:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if chat == self.MIGRATED_GROUP:
            return self._error(
                400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1004242
            )
        if chat not in self.known_chats:
            return self._error(400, "Bad Request: chat not found")
        result: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self._bot(),
            "chat": {"id": chat, "type": "private", "first_name": "Ada"},
            "date": 1_767_225_600,
        }
        if call.method == "sendMessage":
            if not call.fields.get("text"):
                return self._error(400, "Bad Request: message text is empty")
            result["text"] = call.fields["text"]
        else:
            if call.document is None:
                return self._error(400, "Bad Request: there is no document in the request")
            filename, mime_type, content = call.document
            result["document"] = {
                "file_name": filename,
                "mime_type": mime_type,
                "file_id": f"BQACAgIAAxkDAAI{len(self.calls)}",
                "file_unique_id": f"AgAD{len(self.calls)}",
                "file_size": len(content),
            }
            if "caption" in call.fields:
                result["caption"] = call.fields["caption"]
        return self.respond(200, {"ok": True, "result": result})

    @staticmethod
    def _bot() -> dict[str, Any]:
        return {"id": 123456789, "is_bot": True, "first_name": "broadcastio", "username": "broadcastio_test_bot"}


@pytest.fixture
def bot() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
def bot_url(bot: FakeBotApi) -> Iterator[str]:
    with serve_app(bot.app()) as url:
        yield url


@pytest.fixture
def make_provider(bot_url: str) -> Callable[..., TelegramProvider]:
    """Build a provider wired to the local Bot API; keyword arguments override the defaults."""
    return functools.partial(TelegramProvider, token=TOKEN, base_url=bot_url, timeout=5.0)
