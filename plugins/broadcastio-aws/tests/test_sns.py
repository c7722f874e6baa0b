"""``sns`` against the local SNS: Publish parameters, XML results and error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import ConfigurationError, ErrorClass, ErrorCode, Message
from broadcastio_aws import SnsProvider

MakeSns = Callable[..., SnsProvider]


async def send(provider: SnsProvider, address: str, text: str = "hello") -> Any:
    try:
        return await provider.send(Message(recipient=address, text=text), address)
    finally:
        await provider.aclose()


class TestRequest:
    async def test_publish_parameters(self, make_sns: MakeSns, sns: Any) -> None:
        """Action=Publish, Version, PhoneNumber in E.164, Message, and SMS attributes as MessageAttributes entries."""
        provider = make_sns(sender_id="Acme", origination_number="+1 206 555 0199")
        result = await send(provider, "+1 (206) 555-0100", "Your code is 123456")
        assert result.ok, result.error
        assert result.provider_message_id == "567910cd-659e-55d4-8ccb-000000000001"
        assert sns.received == [
            [
                ("Action", "Publish"),
                ("Version", "2010-03-31"),
                ("PhoneNumber", "+12065550100"),
                ("Message", "Your code is 123456"),
                ("MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType"),
                ("MessageAttributes.entry.1.Value.DataType", "String"),
                ("MessageAttributes.entry.1.Value.StringValue", "Transactional"),
                ("MessageAttributes.entry.2.Name", "AWS.SNS.SMS.SenderID"),
                ("MessageAttributes.entry.2.Value.DataType", "String"),
                ("MessageAttributes.entry.2.Value.StringValue", "Acme"),
                ("MessageAttributes.entry.3.Name", "AWS.MM.SMS.OriginationNumber"),
                ("MessageAttributes.entry.3.Value.DataType", "String"),
                ("MessageAttributes.entry.3.Value.StringValue", "+12065550199"),
            ]
        ]

    async def test_invalid_number_fails_without_request(self, make_sns: MakeSns, sns: Any) -> None:
        result = await send(make_sns(), "206 555 0100")
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert "0100" not in result.error.message
        assert sns.received == []

    def test_bad_settings_raise(self) -> None:
        keys = {"access_key_id": "AKID", "secret_access_key": "s", "region": "eu-west-1"}
        with pytest.raises(ConfigurationError, match="sms_type"):
            SnsProvider(sms_type="Urgent", **keys)
        with pytest.raises(ConfigurationError, match="sender_id"):
            SnsProvider(sender_id="Way Too Long Sender", **keys)


class TestErrors:
    async def test_invalid_phone_parameter_is_invalid_recipient(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply_error(400, "InvalidParameter", "Invalid parameter: PhoneNumber Reason: +12065550100 is not valid")
        result = await send(make_sns(), sns.PHONE)
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert "12065550100" not in result.error.message

    async def test_other_invalid_parameter_is_permanent(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply_error(400, "InvalidParameter", "Invalid parameter: Message too long")
        result = await send(make_sns(), sns.PHONE)
        assert result.error.code == "sns.InvalidParameter"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_throttling_is_transient(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply_error(400, "Throttling", "Rate exceeded", Retry_After="2")
        result = await send(make_sns(), sns.PHONE)
        assert result.error.code == "sns.Throttling"
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 2.0

    async def test_internal_error_is_transient(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply_error(500, "InternalError", "internal")
        result = await send(make_sns(), sns.PHONE)
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_non_xml_503_is_transient(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply(503, "<html>busy</html")
        result = await send(make_sns(), sns.PHONE)
        assert result.error.code == "sns.http_503"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_authorization_error_raises(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply_error(403, "AuthorizationError", "User is not authorized to perform: SNS:Publish")
        with pytest.raises(ConfigurationError, match="AuthorizationError"):
            await send(make_sns(), sns.PHONE)

    async def test_timeout_after_sending_is_ambiguous(self, make_sns: MakeSns, sns: Any) -> None:
        sns.reply(200, "<PublishResponse/>", delay=1.0)
        result = await send(make_sns(timeout=0.2), sns.PHONE)
        assert result.error.error_class is ErrorClass.AMBIGUOUS


class TestHealth:
    async def test_wrong_key_is_unhealthy(self, make_sns: MakeSns) -> None:
        provider = make_sns(secret_access_key="wrong")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "SignatureDoesNotMatch" in health.detail

    def test_not_idempotent(self, make_sns: MakeSns) -> None:
        assert make_sns().idempotent is False
