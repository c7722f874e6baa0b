"""Local stand-ins for Google (OAuth2 token endpoint + FCM HTTP v1), Slack's Web API and SendGrid.

They serve the cross-channel docs page (``tests/test_cross_channel_docs.py``)
in each service's real API shape, from its public documentation, and check
credentials as the services do:

- Google's token endpoint takes the RFC 7523 JWT bearer grant a service
  account makes (RS256 signature checked with the account's public key;
  ``iss``, ``scope``, ``aud``, ``iat``/``exp``) and answers a Bearer token;
  FCM's ``messages:send`` wants that token and answers ``UNREGISTERED``
  (404 with an ``FcmError`` detail) for a registration token it does not know.
- Slack's ``chat.postMessage`` wants the bot token (``not_authed`` /
  ``invalid_auth`` otherwise, HTTP 200 as Slack does) and answers 429 with
  ``Retry-After`` while the app is rate limited.
- SendGrid's ``/v3/mail/send`` wants ``Authorization: Bearer <key>`` (401
  with an ``errors`` array otherwise) and answers 202 with ``X-Message-Id``.

The service-account key is made at test time with ``cryptography``.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROJECT = "acme-alerts-1a2b3"
CLIENT_EMAIL = f"broadcastio@{PROJECT}.iam.gserviceaccount.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
"""Google documents the assertion's ``aud`` as this URL, whatever host answers the token request."""
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SENDGRID_KEY = "SG.docs-key-id.9d2f0c7a4b1e8f3a6c5d"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def service_account_key(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, str]:
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


def _google_error(status: int, google_status: str, message: str, fcm_code: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status}
    if fcm_code:
        error["details"] = [{"@type": FCM_ERROR, "errorCode": fcm_code}]
    return web.json_response({"error": error}, status=status)


class FakeGoogle:
    """Google's OAuth2 token endpoint (``/token``) and FCM HTTP v1 on one server."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.public_key = key.public_key()
        self.devices: set[str] = set()
        self.issued: dict[str, float] = {}
        self.sent: list[dict[str, Any]] = []
        self._tokens = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        return app

    def _claims(self, assertion: str) -> dict[str, Any] | None:
        """The assertion's claims when its RS256 signature is the service account's, else None."""
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            if json.loads(_b64decode(header_part)).get("alg") != "RS256":
                return None
            self.public_key.verify(
                _b64decode(signature_part), f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims: dict[str, Any] = json.loads(_b64decode(claims_part))
        except Exception:
            return None
        return claims

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != GRANT_TYPE:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        claims = self._claims(str(form.get("assertion", "")))
        now = time.time()
        if (
            claims is None
            or claims.get("iss") != CLIENT_EMAIL
            or claims.get("scope") != FCM_SCOPE
            or claims.get("aud") != GOOGLE_AUDIENCE
            or not claims.get("iat", 0) - 60 <= now <= claims.get("exp", 0)
        ):
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT."}, status=400)
        token = f"ya29.c.docs-{next(self._tokens)}"
        self.issued[token] = now + 3600
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.issued.get(token, 0) < time.time():
            return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if request.match_info["project"] != PROJECT:
            return _google_error(404, "NOT_FOUND", "Requested entity was not found.")
        payload = await request.json()
        message = payload.get("message") if isinstance(payload, dict) else None
        targets = [key for key in ("token", "topic", "condition") if isinstance(message, dict) and key in message]
        if len(targets) != 1:
            message_text = "Exactly one of token, topic or condition."
            return _google_error(400, "INVALID_ARGUMENT", message_text, "INVALID_ARGUMENT")
        if payload.get("validate_only"):  # a dry run (the provider's health check): validated, not delivered
            return web.json_response({"name": f"projects/{PROJECT}/messages/fake_message_id"})
        if "token" not in message:
            return _google_error(400, "INVALID_ARGUMENT", "These docs send to tokens only.", "INVALID_ARGUMENT")
        self.sent.append(payload)
        if message["token"] not in self.devices:
            return _google_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        return web.json_response({"name": f"projects/{PROJECT}/messages/0:{len(self.sent)}%31bd1c9631bd1c96"})


class FakeSlack:
    """Slack's Web API ``chat.postMessage`` (``/api/chat.postMessage``)."""

    def __init__(self) -> None:
        self.channels = {"C0123ABCDEF"}
        self.limited_for = 0
        """While above 0, every post is answered 429 with this many seconds in ``Retry-After``."""
        self.posted: list[dict[str, Any]] = []
        self._ts = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._web_api)
        return app

    async def _web_api(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            return web.json_response({"ok": False, "error": "not_authed"})
        if authorization != f"Bearer {SLACK_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        method = request.match_info["method"]
        if method == "auth.test":  # the provider's health check
            return web.json_response({"ok": True, "team_id": "T00000000", "user_id": "U00000000", "bot_id": "B0"})
        if method != "chat.postMessage":
            return web.json_response({"ok": False, "error": "unknown_method"})
        if self.limited_for:
            return web.Response(status=429, headers={"Retry-After": str(self.limited_for)})
        body = await request.json()
        if body.get("channel") not in self.channels:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        self.posted.append(body)
        ts = f"1767225600.{next(self._ts):06d}"
        return web.json_response({"ok": True, "channel": body["channel"], "ts": ts})


class FakeSendGrid:
    """SendGrid's v3 Mail Send (``/v3/mail/send``)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/mail/send", self._mail_send)
        app.router.add_get("/v3/scopes", self._scopes)
        return app

    @staticmethod
    def _refused() -> web.Response:
        message = "The provided authorization grant is invalid, expired, or revoked"
        return web.json_response({"errors": [{"message": message, "field": None, "help": None}]}, status=401)

    async def _scopes(self, request: web.Request) -> web.Response:
        """The provider's health check: the key's scopes."""
        if request.headers.get("Authorization") != f"Bearer {SENDGRID_KEY}":
            return self._refused()
        return web.json_response({"scopes": ["mail.send"]})

    async def _mail_send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SENDGRID_KEY}":
            return self._refused()
        body = await request.json()
        if not body.get("personalizations") or not body.get("subject") or not body.get("content"):
            problem = {"message": "personalizations, subject and content are required", "field": None, "help": None}
            return web.json_response({"errors": [problem]}, status=400)
        self.received.append(body)
        return web.Response(status=202, headers={"X-Message-Id": f"sgmsg{next(self._ids):06d}"})
