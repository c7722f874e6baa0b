"""WebPushProvider against a local push service that decrypts and verifies what it gets."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import ConfigurationError, ErrorClass, ErrorCode, Message, Metadata, Recipient
from broadcastio.testing.servers import serve_app
from broadcastio_webpush import PAYLOAD_LIMIT, WebPushProvider

Make = Callable[..., WebPushProvider]


async def _send(provider: WebPushProvider, message: Message, address: str) -> Any:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


def _message(address: str, **kwargs: Any) -> Message:
    return Message(recipient=Recipient(addresses={"webpush": address}), text=kwargs.pop("text", "disk full"), **kwargs)


class TestWire:
    async def test_payload_decrypts_to_the_message(self, make_provider: Make, push_service: Any) -> None:
        """The push service decrypts the aes128gcm body with the browser's keys into the JSON notification."""
        browser = push_service.subscribe()
        message = _message(
            browser.subscription(),
            subject="db-1",
            metadata=Metadata(extra={"url": "/hosts/db-1"}, tags=("ops",), idempotency_key="k-1"),
        )
        result = await _send(make_provider(), message, browser.subscription())
        assert result.ok, (result.error, push_service.refused)
        (pushed,) = push_service.pushed
        assert pushed.payload == {
            "title": "db-1",
            "body": "disk full",
            "data": {"url": "/hosts/db-1"},
            "tags": ["ops"],
            "idempotency_key": "k-1",
        }
        assert result.provider_message_id == f"{push_service.url}/m/sub1-1"

    async def test_headers_and_vapid_claims(self, make_provider: Make, push_service: Any) -> None:
        """TTL, Urgency, aes128gcm and a VAPID token for the push service's origin, signed with our key."""
        browser = push_service.subscribe()
        message = _message(browser.subscription(), metadata=Metadata(priority="high"))
        assert (await _send(make_provider(ttl=600), message, browser.subscription())).ok
        (pushed,) = push_service.pushed
        assert pushed.headers["TTL"] == "600"
        assert pushed.headers["Urgency"] == "high"
        assert pushed.headers["Content-Encoding"] == "aes128gcm"
        assert pushed.headers["Content-Type"] == "application/octet-stream"
        assert pushed.headers["Authorization"].startswith("vapid t=")
        assert pushed.claims["aud"] == push_service.url
        assert pushed.claims["sub"] == "mailto:ops@example.com"
        assert time.time() + 11 * 3600 < pushed.claims["exp"] <= time.time() + 12 * 3600 + 1

    async def test_every_message_uses_a_fresh_key_and_salt(self, make_provider: Make, push_service: Any) -> None:
        """Two identical messages encrypt differently (ephemeral key and salt) and the JWT is reused."""
        browser = push_service.subscribe()
        provider = make_provider()
        try:
            message = _message(browser.subscription())
            for _ in range(2):
                assert (await provider.send(message, browser.subscription())).ok
        finally:
            await provider.aclose()
        first, second = push_service.pushed
        assert first.body[:16] != second.body[:16]  # salt
        assert first.body[21:86] != second.body[21:86]  # sender public key in the header
        assert first.payload == second.payload
        assert first.headers["Authorization"] == second.headers["Authorization"]

    @pytest.mark.parametrize(("priority", "urgency"), [("low", "low"), ("normal", "normal")])
    async def test_urgency(self, make_provider: Make, push_service: Any, priority: str, urgency: str) -> None:
        """Metadata.priority sets the Urgency header."""
        browser = push_service.subscribe()
        message = _message(browser.subscription(), metadata=Metadata(priority=priority))  # type: ignore[arg-type]
        assert (await _send(make_provider(), message, browser.subscription())).ok
        assert push_service.pushed[0].headers["Urgency"] == urgency

    async def test_through_a_proxy(self, make_provider: Make, push_service: Any) -> None:
        """With proxy set, the request goes to the proxy (absolute-form target), not to the endpoint's host."""
        proxy = type(push_service)(push_service.server_key)
        proxy.browsers, proxy.url = push_service.browsers, push_service.url  # it answers as the push service would
        browser = push_service.subscribe()
        with serve_app(proxy.app()) as proxy_url:
            result = await _send(
                make_provider(proxy=proxy_url), _message(browser.subscription()), browser.subscription()
            )
        assert result.ok, result.error
        assert len(proxy.pushed) == 1
        assert push_service.pushed == []


