"""Sending through a local Twilio stand-in: request shape, results and error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import structlog
from broadcastio import Attachment, ConfigurationError, ErrorClass, ErrorCode, Message
from broadcastio_sms import TwilioSmsProvider

MakeProvider = Callable[..., TwilioSmsProvider]


async def send(provider: TwilioSmsProvider, address: str, text: str = "hello") -> Any:
    try:
        return await provider.send(Message(recipient=address, text=text), address)
    finally:
        await provider.aclose()


class TestRequest:
    async def test_posts_twilio_form_fields(self, make_provider: MakeProvider, twilio: Any) -> None:
        """The form carries To in E.164, From, Body and StatusCallback, and the sid comes back as the id."""
        provider = make_provider(status_callback="https://example.com/twilio/status")
        message = Message(recipient="+1 (415) 555-2671", text="Your code is 123456")
        try:
            result = await provider.send(message, "+1 (415) 555-2671")
        finally:
            await provider.aclose()
        assert result.ok, result.error
        assert result.provider_message_id == "SM" + "0" * 31 + "1"
        assert twilio.received == [
            {
                "To": "+14155552671",
                "From": twilio.FROM_NUMBER,
                "Body": "Your code is 123456",
                "StatusCallback": f"https://example.com/twilio/status?idempotency_key={message.idempotency_key}",
            }
        ]

    async def test_messaging_service_instead_of_from(self, make_provider: MakeProvider, twilio: Any) -> None:
        """With only a Messaging Service SID, the form names the service and no From."""
        provider = make_provider(from_number=None, messaging_service_sid=twilio.SERVICE_SID)
        result = await send(provider, twilio.TO_NUMBER)
        assert result.ok, result.error
        assert twilio.received[0]["MessagingServiceSid"] == twilio.SERVICE_SID
        assert "From" not in twilio.received[0]

    async def test_alphanumeric_sender_is_sent_as_is(self, make_provider: MakeProvider, twilio: Any) -> None:
        """An alphanumeric sender ID goes out unchanged as From."""
        result = await send(make_provider(from_number="Acme Alerts"), "+447911123456")
        assert result.ok, result.error
        assert twilio.received[0]["From"] == "Acme Alerts"

    async def test_attachments_are_not_sent(self, make_provider: MakeProvider, twilio: Any) -> None:
        """SMS carries the text; attachments are left out of the request."""
        provider = make_provider()
        message = Message(
            recipient=twilio.TO_NUMBER,
            text="see email",
            attachments=(Attachment(filename="a.txt", content=b"abc"),),
        )
        try:
            result = await provider.send(message, twilio.TO_NUMBER)
        finally:
            await provider.aclose()
        assert result.ok
        assert set(twilio.received[0]) == {"To", "From", "Body"}

    async def test_message_without_text_fails_without_a_request(self, make_provider: MakeProvider, twilio: Any) -> None:
        """A message with only attachments cannot be an SMS: permanent, nothing sent."""
        provider = make_provider()
        message = Message(
            recipient=twilio.TO_NUMBER, text="", attachments=(Attachment(filename="a.txt", content=b"x"),)
        )
        try:
            result = await provider.send(message, twilio.TO_NUMBER)
        finally:
            await provider.aclose()
        assert result.error is not None
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == ErrorCode.REJECTED
        assert twilio.received == []


class TestInvalidRecipient:
    @pytest.mark.parametrize("address", ["+1415555", "4155552671", "not a number", "+999123456789"])
    async def test_invalid_number_is_a_returned_permanent_failure(
        self, make_provider: MakeProvider, twilio: Any, address: str
    ) -> None:
        """An invalid or national-only number is returned as invalid_recipient, and Twilio is not called."""
        result = await send(make_provider(), address)
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert twilio.received == []

    async def test_number_is_masked_in_the_error(self, make_provider: MakeProvider) -> None:
        """The failure message does not repeat the full number."""
        result = await send(make_provider(), "+1415555123")
        assert "+1415555123" not in result.error.message
        assert result.error.message.startswith("+********23")


class TestTwilioErrors:
    @pytest.mark.parametrize(
        ("code", "text"),
        [
            (21211, "The 'To' number +14155552671 is not a valid phone number."),
            (21610, "Attempt to send to unsubscribed recipient"),
            (21614, "'To' number is not a valid mobile number"),
            (30006, "Landline or unreachable carrier"),
        ],
    )
    async def test_recipient_errors_are_permanent(
        self, make_provider: MakeProvider, twilio: Any, code: int, text: str
    ) -> None:
        """Twilio's recipient errors fail permanently with a twilio.<code> code."""
        twilio.reply_error(code, text)
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert result.error is not None
        assert result.error.code == f"twilio.{code}"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert f"https://www.twilio.com/docs/errors/{code}" in result.error.message

    async def test_numbers_in_twilio_messages_are_masked(self, make_provider: MakeProvider, twilio: Any) -> None:
        """Twilio quotes the number in its message; the returned error masks it."""
        twilio.reply_error(21211, "The 'To' number +14155552671 is not a valid phone number.")
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert "+14155552671" not in result.error.message
        assert "+*********71" in result.error.message

    async def test_too_many_requests_is_transient_with_retry_after(
        self, make_provider: MakeProvider, twilio: Any
    ) -> None:
        """20429 is transient and carries the Retry-After hint."""
        twilio.reply_error(20429, "Too Many Requests", 429, Retry_After="7")
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert result.error is not None
        assert result.error.code == "twilio.20429"
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 7.0

    async def test_server_error_with_twilio_body_is_transient(self, make_provider: MakeProvider, twilio: Any) -> None:
        """A 5xx with a Twilio code is transient, keeping the code."""
        twilio.reply_error(20500, "Internal Server Error", 500)
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert result.error is not None
        assert result.error.code == "twilio.20500"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_gateway_page_without_json_is_transient(self, make_provider: MakeProvider, twilio: Any) -> None:
        """A 503 HTML page from a proxy falls back to the HTTP status mapping."""
        twilio.reply(503, "<html>Service Unavailable</html>", Retry_After="2")
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert result.error is not None
        assert result.error.code == ErrorCode.SERVICE_UNAVAILABLE
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 2.0

    async def test_other_client_errors_are_permanent(self, make_provider: MakeProvider, twilio: Any) -> None:
        """An unlisted 4xx code is permanent and keeps Twilio's code."""
        twilio.reply_error(21408, "Permission to send an SMS has not been enabled for the region")
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert result.error is not None
        assert result.error.code == "twilio.21408"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_wrong_auth_token_raises_configuration_error(self, make_provider: MakeProvider) -> None:
        """Twilio's 20003 (Authenticate) is a configuration mistake and raises, naming the settings."""
        with pytest.raises(ConfigurationError, match="account_sid and auth_token"):
            await send(make_provider(auth_token="wrong"), "+14155552671")

    async def test_created_as_failed_is_permanent(self, make_provider: MakeProvider, twilio: Any) -> None:
        """A 201 whose resource already says failed is a permanent failure with its error code."""
        twilio.reply(201, {"sid": "SM1", "status": "failed", "error_code": 30007, "error_message": "Carrier filtered"})
        result = await send(make_provider(), twilio.TO_NUMBER)
        assert result.error is not None
        assert result.error.code == "twilio.30007"
        assert result.error.error_class is ErrorClass.PERMANENT


