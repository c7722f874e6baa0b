"""FcmProvider against local Google token and FCM stand-ins: wire shape, tokens, outcomes, health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import ConfigurationError, ErrorClass, ErrorCode, Message, Metadata, Recipient
from broadcastio.testing.servers import closed_port
from broadcastio_fcm import FcmProvider

Make = Callable[..., FcmProvider]


def _error(status: int, google_status: str, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status}
    if fcm_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
    return {"error": error}


async def _send(provider: FcmProvider, message: Message, address: str) -> Any:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


class TestWire:
    async def test_message_shape_and_bearer_token(self, make_provider: Make, google: Any) -> None:
        """The v1 body carries token, notification and string data; the Bearer token came from the token endpoint."""
        message = Message(
            recipient=Recipient(addresses={"push": google.DEVICE}),
            subject="db-1",
            text="disk full",
            metadata=Metadata(priority="high", extra={"host": "db-1", "percent": 97}),
        )
        result = await _send(make_provider(), message, google.DEVICE)
        assert result.ok, result.error
        assert result.provider_message_id.startswith(f"projects/{google.PROJECT}/messages/0:")
        assert google.sent == [
            {
                "message": {
                    "token": google.DEVICE,
                    "notification": {"body": "disk full", "title": "db-1"},
                    "data": {"host": "db-1", "percent": "97"},
                    "android": {"priority": "high"},
                    "apns": {"headers": {"apns-priority": "10"}},
                }
            }
        ]
        assert google.headers[0]["Authorization"] == "Bearer ya29.c.test-1"
        assert google.headers[0]["Content-Type"] == "application/json"

    async def test_assertion_claims(self, make_provider: Make, google: Any) -> None:
        """google-auth's signed assertion names the service account, the FCM scope and one hour of life."""
        assert (await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)).ok
        (claims,) = google.assertions
        assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
        assert claims["iss"].endswith(".iam.gserviceaccount.com")
        assert claims["exp"] - claims["iat"] == 3600

    async def test_normal_priority_sends_no_platform_blocks(self, make_provider: Make, google: Any) -> None:
        """Normal priority leaves Android and APNs defaults alone."""
        assert (await _send(make_provider(), Message(recipient="x", text="hi"), google.DEVICE)).ok
        assert google.sent[0] == {"message": {"token": google.DEVICE, "notification": {"body": "hi"}}}


class TestAccessTokens:
    async def test_one_token_serves_many_sends(self, make_provider: Make, google: Any) -> None:
        """A token valid for an hour is fetched once for sequential sends."""
        provider = make_provider()
        try:
            for _ in range(5):
                assert (await provider.send(Message(recipient="x", text="x"), google.DEVICE)).ok
        finally:
            await provider.aclose()
        assert google.token_requests == 1
        assert provider.tokens.refreshes == 1

    async def test_concurrent_sends_share_one_refresh(self, make_provider: Make, google: Any) -> None:
        """Twenty sends that all need a token wait for a single refresh (single flight)."""
        google.token_delay = 0.2
        provider = make_provider()
        try:
            results = await asyncio.gather(
                *(provider.send(Message(recipient="x", text=str(n)), google.DEVICE) for n in range(20))
            )
        finally:
            await provider.aclose()
        assert all(result.ok for result in results)
        assert google.token_requests == 1
        assert {headers["Authorization"] for headers in google.headers} == {"Bearer ya29.c.test-1"}

    async def test_token_near_expiry_is_refreshed_first(self, make_provider: Make, google: Any) -> None:
        """A token within google-auth's refresh margin (3 min 45 s) is replaced before the next send."""
        google.expires_in = 120
        provider = make_provider()
        try:
            for _ in range(2):
                assert (await provider.send(Message(recipient="x", text="x"), google.DEVICE)).ok
        finally:
            await provider.aclose()
        assert google.token_requests == 2
        assert [headers["Authorization"] for headers in google.headers] == [
            "Bearer ya29.c.test-1",
            "Bearer ya29.c.test-2",
        ]

    async def test_refresh_does_not_block_the_loop(self, make_provider: Make, google: Any) -> None:
        """A slow token endpoint is waited for in a worker thread: the loop keeps running."""
        google.token_delay = 0.5
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            assert (await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)).ok
        finally:
            task.cancel()
        assert ticks >= 10

    async def test_refused_key_raises(self, make_provider: Make, google: Any, other_key: Any) -> None:
        """invalid_grant (a key the endpoint does not know) is a configuration error."""
        from cryptography.hazmat.primitives import serialization

        pem = other_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        provider = make_provider(service_account_info={**make_provider().service_account_info, "private_key": pem})
        with pytest.raises(ConfigurationError, match="invalid_grant") as caught:
            await _send(provider, Message(recipient="x", text="x"), google.DEVICE)
        assert "PRIVATE KEY" not in str(caught.value)
        assert google.sent == []

    async def test_token_endpoint_down_is_transient(self, make_provider: Make, key_info: dict[str, str]) -> None:
        """No token endpoint: nothing was sent to FCM, so transient."""
        info = {**key_info, "token_uri": f"http://127.0.0.1:{closed_port()}/token"}
        result = await _send(make_provider(service_account_info=info), Message(recipient="x", text="x"), "tok")
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == ErrorCode.CONNECTION_FAILED


