"""A local stand-in for Mailgun's Messages API, in Mailgun's request and response shapes.

It checks basic auth ``api:<key>`` as Mailgun does (401 ``Forbidden``),
knows one domain (404 for others), parses the multipart form, requires
``from``, ``to`` and a body (400 ``{"message": ...}``), answers
``{"id": "<...@domain>", "message": "Queued. Thank you."}``, serves
``GET /v3/domains/{domain}`` for the health check, and plays scripted replies.
"""

from __future__ import annotations

import base64
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_mailgun import MailgunProvider

API_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
DOMAIN = "mg.example.com"
SENDER = "Alerts <alerts@mg.example.com>"
TO = "ada@example.org"


@dataclass
class Received:
    fields: list[tuple[str, str]]
    files: list[tuple[str, str, str, bytes]]  # (field, filename, content type, content)
    content_type: str


class FakeMailgun(ScriptedReplies):
    text_type = "text/plain"  # Mailgun's bare answers (``Forbidden``)

    API_KEY = API_KEY
    DOMAIN = DOMAIN
    SENDER = SENDER
    TO = TO

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self.domain_state = "active"
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/{domain}/messages", self._messages)
        app.router.add_get("/v3/domains/{domain}", self._domain)
        return app

    @staticmethod
    def _authorized(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == "api" and password == API_KEY

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.respond(401, "Forbidden")
        if request.match_info["domain"] != DOMAIN:
            return self.respond(404, {"message": "Domain not found: " + request.match_info["domain"]})
        form = await request.post()
        fields, files = [], []
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files.append((key, value.filename, value.content_type, value.file.read()))
            else:
                fields.append((key, str(value)))
        self.received.append(Received(fields, files, request.content_type))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        values = dict(fields)
        for required in ("from", "to"):
            if not values.get(required):
                return self.respond(400, {"message": f"'{required}' parameter is missing"})
        if "@" not in values["to"]:
            return self.respond(400, {"message": "to parameter is not a valid address. please check documentation"})
        if not values.get("text") and not values.get("html"):
            return self.respond(
                400, {"message": "Need at least one of 'text', 'html' or 'template' parameters specified"}
            )
        return self.respond(
            200, {"id": f"<20261201210000.{next(self._ids)}.1@{DOMAIN}>", "message": "Queued. Thank you."}
        )

    async def _domain(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.respond(401, "Forbidden")
        if request.match_info["domain"] != DOMAIN:
            return self.respond(404, {"message": "Domain not found"})
        return self.respond(
            200,
            {
                "domain": {"name": DOMAIN, "state": self.domain_state, "type": "custom", "spam_action": "disabled"},
                "receiving_dns_records": [],
                "sending_dns_records": [],
            },
        )


@pytest.fixture
def mailgun() -> FakeMailgun:
    return FakeMailgun()


@pytest.fixture
def mailgun_url(mailgun: FakeMailgun) -> Iterator[str]:
    with serve_app(mailgun.app()) as url:
        yield url


@pytest.fixture
def make_provider(mailgun_url: str) -> Callable[..., MailgunProvider]:
    """Build a provider wired to the local Mailgun; keyword arguments override the defaults."""
    return functools.partial(
        MailgunProvider, api_key=API_KEY, domain=DOMAIN, from_address=SENDER, base_url=mailgun_url, timeout=5.0
    )
