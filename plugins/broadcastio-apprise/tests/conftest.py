"""Local servers for three Apprise services, in the shapes those services document.

- ``json://``: Apprise's JSON webhook, a POST of ``{"version", "title",
  "message", "attachments", "type"}`` to the URL's path.
- ``ntfy://``: a self-hosted ntfy server; Apprise publishes as JSON (a POST
  to the root with ``topic``, ``title``, ``message``), as ntfy's publish
  docs describe; Basic auth checked, ntfy's error body on refusal.
- ``mailto://``: aiosmtpd, a real SMTP server.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from broadcastio.testing.servers import ScriptedReplies, serve_app

NTFY_USER, NTFY_PASSWORD = "alerts", "ntfy-secret-pw-42"


@dataclass
class Receiver(ScriptedReplies):
    """Records what each service got; answers from a script, then as the service would."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def answer(self, status: int, *, delay: float = 0.0) -> None:
        self.reply(status, {"error": "scripted"}, delay=delay)


class JsonReceiver(Receiver):
    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": await request.json()})
        return await self.scripted() or web.json_response({"ok": True})


class NtfyServer(Receiver):
    _ids = itertools.count(1)

    async def publish(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{NTFY_USER}:{NTFY_PASSWORD}".encode()).decode()
        if authorization != expected:
            return web.json_response({"code": 40101, "http": 401, "error": "unauthorized"}, status=401)
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        now = int(time.time())
        return web.json_response(
            {
                "id": f"msg{next(self._ids)}",
                "time": now,
                "expires": now + 43200,
                "event": "message",
                "topic": body.get("topic"),
                "title": body.get("title"),
                "message": body.get("message"),
            }
        )


@pytest.fixture
def json_receiver() -> Iterator[JsonReceiver]:
    receiver = JsonReceiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    with serve_app(app) as url:
        receiver.url = url
        yield receiver


@pytest.fixture
def ntfy() -> Iterator[NtfyServer]:
    server = NtfyServer()
    app = web.Application()
    app.router.add_post("/", server.publish)
    with serve_app(app) as url:
        server.url = url
        yield server


@dataclass
class Mailbox:
    port: int = 0
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


class _EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: learns the bound port before its self-check."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = _EphemeralController(
        box, hostname="127.0.0.1", port=0, server_hostname="localhost", ready_timeout=10.0
    )
    controller.start()
    box.port = int(controller.port)
    try:
        yield box
    finally:
        controller.stop()