class TestOutcomes:
    async def test_unregistered_is_invalid_recipient(self, make_provider: Make, google: Any) -> None:
        """UNREGISTERED: the app was uninstalled or the token expired; permanent, masked."""
        gone = "gone-token-" + "a" * 40
        result = await _send(make_provider(), Message(recipient="x", text="x"), gone)
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert gone not in result.error.message

    @pytest.mark.parametrize(
        ("status", "google_status", "fcm_code", "error_class", "code"),
        [
            (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", ErrorClass.PERMANENT, "fcm.invalid_argument"),
            (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", ErrorClass.PERMANENT, "fcm.sender_id_mismatch"),
            (503, "UNAVAILABLE", "UNAVAILABLE", ErrorClass.TRANSIENT, "fcm.unavailable"),
            (500, "INTERNAL", "INTERNAL", ErrorClass.TRANSIENT, "fcm.internal"),
            (400, "FAILED_PRECONDITION", "UNSPECIFIED_ERROR", ErrorClass.PERMANENT, "fcm.unspecified_error"),
        ],
    )
    async def test_fcm_error_codes(
        self,
        make_provider: Make,
        google: Any,
        status: int,
        google_status: str,
        fcm_code: str,
        error_class: ErrorClass,
        code: str,
    ) -> None:
        """The FcmError code in details decides the class."""
        google.reply(status, _error(status, google_status, "nope", fcm_code))
        result = await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)
        assert result.error.error_class is error_class
        assert result.error.code == code
        assert result.error.message == "nope"

    async def test_quota_exceeded_with_retry_after(self, make_provider: Make, google: Any) -> None:
        """QUOTA_EXCEEDED (429) is transient and carries Retry-After."""
        google.reply(429, _error(429, "RESOURCE_EXHAUSTED", "quota", "QUOTA_EXCEEDED"), Retry_After="17")
        result = await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == ErrorCode.RATE_LIMITED
        assert result.error.retry_after == 17.0

    async def test_unavailable_keeps_retry_after(self, make_provider: Make, google: Any) -> None:
        """UNAVAILABLE with Retry-After: transient, hint kept."""
        google.reply(503, _error(503, "UNAVAILABLE", "busy", "UNAVAILABLE"), Retry_After="5")
        result = await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)
        assert result.error.retry_after == 5.0

    async def test_5xx_html_is_transient(self, make_provider: Make, google: Any) -> None:
        """A 502 page from a proxy is transient."""
        google.reply(502, "<html>bad gateway</html>")
        result = await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)
        assert result.error.error_class is ErrorClass.TRANSIENT

    @pytest.mark.parametrize(
        "body",
        [
            _error(401, "UNAUTHENTICATED", "APNs certificate invalid", "THIRD_PARTY_AUTH_ERROR"),
            _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
            _error(403, "PERMISSION_DENIED", "Firebase Cloud Messaging API has not been used in project"),
        ],
    )
    async def test_credential_refusals_raise(self, make_provider: Make, google: Any, body: dict[str, Any]) -> None:
        """THIRD_PARTY_AUTH_ERROR, 401 and a 403 without an FCM code are configuration errors."""
        google.reply(body["error"]["code"], body)
        with pytest.raises(ConfigurationError):
            await _send(make_provider(), Message(recipient="x", text="x"), google.DEVICE)

    async def test_wrong_project_raises(self, make_provider: Make, google: Any) -> None:
        """A project FCM does not know (404 without an FCM code) is a configuration error."""
        with pytest.raises(ConfigurationError, match="project_id"):
            await _send(make_provider(project_id="someone-else-42"), Message(recipient="x", text="x"), google.DEVICE)

    async def test_timeout_after_send_is_ambiguous(self, make_provider: Make, google: Any) -> None:
        """FCM answering later than the timeout may have delivered."""
        provider = make_provider(timeout=0.3)
        try:
            assert (await provider.send(Message(recipient="x", text="warm"), google.DEVICE)).ok
            google.reply(200, {"name": "late"}, delay=1.0)
            result = await provider.send(Message(recipient="x", text="x"), google.DEVICE)
        finally:
            await provider.aclose()
        assert result.status == "unknown"
        assert result.error.error_class is ErrorClass.AMBIGUOUS

    @pytest.mark.parametrize("address", ["has space", "tok\u00e9n", "x" * 4097])
    async def test_malformed_token_fails_locally(self, make_provider: Make, google: Any, address: str) -> None:
        """Something that cannot be a registration token fails without a request."""
        result = await _send(make_provider(), Message(recipient="x", text="x"), address)
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert google.sent == []
        assert google.token_requests == 0

    async def test_errors_never_carry_the_access_token(self, make_provider: Make, google: Any) -> None:
        """No error or health text holds the Bearer token."""
        google.reply(500, _error(500, "INTERNAL", "boom", "INTERNAL"))
        provider = make_provider()
        try:
            result = await provider.send(Message(recipient="x", text="x"), google.DEVICE)
            health = await provider.health()
        finally:
            await provider.aclose()
        for text in (result.error.message, health.detail, repr(provider)):
            assert "ya29." not in text


