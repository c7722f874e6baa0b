"""A local stand-in for the two kinds of Teams webhook, in their real shapes.

Workflows (Power Automate / Logic Apps "When a Teams webhook request is
received"): ``POST /workflows/<id>/triggers/manual/paths/invoke?api-version=...&sig=<signature>``
answers 202 Accepted with no body; a wrong signature 401 and an unknown
workflow 404 with Logic Apps errors ``{"error": {"code", "message"}}``; a
body that is not a message with an Adaptive Card 400. Legacy incoming
webhook (``/webhookb2/.../IncomingWebhook/...``): 200 ``1``, and relay
throttling reported as 200 ``Microsoft Teams endpoint returned HTTP error 429``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app


@dataclass
class Post:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeTeams(ScriptedReplies):
    text_type = "text/plain"  # the legacy webhook's bare answers (``1``)

    WORKFLOW = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    SIG = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd"
    LEGACY_PATH = (
        "/webhookb2/11111111-2222-3333-4444-555555555555@66666666-7777/IncomingWebhook/abcdef0123456789/99999999-8888"
    )

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[Post] = []
        self.url = ""

    @property
    def workflow_url(self) -> str:
        return (
            f"{self.url}/workflows/{self.WORKFLOW}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.SIG}"
        )

    @property
    def legacy_url(self) -> str:
        return self.url + self.LEGACY_PATH

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/workflows/{workflow}/triggers/manual/paths/invoke", self._workflow)
        app.router.add_route("*", "/webhookb2/{tail:.*}", self._legacy)
        return app

    def _error(self, status: int, code: str, message: str) -> web.Response:
        return self.respond(status, {"error": {"code": code, "message": message}})

    @staticmethod
    def _is_card_message(body: Any) -> bool:
        if not isinstance(body, dict) or body.get("type") != "message":
            return False
        attachments = body.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            return False
        card = attachments[0]
        return (
            card.get("contentType") == "application/vnd.microsoft.card.adaptive"
            and isinstance(card.get("content"), dict)
            and card["content"].get("type") == "AdaptiveCard"
        )

    async def _workflow(self, request: web.Request) -> web.Response:
        if request.match_info["workflow"] != self.WORKFLOW:
            return self._error(
                404, "WorkflowNotFound", f"The workflow '{request.match_info['workflow']}' could not be found."
            )
        if request.query.get("sig") != self.SIG:
            return self._error(
                401, "DirectApiInvalidAuthorizationSignature", "The provided authorization signature is not valid."
            )
        if request.method != "POST":
            return self._error(
                400,
                "TriggerRequestMethodNotValid",
                f"The HTTP method for this request is not valid: expected 'Post' and actual '{request.method}'.",
            )
        body = await self._record(request)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if not self._is_card_message(body):
            return self._error(400, "TriggerInputSchemaMismatch", "The input body for trigger 'manual' did not match.")
        return web.Response(status=202)

    async def _legacy(self, request: web.Request) -> web.Response:
        if request.path != self.LEGACY_PATH:
            return web.Response(status=404, text="Webhook Not Found")
        if request.method != "POST":
            return web.Response(status=405, text="Method Not Allowed")
        body = await self._record(request)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if not self._is_card_message(body):
            return web.Response(status=400, text="Bad payload received by generic incoming webhook.")
        return web.Response(status=200, text="1")

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        self.posts.append(Post(request.path, dict(request.query), dict(request.headers), body))
        return body


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    fake = FakeTeams()
    with serve_app(fake.app()) as url:
        fake.url = url
        yield fake
