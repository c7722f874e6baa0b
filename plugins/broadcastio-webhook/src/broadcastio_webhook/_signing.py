"""HMAC-SHA256 request signatures: how a receiver knows a POST came from us.

The signed string is ``"<unix seconds>." + body``, so a captured request
cannot be replayed with a different body, and a receiver that rejects old
timestamps stops replays of the same body too. The header reads
``t=<unix seconds>,v1=<hex digest>`` (the layout Stripe made familiar).
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Broadcastio-Signature"
"""The request header carrying the signature."""


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (now by default)."""
    key = secret.encode() if isinstance(secret, str) else secret
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={_digest(key, ts, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether ``header`` is a valid signature of ``body``, made at most ``tolerance`` seconds ago.

    For receivers: pass the raw request body (before any JSON parsing) and
    the ``X-Broadcastio-Signature`` header. The digest is compared in
    constant time.
    """
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
