"""A local stand-in for Resend's Emails API, in Resend's request and response shapes.

It checks the Bearer key as Resend does (401 ``missing_api_key``, 403
``invalid_api_key``), validates the fields Resend requires (422
``missing_required_field`` / ``validation_error``), answers 200 ``{"id"}``,
and implements Resend's documented idempotency: a key already used with
the same payload returns the first response without sending again, with
a different payload 409 ``invalid_idempotent_request``, and while the
first request is still in progress 409 ``concurrent_idempotent_requests``.
``GET /domains`` answers 401 ``restricted_api_key`` to a sending-only key.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_resend import ResendProvider

API_KEY = "re_test_4hX9bK2mQ7pL0sD5"
SENDING_ONLY_KEY = "re_sending_only_8Jd2"
SENDER = "Alerts <alerts@example.com>"
TO = "ada@example.org"


def resend_error(status: int, name: str, message: str) -> dict[str, Any]:
    """An error body as Resend writes it."""
    return {"statusCode": status, "name": name, "message": message}


class FakeResend(ScriptedReplies):
    API_KEY = API_KEY
    SENDING_ONLY_KEY = SENDING_ONLY_KEY
    SENDER = SENDER
    TO = TO

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.sent: list[dict[str, Any]] = []  # emails actually "sent" (idempotent repeats excluded)
        self.send_delay = 0.0
        self._keys: dict[str, tuple[bytes, dict[str, Any] | None]] = {}
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/emails", self._emails)
        app.router.add_get("/domains", self._domains)
        return app

    def _auth_error(self, request: web.Request, *, allowed: tuple[str, ...]) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self.respond(
                401, resend_error(401, "missing_api_key", "Missing API key in the authorization header")
            )
        key = header[len("Bearer ") :]
        if key in allowed:
            return None
        if key == SENDING_ONLY_KEY:
            return self.respond(
                401, resend_error(401, "restricted_api_key", "This API key is restricted to only send emails")
            )
        return self.respond(403, resend_error(403, "invalid_api_key", "API key is invalid"))

    async def _emails(self, request: web.Request) -> web.Response:
        refused = self._auth_error(request, allowed=(API_KEY, SENDING_ONLY_KEY))
        if refused is not None:
            return refused
        raw = await request.read()
        body = json.loads(raw)
        self.received.append(body)
        self.headers.append(dict(request.headers))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            if not 1 <= len(key) <= 256:
                return self.respond(
                    400, resend_error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
                )
            if key in self._keys:
                payload, response = self._keys[key]
                if payload != raw:
                    return self.respond(
                        409,
                        resend_error(
                            409,
                            "invalid_idempotent_request",
                            "Same idempotency key used with a different request payload.",
                        ),
                    )
                if response is None:
                    return self.respond(
                        409,
                        resend_error(
                            409,
                            "concurrent_idempotent_requests",
                            "Same idempotency key used while original request is still in progress.",
                        ),
                    )
                return self.respond(200, response)
            self._keys[key] = (raw, None)
        for required in ("from", "to", "subject"):
            if not body.get(required):
                self._keys.pop(key or "", None)
                return self.respond(422, resend_error(422, "missing_required_field", f"Missing `{required}` field."))
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        response = {"id": f"49a3999c-0ce1-4ea6-ab68-{next(self._ids):012d}"}
        self.sent.append(body)
        if key is not None:
            self._keys[key] = (raw, response)
        return self.respond(200, response)

    async def _domains(self, request: web.Request) -> web.Response:
        refused = self._auth_error(request, allowed=(API_KEY,))
        if refused is not None:
            return refused
        return self.respond(
            200, {"object": "list", "data": [{"id": "d91cd9bd", "name": "example.com", "status": "verified"}]}
        )


@pytest.fixture
def resend() -> FakeResend:
    return FakeResend()


@pytest.fixture
def resend_url(resend: FakeResend) -> Iterator[str]:
    with serve_app(resend.app()) as url:
        yield url


@pytest.fixture
def make_provider(resend_url: str) -> Callable[..., ResendProvider]:
    """Build a provider wired to the local Resend; keyword arguments override the defaults."""
    return functools.partial(ResendProvider, api_key=API_KEY, from_address=SENDER, base_url=resend_url, timeout=5.0)
