"""A browser's push subscription: where to POST and the keys to encrypt for.

The address is the JSON of ``PushSubscription.toJSON()``:
``{"endpoint": "https://...", "keys": {"p256dh": "<base64url>", "auth": "<base64url>"}}``.
The endpoint is a capability URL (anyone holding it can push), so it is
only ever shown as its host.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import urlsplit

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["Subscription", "SubscriptionError", "parse_subscription"]


class SubscriptionError(ValueError):
    """The address is not a usable push subscription (the message says why, without the endpoint)."""


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed subscription: endpoint, the browser's P-256 public key and its auth secret."""

    endpoint: str
    p256dh: bytes
    auth: bytes

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the endpoint: the VAPID ``aud``."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).hostname or ""

    def __repr__(self) -> str:
        return f"Subscription(host={self.host!r})"


def _b64url(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise SubscriptionError(f"keys.{name} must be a base64url string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise SubscriptionError(f"keys.{name} is not base64url") from None


def parse_subscription(address: str) -> Subscription:
    """Parse and check a subscription's JSON; raise :class:`SubscriptionError` when it cannot work."""
    try:
        data = json.loads(address)
    except ValueError:
        raise SubscriptionError("the webpush address must be a subscription's JSON") from None
    if not isinstance(data, dict):
        raise SubscriptionError("the webpush address must be a JSON object")
    endpoint = data.get("endpoint")
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise SubscriptionError("the subscription's endpoint must be an http(s) URL")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError("the subscription has no keys")
    p256dh = _b64url(keys.get("p256dh"), "p256dh")
    auth = _b64url(keys.get("auth"), "auth")
    if len(auth) != 16:
        raise SubscriptionError("keys.auth must be 16 bytes")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise SubscriptionError("keys.p256dh is not a P-256 public key") from None
    return Subscription(endpoint=str(endpoint), p256dh=p256dh, auth=auth)
