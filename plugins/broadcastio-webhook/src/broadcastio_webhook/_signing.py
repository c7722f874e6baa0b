"""HMAC-SHA256 request signatures: how a receiver knows a POST came from us.

Two published schemes, chosen with the provider's ``signature`` setting, so
receivers can use the libraries they already have:

- ``"standard"`` (default), `Standard Webhooks <https://www.standardwebhooks.com/>`_:
  headers ``webhook-id`` (the message's idempotency key, the same on every
  retry), ``webhook-timestamp`` (unix seconds) and ``webhook-signature:
  v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``. The secret is
  ``whsec_`` + base64 of the key bytes (:func:`generate_secret` makes one);
  any other string is used as its own UTF-8 bytes.
- ``"github"``: GitHub's ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
  the body>``, with the secret's UTF-8 bytes as key. It has no timestamp, so
  it cannot stop replays.

``"broadcastio"`` keeps the earlier ``X-Broadcastio-Signature: t=<ts>,v1=<hex>``
header (:func:`sign`, :func:`verify_signature`) for receivers written for it.
Every verifier compares in constant time and wants the raw body, before any
JSON parsing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Literal

__all__ = [
    "GITHUB_SIGNATURE_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEMES",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "SignatureScheme",
    "check_secret",
    "generate_secret",
    "github_signature",
    "sign",
    "signature_headers",
    "standard_signature",
    "verify_github",
    "verify_signature",
    "verify_standard",
]

SignatureScheme = Literal["standard", "github", "broadcastio"]
SIGNATURE_SCHEMES: tuple[SignatureScheme, ...] = ("standard", "github", "broadcastio")

STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_HEADER = "X-Broadcastio-Signature"
"""The header of the earlier ``"broadcastio"`` scheme."""

_SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300.0
"""Seconds a signed timestamp may be away from the receiver's clock (the spec's five minutes)."""


def generate_secret(nbytes: int = 32) -> str:
    """A new Standard Webhooks secret: ``whsec_`` and base64 of ``nbytes`` random bytes."""
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode()


def _key(secret: str | bytes) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` decoded, anything else as UTF-8 bytes."""
    if isinstance(secret, bytes):
        return secret
    if secret.startswith(_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a 'whsec_' secret must be followed by base64") from None
    return secret.encode()


def check_secret(secret: str) -> None:
    """Raise ValueError when a ``whsec_`` secret is not valid base64 (caught at configuration time)."""
    if not _key(secret):
        raise ValueError("the secret decodes to no key bytes")


def standard_signature(secret: str | bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``."""
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def github_signature(secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=<hex HMAC-SHA256 of the body>``."""
    key = secret if isinstance(secret, bytes) else secret.encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_headers(
    scheme: SignatureScheme, secret: str | bytes, *, message_id: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """The headers one request carries under ``scheme``."""
    if scheme == "standard":
        return {
            STANDARD_ID_HEADER: message_id,
            STANDARD_TIMESTAMP_HEADER: str(timestamp),
            STANDARD_SIGNATURE_HEADER: standard_signature(secret, message_id, timestamp, body),
        }
    if scheme == "github":
        return {GITHUB_SIGNATURE_HEADER: github_signature(secret, body)}
    return {SIGNATURE_HEADER: sign(secret, body, timestamp=timestamp)}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((item for key, item in headers.items() if key.lower() == lowered), None)


def verify_standard(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether a request's Standard Webhooks headers sign ``body`` with ``secret``.

    For receivers: pass the request headers (any case) and the raw body.
    False when a header is missing, the timestamp is more than ``tolerance``
    seconds from now (a replay), or no ``v1,`` signature matches.
    """
    message_id = _header(headers, STANDARD_ID_HEADER)
    raw_timestamp = _header(headers, STANDARD_TIMESTAMP_HEADER)
    signatures = _header(headers, STANDARD_SIGNATURE_HEADER)
    if not message_id or not raw_timestamp or not signatures:
        return False
    try:
        timestamp = int(raw_timestamp)
        expected = standard_signature(secret, message_id, timestamp, body)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    candidates = [part for part in signatures.split(" ") if part.startswith("v1,")]
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates)


def verify_github(secret: str | bytes, header: str | None, body: bytes) -> bool:
    """Whether an ``X-Hub-Signature-256`` header value signs ``body`` with ``secret``."""
    if not header:
        return False
    return hmac.compare_digest(github_signature(secret, body).encode(), header.strip().encode())


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``X-Broadcastio-Signature`` value (earlier scheme): ``t=<ts>,v1=<hex of HMAC("<ts>." + body)>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={_digest(key, ts, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether an ``X-Broadcastio-Signature`` header (earlier scheme) signs ``body``,
    made at most ``tolerance`` seconds ago."""
    if not header:
        return False
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    expected = _digest(secret_bytes, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", ()))
