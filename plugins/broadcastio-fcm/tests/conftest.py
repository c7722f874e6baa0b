"""Local stand-ins for Google's OAuth2 token endpoint and FCM HTTP v1, in their real shapes.

- The token endpoint (RFC 7523 JWT bearer grant, as Google documents for
  service accounts) takes a form with ``grant_type`` and ``assertion``,
  checks the assertion's RS256 signature with the service account's public
  key and its claims (``iss``, ``scope``, ``aud`` = Google's token URL, ``iat``/``exp``), and
  answers ``{"access_token", "expires_in", "token_type": "Bearer"}``.
- FCM (``POST /v1/projects/{project_id}/messages:send``) checks the Bearer
  token, the message shape (exactly one target), answers
  ``{"name": "projects/.../messages/..."}``, ``UNREGISTERED`` for unknown
  tokens, a dry run for ``validate_only``, and scripted Google API errors.

The service-account key is made in the fixture with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_fcm import FCM_SCOPE, FcmProvider
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROJECT = "broadcastio-test-1a2b3"
CLIENT_EMAIL = f"fcm-sender@{PROJECT}.iam.gserviceaccount.com"
DEVICE = "fYx9kL2mQ3S0:APA91bH" + "x" * 140
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
"""Google documents the assertion's ``aud`` as always this URL, whatever host answers the token request."""


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return _private_key()


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return _private_key()


def service_account(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, str]:
    """A service-account key file's content, as the Firebase console writes it."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem.decode(),
        "client_email": CLIENT_EMAIL,
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }


def google_error(status: int, google_status: str, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    """A Google API error body, with an FcmError detail when ``fcm_code`` is given."""
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status}
    if fcm_code:
        error["details"] = [{"@type": FCM_ERROR, "errorCode": fcm_code}]
    return {"error": error}


class FakeGoogle(ScriptedReplies):
    """Google's token endpoint and FCM HTTP v1 on one local server."""

    text_type = "text/plain"

    PROJECT = PROJECT
    DEVICE = DEVICE

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        super().__init__()
        self.public_key = key.public_key()
        self.url = ""
        self.expires_in = 3600
        self.token_delay = 0.0
        self.token_requests = 0
        self.assertions: list[dict[str, Any]] = []
        self.issued: dict[str, float] = {}
        self.devices = {DEVICE}
        self.sent: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._numbers = itertools.count(1)
        self._tokens = itertools.count(1)

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        return app

    # --- OAuth2 token endpoint ------------------------------------------------

    def _verified_claims(self, assertion: str) -> dict[str, Any] | None:
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            header = json.loads(_b64decode(header_part))
            self.public_key.verify(
                _b64decode(signature_part),
                f"{header_part}.{claims_part}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return None
        if header.get("alg") != "RS256":
            return None
        claims: dict[str, Any] = json.loads(_b64decode(claims_part))
        return claims

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if form.get("grant_type") != GRANT_TYPE:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        claims = self._verified_claims(str(form.get("assertion", "")))
        if claims is None:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
            )
        now = time.time()
        valid = (
            claims.get("iss") == CLIENT_EMAIL
            and claims.get("scope") == FCM_SCOPE
            and claims.get("aud") == GOOGLE_AUDIENCE
            and claims.get("iat", 0) - 60 <= now <= claims.get("exp", 0)
            and claims["exp"] - claims["iat"] <= 3600
        )
        if not valid:
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT claims."}, status=400)
        self.assertions.append(claims)
        token = f"ya29.c.test-{next(self._tokens)}"
        self.issued[token] = now + self.expires_in
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    # --- FCM HTTP v1 ------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ")
        if not authorization.startswith("Bearer ") or self.issued.get(token, 0) < time.time():
            body = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            return web.json_response(body, status=401)
        if request.match_info["project"] != PROJECT:
            return web.json_response(google_error(404, "NOT_FOUND", "Requested entity was not found."), status=404)
        payload = await request.json()
        self.sent.append(payload)
        self.headers.append(dict(request.headers))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        message = payload.get("message")
        targets = [key for key in ("token", "topic", "condition") if isinstance(message, dict) and key in message]
        if len(targets) != 1:
            body = google_error(
                400, "INVALID_ARGUMENT", "Exactly one of token, topic or condition.", "INVALID_ARGUMENT"
            )
            return web.json_response(body, status=400)
        if payload.get("validate_only"):
            return web.json_response({"name": f"projects/{PROJECT}/messages/fake_message_id"})
        if "token" in message and message["token"] not in self.devices:
            body = google_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            return web.json_response(body, status=404)
        return web.json_response({"name": f"projects/{PROJECT}/messages/0:{next(self._numbers)}%31bd1c9631bd1c96"})


@pytest.fixture
def google(signing_key: rsa.RSAPrivateKey) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(signing_key)
    with serve_app(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture
def key_info(google: FakeGoogle, signing_key: rsa.RSAPrivateKey) -> dict[str, str]:
    return service_account(signing_key, google.token_uri)


@pytest.fixture
def make_provider(google: FakeGoogle, key_info: dict[str, str]) -> Callable[..., FcmProvider]:
    """Build a provider wired to the local Google; keyword arguments override the defaults."""
    return functools.partial(FcmProvider, service_account_info=key_info, base_url=google.url, timeout=5.0)
