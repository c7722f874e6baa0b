"""A local push service that checks the wire the way RFC 8030/8291/8292 define it.

For each request it verifies the VAPID ``Authorization: vapid t=<jwt>,k=<key>``
header (the ES256 signature with ``cryptography``, the key against the one the
subscription was made with, ``aud``, ``exp`` and ``sub``), requires ``TTL``
and ``Content-Encoding: aes128gcm``, and DECRYPTS the body with the
subscription's private key and auth secret (generated here, as a browser
would), so a test sees exactly what the service worker would get.
Answers ``201 Created`` with a ``Location``, ``410 Gone`` for an unknown
subscription, or a scripted reply.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import http_ece
import pytest
from aiohttp import web
from broadcastio.testing.servers import Body, ScriptedReplies, serve_app
from broadcastio_webpush import WebPushProvider
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

SUBJECT = "mailto:ops@example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_key_pem() -> tuple[str, str]:
    """A VAPID private key (PEM) and its application server key (base64url point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return pem.decode(), b64url(point)


@dataclass
class Browser:
    """One subscription, with the private half the browser keeps."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str
    server_key: str

    def subscription(self) -> str:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return json.dumps({"endpoint": self.endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}})


@dataclass
class Pushed:
    """What the push service accepted: headers, verified JWT claims and the decrypted payload."""

    subscription_id: str
    headers: dict[str, str]
    claims: dict[str, Any]
    body: bytes
    payload: dict[str, Any]


class FakePushService(ScriptedReplies):
    text_type = "text/plain"

    def __init__(self, server_key: str) -> None:
        super().__init__()
        self.server_key = server_key
        self.url = ""
        self.browsers: dict[str, Browser] = {}
        self.pushed: list[Pushed] = []
        self.refused: list[str] = []
        self.heads = 0
        self._ids = itertools.count(1)

    def subscribe(self, server_key: str | None = None) -> Browser:
        """A new browser subscription at this service, made for ``server_key`` (ours by default)."""
        sub_id = f"sub{next(self._ids)}"
        browser = Browser(
            key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
            endpoint=f"{self.url}/wpush/v2/{sub_id}",
            server_key=server_key or self.server_key,
        )
        self.browsers[sub_id] = browser
        return browser

    def reply(self, status: int, body: Body = "", *, delay: float = 0.0, **headers: str) -> None:
        """A push service answers in text, so a scripted reply is an empty text body unless given one."""
        super().reply(status, body, delay=delay, **headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/wpush/v2/{sub}", self._push)
        app.router.add_route("HEAD", "/", self._head)
        return app

    async def _head(self, request: web.Request) -> web.Response:
        self.heads += 1
        return web.Response(status=405)

    def _refuse(self, status: int, why: str) -> web.Response:
        self.refused.append(why)
        return web.json_response({"code": status, "errno": 109, "error": "Unauthorized", "message": why}, status=status)

    def _claims(self, authorization: str, browser: Browser) -> dict[str, Any] | str:
        """The verified VAPID claims, or why they were refused."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return "not a vapid Authorization"
        parts = dict(item.strip().split("=", 1) for item in params.split(",") if "=" in item)
        token, key = parts.get("t", ""), parts.get("k", "")
        if key != browser.server_key:
            return "k is not the key the subscription was made with"
        try:
            header_part, claims_part, signature_part = token.split(".")
            signature = unb64url(signature_part)
            der = utils.encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
            public.verify(der, f"{header_part}.{claims_part}".encode(), ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature):
            return "bad JWT signature"
        if json.loads(unb64url(header_part)).get("alg") != "ES256":
            return "alg is not ES256"
        claims: dict[str, Any] = json.loads(unb64url(claims_part))
        if claims.get("aud") != self.url:
            return "aud is not this push service's origin"
        if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
            return "exp is not within 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return "sub is not a mailto: or https: contact"
        return claims

    async def _push(self, request: web.Request) -> web.Response:
        sub_id = request.match_info["sub"]
        browser = self.browsers.get(sub_id)
        if browser is None:
            return web.Response(status=410, text="push subscription has unsubscribed or expired.")
        claims = self._claims(request.headers.get("Authorization", ""), browser)
        if isinstance(claims, str):
            return self._refuse(401 if "key" not in claims else 403, claims)
        if not request.headers.get("TTL", "").isdigit():
            return web.Response(status=400, text="TTL header missing")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return web.Response(status=415, text="unsupported content encoding")
        body = await request.read()
        if len(body) > 4096:
            return web.Response(status=413, text="payload too large")
        plaintext = http_ece.decrypt(body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm")
        self.pushed.append(Pushed(sub_id, dict(request.headers), claims, body, json.loads(plaintext)))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        return web.Response(status=201, headers={"Location": f"{self.url}/m/{sub_id}-{len(self.pushed)}", "TTL": "0"})


@pytest.fixture(scope="session")
def vapid() -> tuple[str, str]:
    return vapid_key_pem()


@pytest.fixture
def push_service(vapid: tuple[str, str]) -> Iterator[FakePushService]:
    service = FakePushService(vapid[1])
    with serve_app(service.app()) as url:
        service.url = url
        yield service


@pytest.fixture
def make_provider(vapid: tuple[str, str], push_service: FakePushService) -> Callable[..., WebPushProvider]:
    return functools.partial(
        WebPushProvider,
        vapid_private_key=vapid[0],
        vapid_subject=SUBJECT,
        allow_http=True,
        health_url=f"{push_service.url}/",
        timeout=5.0,
    )