class TestOutcomes:
    async def test_gone_subscription_is_invalid_recipient(self, make_provider: Make, push_service: Any) -> None:
        """410 Gone: the browser unsubscribed; permanent invalid_recipient, endpoint path not shown."""
        browser = push_service.subscribe()
        del push_service.browsers["sub1"]
        result = await _send(make_provider(), _message(browser.subscription()), browser.subscription())
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert "/wpush/v2/sub1" not in result.error.message

    @pytest.mark.parametrize(
        ("status", "headers", "error_class", "code", "retry_after"),
        [
            (404, {}, ErrorClass.PERMANENT, ErrorCode.INVALID_RECIPIENT, None),
            (413, {}, ErrorClass.PERMANENT, "webpush.payload_too_large", None),
            (400, {}, ErrorClass.PERMANENT, "webpush.400", None),
            (429, {"Retry_After": "12"}, ErrorClass.TRANSIENT, ErrorCode.RATE_LIMITED, 12.0),
            (500, {}, ErrorClass.TRANSIENT, ErrorCode.SERVER_ERROR, None),
            (503, {"Retry_After": "3"}, ErrorClass.TRANSIENT, ErrorCode.SERVICE_UNAVAILABLE, 3.0),
        ],
    )
    async def test_status_mapping(
        self,
        make_provider: Make,
        push_service: Any,
        status: int,
        headers: dict[str, str],
        error_class: ErrorClass,
        code: str,
        retry_after: float | None,
    ) -> None:
        """Push-service answers map to the documented classes, Retry-After kept."""
        browser = push_service.subscribe()
        push_service.reply(status, "nope", **headers)
        result = await _send(make_provider(), _message(browser.subscription()), browser.subscription())
        assert result.error.error_class is error_class
        assert result.error.code == code
        assert result.error.retry_after == retry_after

    async def test_key_mismatch_is_permanent(self, make_provider: Make, push_service: Any) -> None:
        """A subscription made for another application server key is refused (403): permanent."""
        browser = push_service.subscribe(server_key="B" + "A" * 86)
        result = await _send(make_provider(), _message(browser.subscription()), browser.subscription())
        assert result.error.code == "webpush.forbidden"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_rejected_vapid_token_raises(self, make_provider: Make, push_service: Any) -> None:
        """401: the push service refused our VAPID token; only configuration can fix it."""
        browser = push_service.subscribe()
        push_service.reply(401, "invalid JWT")
        with pytest.raises(ConfigurationError, match="VAPID"):
            await _send(make_provider(), _message(browser.subscription()), browser.subscription())

    async def test_timeout_after_send_is_ambiguous(self, make_provider: Make, push_service: Any) -> None:
        """A push service answering too late may have queued the message."""
        browser = push_service.subscribe()
        push_service.reply(201, delay=1.0)
        result = await _send(make_provider(timeout=0.3), _message(browser.subscription()), browser.subscription())
        assert result.status == "unknown"
        assert result.error.error_class is ErrorClass.AMBIGUOUS

    async def test_too_large_fails_locally(self, make_provider: Make, push_service: Any) -> None:
        """A payload over the 4096-byte message fails before encryption or a request."""
        browser = push_service.subscribe()
        message = _message(browser.subscription(), text="x" * PAYLOAD_LIMIT)
        result = await _send(make_provider(), message, browser.subscription())
        assert result.error.code == "webpush.payload_too_large"
        assert push_service.pushed == []

    async def test_largest_payload_fits(self, make_provider: Make, push_service: Any) -> None:
        """A payload of exactly PAYLOAD_LIMIT bytes is accepted (one 4096-byte record)."""
        browser = push_service.subscribe()
        probe = _message(browser.subscription(), text="x", metadata=Metadata(idempotency_key="k"))
        overhead = len(WebPushProvider._payload(probe)) - 1
        message = _message(
            browser.subscription(), text="x" * (PAYLOAD_LIMIT - overhead), metadata=Metadata(idempotency_key="k")
        )
        assert len(WebPushProvider._payload(message)) == PAYLOAD_LIMIT
        result = await _send(make_provider(), message, browser.subscription())
        assert result.ok, result.error
        assert len(push_service.pushed[0].body) == 4096