class TestTimeouts:
    async def test_read_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, twilio: Any) -> None:
        """Twilio received the request but did not answer in time: the SMS may have gone out."""
        twilio.reply(201, {"sid": "SMlate", "status": "queued"}, delay=1.0)
        result = await send(make_provider(timeout=0.2), twilio.TO_NUMBER)
        assert result.status == "unknown"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.TIMEOUT
        assert len(twilio.received) == 1


class TestHealth:
    async def test_health_fetches_the_account(self, make_provider: MakeProvider, twilio: Any) -> None:
        """health() is one authenticated GET of the account resource."""
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy, health.detail
        assert health.latency_ms is not None
        assert twilio.account_fetches == 1
        assert twilio.received == []

    async def test_rejected_credentials_are_unhealthy(self, make_provider: MakeProvider) -> None:
        """A 401 on the account resource makes the provider unhealthy instead of raising."""
        provider = make_provider(auth_token="wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "credentials" in health.detail

    async def test_suspended_account_is_unhealthy(self, make_provider: MakeProvider, twilio: Any) -> None:
        """An account Twilio reports as suspended cannot send."""
        twilio.account_status = "suspended"
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "suspended" in health.detail


class TestSecrecy:
    async def test_logs_hold_no_token_and_no_full_number(self, make_provider: MakeProvider, twilio: Any) -> None:
        """Neither the auth token nor the recipient's full number is logged."""
        twilio.reply_error(21211, "The 'To' number +14155552671 is not a valid phone number.")
        with structlog.testing.capture_logs() as logs:
            await send(make_provider(), twilio.TO_NUMBER)
            await send(make_provider(), twilio.TO_NUMBER)
        assert logs
        text = repr(logs)
        assert twilio.AUTH_TOKEN not in text
        assert "14155552671" not in text

    def test_not_idempotent(self, make_provider: MakeProvider) -> None:
        """Twilio's Messages API takes no idempotency key, so sends are not declared idempotent."""
        assert make_provider().idempotent is False