class TestConfiguration:
    def test_needs_exactly_one_key_source(self, key_info: dict[str, str]) -> None:
        """Neither or both of service_account_info and service_account_file raise."""
        with pytest.raises(ConfigurationError, match="exactly one"):
            FcmProvider()
        with pytest.raises(ConfigurationError, match="exactly one"):
            FcmProvider(service_account_info=key_info, service_account_file="/x.json")

    def test_key_from_file_and_json_text(self, key_info: dict[str, str], tmp_path: Any) -> None:
        """The key may be a file path or JSON text."""
        path = tmp_path / "key.json"
        path.write_text(json.dumps(key_info))
        assert FcmProvider(service_account_file=str(path)).project_id == key_info["project_id"]
        assert FcmProvider(service_account_info=json.dumps(key_info)).project_id == key_info["project_id"]

    @pytest.mark.parametrize(
        ("change", "complaint"),
        [
            ({"client_email": None}, "client_email"),
            ({"private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"}, "not usable"),
            ({"type": "authorized_user"}, "service_account"),
            ({"project_id": None}, "project_id"),
        ],
    )
    def test_bad_keys_raise(self, key_info: dict[str, str], change: dict[str, Any], complaint: str) -> None:
        """A key that cannot work raises a ConfigurationError naming the problem, never the key."""
        info = {key: value for key, value in {**key_info, **change}.items() if value is not None}
        with pytest.raises(ConfigurationError, match=complaint) as caught:
            FcmProvider(service_account_info=info)
        assert "PRIVATE KEY" not in str(caught.value)

    def test_bad_json_raises(self) -> None:
        """JSON text that does not parse raises."""
        with pytest.raises(ConfigurationError, match="JSON"):
            FcmProvider(service_account_info="{not json")


class TestHealth:
    async def test_dry_run_is_healthy(self, make_provider: Make, google: Any) -> None:
        """health() sends a validate_only message to a topic: nothing is delivered."""
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy, health.detail
        (sent,) = google.sent
        assert sent["validate_only"] is True
        assert sent["message"]["topic"] == "broadcastio-health"

    async def test_refused_key_is_unhealthy(self, make_provider: Make, google: Any, key_info: dict[str, str]) -> None:
        """A service account the token endpoint refuses is unhealthy, not an exception."""
        info = {**key_info, "client_email": "someone@else.iam.gserviceaccount.com"}
        provider = make_provider(service_account_info=info)
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "invalid_grant" in health.detail
