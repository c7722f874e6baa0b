"""Sending through the local Vonage stand-in: wire shape, results and error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import ConfigurationError, ErrorClass, ErrorCode, Message, Metadata
from broadcastio_vonage import VonageSmsProvider

MakeProvider = Callable[..., VonageSmsProvider]
ERRORS = "https://developer.vonage.com/api-errors/messages"


async def send(provider: VonageSmsProvider, address: str, text: str = "hello", **meta: Any) -> Any:
    message = Message(recipient=address, text=text, metadata=Metadata(**meta))
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


def problem(code: str, title: str, detail: str = "") -> dict[str, Any]:
    return {"type": f"{ERRORS}#{code}", "title": title, "detail": detail, "instance": "trace-1"}


class TestRequest:
    async def test_messages_body(self, make_provider: MakeProvider, vonage: Any) -> None:
        """channel sms, message_type text, to/from as E.164 digits without +, text, client_ref = idempotency key."""
        result = await send(make_provider(), "+44 7700 900000", "Your code is 123456", idempotency_key="otp-7")
        assert result.ok, result.error
        assert result.provider_message_id == "aaaaaaaa-bbbb-cccc-dddd-000000000001"
        assert vonage.received == [
            {
                "message_type": "text",
                "channel": "sms",
                "to": "447700900000",
                "from": "447700900001",
                "text": "Your code is 123456",
                "client_ref": "otp-7",
            }
        ]

    async def test_alphanumeric_sender(self, make_provider: MakeProvider, vonage: Any) -> None:
        result = await send(make_provider(from_number="Acme"), vonage.TO)
        assert result.ok, result.error
        assert vonage.received[0]["from"] == "Acme"

    async def test_long_key_is_not_sent_as_client_ref(self, make_provider: MakeProvider, vonage: Any) -> None:
        """client_ref holds up to 100 characters: a longer key is left out, not cut."""
        result = await send(make_provider(), vonage.TO, idempotency_key="k" * 150)
        assert result.ok, result.error
        assert "client_ref" not in vonage.received[0]

    async def test_invalid_number_fails_without_request(self, make_provider: MakeProvider, vonage: Any) -> None:
        """A national or malformed number is a permanent invalid_recipient, nothing is sent, the number masked."""
        result = await send(make_provider(), "07700 900000")
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert "900000" not in result.error.message
        assert vonage.received == []


class TestErrors:
    async def test_invalid_params_422_is_permanent(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.reply(422, problem("1020", "Invalid params", "The value of one or more parameters is invalid."))
        result = await send(make_provider(), vonage.TO)
        assert result.error.code == "vonage.1020"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_barred_number_masked(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.reply(422, problem("1050", "Number barred", "The number +447700900000 is barred."))
        result = await send(make_provider(), vonage.TO)
        assert result.error.code == "vonage.1050"
        assert "447700900000" not in result.error.message

    async def test_unknown_422_is_permanent(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.reply(422, problem("1999", "Something new"))
        result = await send(make_provider(), vonage.TO)
        assert result.error.code == "vonage.1999"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_throttled_429(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.reply(429, problem("1000", "Throttled", "You have exceeded the submission capacity"), Retry_After="2")
        result = await send(make_provider(), vonage.TO)
        assert result.error.code == "vonage.1000"
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 2.0

    @pytest.mark.parametrize("status", [500, 503])
    async def test_5xx_transient(self, make_provider: MakeProvider, vonage: Any, status: int) -> None:
        vonage.reply(status, "<html>error</html>")
        result = await send(make_provider(), vonage.TO)
        assert result.error.code == f"vonage.http_{status}"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_wrong_secret_raises(self, make_provider: MakeProvider, vonage: Any) -> None:
        """The fake refuses wrong credentials with 401 problem JSON: a configuration error, secret not shown."""
        with pytest.raises(ConfigurationError) as raised:
            await send(make_provider(api_secret="wrong-secret"), vonage.TO)
        assert "wrong-secret" not in str(raised.value)

    async def test_barred_account_raises(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.reply(403, problem("1060", "Partner account barred"))
        with pytest.raises(ConfigurationError, match="1060"):
            await send(make_provider(), vonage.TO)

    async def test_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.reply(202, {"message_uuid": "late"}, delay=1.0)
        result = await send(make_provider(timeout=0.2), vonage.TO)
        assert result.error.error_class is ErrorClass.AMBIGUOUS


class TestConfigAndHealth:
    def test_bad_sender_raises(self) -> None:
        with pytest.raises(ConfigurationError, match="from_number"):
            VonageSmsProvider(api_key="k", api_secret="s", from_number="not a valid sender!")

    def test_not_idempotent(self, make_provider: MakeProvider) -> None:
        assert make_provider().idempotent is False

    async def test_no_credit_is_unhealthy(self, make_provider: MakeProvider, vonage: Any) -> None:
        vonage.balance = 0.0
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "credit" in health.detail

    async def test_wrong_secret_is_unhealthy(self, make_provider: MakeProvider) -> None:
        provider = make_provider(api_secret="wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
