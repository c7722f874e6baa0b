"""Sending through a local Bot API stand-in: requests, documents, results and error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import Attachment, ConfigurationError, ErrorClass, ErrorCode, Message, Metadata
from broadcastio_telegram import TelegramProvider

MakeProvider = Callable[..., TelegramProvider]
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


async def send(provider: TelegramProvider, message: Message, address: str) -> Any:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


class TestText:
    async def test_send_message_fields(self, make_provider: MakeProvider, bot: Any) -> None:
        """sendMessage gets chat_id and text; the message id comes back."""
        result = await send(make_provider(), Message(recipient=bot.CHAT, text="Disk 91% full"), bot.CHAT)
        assert result.ok, result.error
        assert result.provider_message_id == "1"
        (call,) = bot.calls
        assert call.method == "sendMessage"
        assert call.content_type == "application/json"
        assert call.fields == {"chat_id": bot.CHAT, "text": "Disk 91% full"}

    async def test_parse_mode_and_silent_low_priority(self, make_provider: MakeProvider, bot: Any) -> None:
        """The configured parse_mode is sent, and a low-priority message goes out without a notification."""
        message = Message(recipient=bot.CHAT, text="<b>nightly</b> ok", metadata=Metadata(priority="low"))
        result = await send(make_provider(parse_mode="HTML"), message, bot.CHAT)
        assert result.ok, result.error
        assert bot.calls[0].fields == {
            "chat_id": bot.CHAT,
            "text": "<b>nightly</b> ok",
            "parse_mode": "HTML",
            "disable_notification": "True",
        }

    async def test_channel_username(self, make_provider: MakeProvider, bot: Any) -> None:
        """A public channel's @username is a valid address."""
        result = await send(make_provider(), Message(recipient=bot.CHANNEL, text="release 1.2"), bot.CHANNEL)
        assert result.ok, result.error
        assert bot.calls[0].fields["chat_id"] == bot.CHANNEL

    @pytest.mark.parametrize("address", ["not a chat", "@ab", "12a34", "+14155552671"])
    async def test_malformed_chat_is_invalid_recipient(
        self, make_provider: MakeProvider, bot: Any, address: str
    ) -> None:
        """An address that cannot be a chat fails permanently as invalid_recipient without a request."""
        result = await send(make_provider(), Message(recipient=address, text="x"), address)
        assert result.error is not None
        assert result.error.code == ErrorCode.INVALID_RECIPIENT
        assert result.error.error_class is ErrorClass.PERMANENT
        assert bot.calls == []

    async def test_too_long_plain_text_fails_without_a_request(self, make_provider: MakeProvider, bot: Any) -> None:
        """Plain text over 4096 characters cannot be one Telegram message: permanent, nothing sent."""
        result = await send(make_provider(), Message(recipient=bot.CHAT, text="x" * 4097), bot.CHAT)
        assert result.error is not None
        assert result.error.code == "telegram.message_too_long"
        assert bot.calls == []

    async def test_html_only_message_is_rejected(self, make_provider: MakeProvider, bot: Any) -> None:
        """A message with only an HTML body has nothing Telegram can show."""
        result = await send(make_provider(), Message(recipient=bot.CHAT, text="", html="<p>hi</p>"), bot.CHAT)
        assert result.error is not None
        assert result.error.code == ErrorCode.REJECTED
        assert bot.calls == []


