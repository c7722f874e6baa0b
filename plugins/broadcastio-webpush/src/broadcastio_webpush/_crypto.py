"""The two pieces of cryptography Web Push needs, both done by libraries.

- RFC 8291 message encryption: ``http_ece`` (aes128gcm) with a fresh
  ephemeral P-256 key from ``cryptography`` per message.
- RFC 8292 VAPID: ``py_vapid`` signs the ES256 JWT and builds the
  ``Authorization: vapid t=<jwt>,k=<public key>`` header. A token is
  reused per push-service origin until an hour before it expires.
"""

from __future__ import annotations

import base64
import os
import time

import http_ece  # type: ignore[import-untyped]
import py_vapid  # type: ignore[import-untyped]
from broadcastio import ConfigurationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from broadcastio_webpush._subscription import Subscription

__all__ = ["TOKEN_LIFETIME", "VapidSigner", "encrypt"]

TOKEN_LIFETIME = 12 * 3600
"""Seconds a VAPID JWT is valid (RFC 8292 allows at most 24 hours)."""
_REUSE_MARGIN = 3600
_CACHE_SIZE = 1024


def encrypt(payload: bytes, subscription: Subscription) -> bytes:
    """The aes128gcm body for ``subscription`` (salt, record size and our ephemeral key in its header)."""
    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=sender,
        dh=subscription.p256dh,
        auth_secret=subscription.auth,
        version="aes128gcm",
    )
    return body


class VapidSigner:
    """Authorization headers for one application server key.

    :param private_key: the VAPID private key: PEM, or base64url of the raw
        32-byte key or of its DER.
    :param subject: ``mailto:`` address or ``https:`` URL the push service may contact.
    """

    def __init__(self, private_key: str, subject: str, *, provider: str) -> None:
        if not isinstance(subject, str) or not subject.startswith(("mailto:", "https://")):
            raise ConfigurationError(f"provider {provider!r}: vapid_subject must be a mailto: address or https:// URL")
        if not isinstance(private_key, str) or not private_key.strip():
            raise ConfigurationError(f"provider {provider!r}: vapid_private_key must be a non-empty string")
        try:
            text = private_key.strip()
            loaded = py_vapid.Vapid02.from_pem(text.encode()) if text.startswith("-----BEGIN") else None
            loaded = loaded or py_vapid.Vapid02.from_string(text)
            # Our own check above accepts the https: subjects RFC 8292 allows; py_vapid's strict one wants mailto:.
            self._vapid = py_vapid.Vapid02(loaded.private_key, conf={"no-strict": True})
            self._vapid.sign({"aud": "https://push.example", "exp": int(time.time()) + 60, "sub": subject})
        except Exception:  # the library raises several types; never echo the key
            raise ConfigurationError(
                f"provider {provider!r}: vapid_private_key is not a usable P-256 key (PEM, or base64url raw or DER) "
                "or vapid_subject was refused"
            ) from None
        self.subject = subject
        point = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")
        """The application server key (base64url) to give ``pushManager.subscribe()``."""
        self._tokens: dict[str, tuple[str, float]] = {}

    def authorization(self, origin: str, *, now: float | None = None) -> str:
        """The ``Authorization`` header value for a push service at ``origin``."""
        now = time.time() if now is None else now
        cached = self._tokens.get(origin)
        if cached is not None and cached[1] - _REUSE_MARGIN > now:
            return cached[0]
        expires = int(now) + TOKEN_LIFETIME
        header = str(self._vapid.sign({"aud": origin, "exp": expires, "sub": self.subject})["Authorization"])
        if len(self._tokens) >= _CACHE_SIZE:
            self._tokens.clear()
        self._tokens[origin] = (header, float(expires))
        return header