class TestSubscriptions:
    @pytest.mark.parametrize(
        ("address", "complaint"),
        [
            ("not json", "JSON"),
            ("[]", "object"),
            ('{"endpoint": "ftp://x/y", "keys": {}}', "endpoint"),
            ('{"endpoint": "https://push.example/abc"}', "keys"),
            (
                '{"endpoint": "https://push.example/abc", "keys": {"p256dh": "AAAA", "auth": "' + "A" * 22 + '"}}',
                "p256dh",
            ),
        ],
    )
    async def test_malformed_subscription(self, make_provider: Make, address: str, complaint: str) -> None:
        """A subscription that cannot work is a permanent invalid_recipient without a request."""
        result = await _send(make_provider(), Message(recipient="x", text="x"), address)
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert complaint in result.error.message
        assert "abc" not in result.error.message

    async def test_http_endpoint_needs_allow_http(self, make_provider: Make, push_service: Any) -> None:
        """Plain-http endpoints are refused by default."""
        browser = push_service.subscribe()
        result = await _send(make_provider(allow_http=False), _message(browser.subscription()), browser.subscription())
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert push_service.pushed == []

    async def test_allowed_hosts(self, make_provider: Make, push_service: Any) -> None:
        """Endpoints off allowed_hosts are never contacted; listed hosts are."""
        browser = push_service.subscribe()
        blocked = await _send(
            make_provider(allowed_hosts=["fcm.googleapis.com"]),
            _message(browser.subscription()),
            browser.subscription(),
        )
        assert blocked.error.code == ErrorCode.INVALID_RECIPIENT
        assert push_service.pushed == []
        allowed = await _send(
            make_provider(allowed_hosts=["127.0.0.1"]), _message(browser.subscription()), browser.subscription()
        )
        assert allowed.ok


class TestConfiguration:
    @pytest.mark.parametrize(
        ("settings", "complaint"),
        [
            ({"vapid_private_key": "not a key"}, "vapid_private_key"),
            ({"vapid_subject": "ops@example.com"}, "vapid_subject"),
            ({"ttl": -1}, "ttl"),
            ({"proxy": "socks://x"}, "proxy"),
            ({"allowed_hosts": "example.com"}, "allowed_hosts"),
        ],
    )
    def test_bad_settings_raise(self, vapid: tuple[str, str], settings: dict[str, Any], complaint: str) -> None:
        """Bad settings raise a ConfigurationError naming the setting, never the key."""
        base = {"vapid_private_key": vapid[0], "vapid_subject": "mailto:ops@example.com"}
        with pytest.raises(ConfigurationError, match=complaint) as caught:
            WebPushProvider(**{**base, **settings})
        assert "PRIVATE KEY" not in str(caught.value)

    def test_raw_base64url_key(self, vapid: tuple[str, str]) -> None:
        """The key may be the raw 32-byte base64url form most VAPID tools print."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(vapid[0].encode(), password=None)
        raw = key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
        import base64

        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        provider = WebPushProvider(vapid_private_key=text, vapid_subject="https://example.com/contact")
        assert provider.application_server_key == vapid[1]
        assert text not in repr(provider)


class TestHealth:
    async def test_health_url_reachable(self, make_provider: Make, push_service: Any) -> None:
        """With health_url, any HTTP answer (even 405) is reachable."""
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy
        assert push_service.heads == 1

    async def test_without_health_url_reports_configuration(self, make_provider: Make, push_service: Any) -> None:
        """Without health_url there is nothing to probe: healthy, and the detail says why."""
        provider = make_provider(health_url=None)
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy
        assert "configured" in health.detail
        assert push_service.heads == 0