class TestDocuments:
    async def test_documents_are_uploaded_with_the_text_as_first_caption(
        self, make_provider: MakeProvider, bot: Any
    ) -> None:
        """Each attachment is one multipart sendDocument; the server receives the exact bytes."""
        message = Message(
            recipient=bot.CHAT,
            text="Monthly report",
            attachments=(
                Attachment(filename="report.pdf", content=PDF, mime_type="application/pdf"),
                Attachment(filename="data.csv", content=b"a,b\n1,2\n", mime_type="text/csv"),
            ),
        )
        result = await send(make_provider(), message, bot.CHAT)
        assert result.ok, result.error
        assert result.provider_message_id == "1,2"
        first, second = bot.calls
        assert first.method == second.method == "sendDocument"
        assert first.content_type == "multipart/form-data"
        assert first.fields == {"chat_id": bot.CHAT, "caption": "Monthly report"}
        assert first.document == ("report.pdf", "application/pdf", PDF)
        assert second.fields == {"chat_id": bot.CHAT}
        assert second.document == ("data.csv", "text/csv", b"a,b\n1,2\n")

    async def test_long_text_goes_first_as_its_own_message(self, make_provider: MakeProvider, bot: Any) -> None:
        """Text longer than a caption is sent with sendMessage, then the document without a caption."""
        text = "y" * 1025
        message = Message(recipient=bot.CHAT, text=text, attachments=(Attachment(filename="a.bin", content=b"\0\1"),))
        result = await send(make_provider(), message, bot.CHAT)
        assert result.ok, result.error
        assert [call.method for call in bot.calls] == ["sendMessage", "sendDocument"]
        assert bot.calls[0].fields["text"] == text
        assert "caption" not in bot.calls[1].fields
        assert bot.calls[1].document == ("a.bin", "application/octet-stream", b"\0\1")

    async def test_document_without_text_has_no_caption(self, make_provider: MakeProvider, bot: Any) -> None:
        """An attachment-only message uploads the document alone."""
        message = Message(recipient=bot.CHAT, text="", attachments=(Attachment(filename="a.txt", content=b"abc"),))
        result = await send(make_provider(parse_mode="MarkdownV2"), message, bot.CHAT)
        assert result.ok, result.error
        assert bot.calls[0].fields == {"chat_id": bot.CHAT}

    async def test_caption_carries_parse_mode(self, make_provider: MakeProvider, bot: Any) -> None:
        """A formatted caption is sent with the parse mode."""
        message = Message(recipient=bot.CHAT, text="*bold*", attachments=(Attachment(filename="a.txt", content=b"a"),))
        result = await send(make_provider(parse_mode="MarkdownV2"), message, bot.CHAT)
        assert result.ok, result.error
        assert bot.calls[0].fields == {"chat_id": bot.CHAT, "caption": "*bold*", "parse_mode": "MarkdownV2"}

    async def test_failure_after_a_delivered_part_is_ambiguous(self, make_provider: MakeProvider, bot: Any) -> None:
        """When the second document fails, the first is already in the chat: retrying would repeat it."""
        message = Message(
            recipient=bot.CHAT,
            text="two parts",
            attachments=(Attachment(filename="1.txt", content=b"1"), Attachment(filename="2.txt", content=b"2")),
        )
        bot.reply(200, {"ok": True, "result": {"message_id": 77}})
        bot.reply_error(500, "Internal Server Error")
        result = await send(make_provider(), message, bot.CHAT)
        assert result.status == "unknown"
        assert result.error is not None
        assert result.error.code == "telegram.partial_delivery"
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert "77" in result.error.message
        assert "server_error" in result.error.message


class TestBotApiErrors:
    async def test_too_many_requests_honours_retry_after(self, make_provider: MakeProvider, bot: Any) -> None:
        """429 is transient and carries parameters.retry_after."""
        bot.reply_error(429, "Too Many Requests: retry after 5", retry_after=5)
        result = await send(make_provider(), Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        assert result.error is not None
        assert result.error.code == ErrorCode.RATE_LIMITED
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.retry_after == 5.0

    async def test_unknown_chat_is_chat_not_found(self, make_provider: MakeProvider, bot: Any) -> None:
        """Telegram's 400 "chat not found" is permanent telegram.chat_not_found."""
        result = await send(make_provider(), Message(recipient="987654321", text="x"), "987654321")
        assert result.error is not None
        assert result.error.code == "telegram.chat_not_found"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.message == "Bad Request: chat not found"

    async def test_blocked_bot_is_permanent(self, make_provider: MakeProvider, bot: Any) -> None:
        """403 "bot was blocked by the user" is permanent telegram.bot_blocked."""
        result = await send(make_provider(), Message(recipient=bot.BLOCKED_CHAT, text="x"), bot.BLOCKED_CHAT)
        assert result.error is not None
        assert result.error.code == "telegram.bot_blocked"
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_migrated_group_names_the_new_chat(self, make_provider: MakeProvider, bot: Any) -> None:
        """A group upgraded to a supergroup fails permanently and says where it went."""
        result = await send(make_provider(), Message(recipient=bot.MIGRATED_GROUP, text="x"), bot.MIGRATED_GROUP)
        assert result.error is not None
        assert result.error.code == "telegram.chat_migrated"
        assert "-1004242" in result.error.message

    @pytest.mark.parametrize(
        ("code", "description", "expected"),
        [
            (400, "Bad Request: can't parse entities: Unsupported start tag", "telegram.cannot_parse_entities"),
            (400, "Bad Request: message is too long", "telegram.message_too_long"),
            (400, "Bad Request: wrong file identifier", "telegram.bad_request"),
            (403, "Forbidden: bot was kicked from the group chat", "telegram.bot_kicked"),
            (403, "Forbidden: user is deactivated", "telegram.user_deactivated"),
            (403, "Forbidden: not enough rights", "telegram.forbidden"),
        ],
    )
    async def test_other_client_errors_are_permanent(
        self, make_provider: MakeProvider, bot: Any, code: int, description: str, expected: str
    ) -> None:
        """Other 400 and 403 answers are permanent, with a code from the description when it is a known one."""
        bot.reply_error(code, description)
        result = await send(make_provider(), Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        assert result.error is not None
        assert result.error.code == expected
        assert result.error.error_class is ErrorClass.PERMANENT

    async def test_server_errors_are_transient(self, make_provider: MakeProvider, bot: Any) -> None:
        """A 5xx answer, JSON or a proxy's HTML page, is transient."""
        bot.reply_error(500, "Internal Server Error")
        bot.reply(502, "<html><body>502 Bad Gateway</body></html>", Retry_After="4")
        provider = make_provider()
        try:
            first = await provider.send(Message(recipient=bot.CHAT, text="x"), bot.CHAT)
            second = await provider.send(Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        finally:
            await provider.aclose()
        assert first.error.error_class is ErrorClass.TRANSIENT
        assert first.error.code == ErrorCode.SERVER_ERROR
        assert second.error.error_class is ErrorClass.TRANSIENT
        assert second.error.retry_after == 4.0

    async def test_rejected_token_raises(self, make_provider: MakeProvider, bot: Any) -> None:
        """401 Unauthorized means a bad token: ConfigurationError, with the token nowhere in it."""
        wrong = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDxyz"
        with pytest.raises(ConfigurationError, match="token") as info:
            await send(make_provider(token=wrong), Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        assert wrong not in str(info.value)
        assert wrong.split(":")[1] not in str(info.value)


class TestTimeouts:
    async def test_read_timeout_after_sending_is_ambiguous(self, make_provider: MakeProvider, bot: Any) -> None:
        """Telegram got the request but did not answer in time: the message may be in the chat."""
        bot.reply(200, {"ok": True, "result": {"message_id": 9}}, delay=1.0)
        result = await send(make_provider(timeout=0.2), Message(recipient=bot.CHAT, text="x"), bot.CHAT)
        assert result.status == "unknown"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.TIMEOUT
        assert bot.TOKEN not in result.error.message
        assert len(bot.calls) == 1


class TestHealth:
    async def test_get_me(self, make_provider: MakeProvider, bot: Any) -> None:
        """health() calls getMe and names the bot; nothing is sent."""
        provider = make_provider()
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy, health.detail
        assert health.detail == "bot @broadcastio_test_bot"
        assert bot.calls == []

    async def test_rejected_token_is_unhealthy(self, make_provider: MakeProvider, bot: Any) -> None:
        """A 401 on getMe makes the provider unhealthy instead of raising, and the detail hides the token."""
        wrong = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDxyz"
        provider = make_provider(token=wrong)
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "401" in health.detail
        assert wrong.split(":")[1] not in health.detail
