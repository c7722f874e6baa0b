"""``slack``: chat.postMessage against the local Web API."""

from __future__ import annotations

from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    MemoryProvider,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio_slack import SlackProvider


def make(slack: Any, **overrides: Any) -> SlackProvider:
    settings: dict[str, Any] = {"token": slack.TOKEN, "base_url": slack.api_url, "timeout": 5.0}
    settings.update(overrides)
    return SlackProvider(**settings)


async def send(provider: SlackProvider, message: Message, address: str) -> DeliveryResult:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


async def test_post_message_wire_shape(slack: Any) -> None:
    """One JSON chat.postMessage with the bearer token; the ts comes back as the message id."""
    message = Message(recipient=Recipient(addresses={"slack": slack.CHANNEL}), text="disk full", subject="db-1")
    result = await send(make(slack), message, slack.CHANNEL)
    assert result.ok, result.error
    assert result.provider_message_id == "1767225600.000001"
    (call,) = slack.calls
    assert call.path == "/api/chat.postMessage"
    assert call.headers["Authorization"] == f"Bearer {slack.TOKEN}"
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.body == {
        "channel": slack.CHANNEL,
        "text": "*db-1*\ndisk full",
        "mrkdwn": True,
        "unfurl_links": False,
        "unfurl_media": False,
    }


@pytest.mark.parametrize("address", ["", "general", "C01 23", "https://slack.com"])
async def test_bad_address_is_refused_without_a_request(slack: Any, address: str) -> None:
    result = await send(make(slack), Message(recipient="x", text="hi"), address)
    assert result.error is not None
    assert result.error.code == ErrorCode.INVALID_RECIPIENT
    assert slack.calls == []


async def test_attachments_are_refused_not_dropped(slack: Any) -> None:
    """A message with files fails permanently so the orchestrator can use another channel."""
    message = Message(recipient="x", text="report", attachments=(Attachment(filename="a.txt", content=b"a"),))
    result = await send(make(slack), message, slack.CHANNEL)
    assert result.error is not None
    assert result.error.code == "slack.attachments_unsupported"
    assert result.error.error_class is ErrorClass.PERMANENT
    assert slack.calls == []


@pytest.mark.parametrize(
    ("channel", "code"), [("C0ARCHIVED1", "slack.is_archived"), ("C0NOPE", "slack.channel_not_found")]
)
async def test_channel_errors_are_permanent(slack: Any, channel: str, code: str) -> None:
    result = await send(make(slack), Message(recipient="x", text="hi"), channel)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.code == code
    assert result.error.error_class is ErrorClass.PERMANENT


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        ("msg_too_long", ErrorClass.PERMANENT),
        ("not_in_channel", ErrorClass.PERMANENT),
        ("restricted_action", ErrorClass.PERMANENT),
        ("service_unavailable", ErrorClass.TRANSIENT),
        ("request_timeout", ErrorClass.TRANSIENT),
        ("internal_error", ErrorClass.AMBIGUOUS),
        ("fatal_error", ErrorClass.AMBIGUOUS),
        ("Some New Error!", ErrorClass.PERMANENT),
    ],
)
async def test_documented_error_strings(slack: Any, error: str, error_class: ErrorClass) -> None:
    slack.reply(200, {"ok": False, "error": error})
    result = await send(make(slack), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert result.error is not None
    assert result.error.error_class is error_class
    assert result.error.code.startswith("slack.")
    assert " " not in result.error.code
    assert "!" not in result.error.code


async def test_rate_limit_carries_retry_after(slack: Any) -> None:
    slack.reply(429, {"ok": False, "error": "ratelimited"}, Retry_After="30")
    result = await send(make(slack), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert result.error is not None
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.error_class is ErrorClass.TRANSIENT
    assert result.error.retry_after == 30.0


async def test_200_without_slacks_answer_is_ambiguous(slack: Any) -> None:
    slack.reply(200, "<html>welcome to the hotel wifi</html>")
    result = await send(make(slack), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert result.status == "unknown"
    assert result.error is not None
    assert result.error.code == "slack.unreadable_answer"


async def test_proxy_5xx_is_transient(slack: Any) -> None:
    slack.reply(503, "<html>upstream down</html>", Retry_After="7")
    result = await send(make(slack), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert result.error is not None
    assert result.error.error_class is ErrorClass.TRANSIENT
    assert result.error.code == ErrorCode.SERVICE_UNAVAILABLE
    assert result.error.retry_after == 7.0


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive", "token_revoked", "missing_scope"])
async def test_credential_errors_raise(slack: Any, error: str) -> None:
    slack.reply(200, {"ok": False, "error": error})
    with pytest.raises(ConfigurationError, match=error) as info:
        await send(make(slack), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert slack.TOKEN not in str(info.value)


async def test_wrong_token_raises_from_the_server_check(slack: Any) -> None:
    """The fake checks the bearer token as Slack does: a wrong one is invalid_auth."""
    wrong = "xoxb-1111111111-2222222222-ZzZzZzZzZzZzZzZzZzZzZzZz"
    with pytest.raises(ConfigurationError, match="invalid_auth") as info:
        await send(make(slack, token=wrong), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert wrong not in str(info.value)


async def test_timeout_after_sending_is_ambiguous(slack: Any) -> None:
    slack.reply(200, {"ok": True, "ts": "1.2"}, delay=1.0)
    result = await send(make(slack, timeout=0.2), Message(recipient="x", text="hi"), slack.CHANNEL)
    assert result.status == "unknown"
    assert result.error is not None
    assert result.error.error_class is ErrorClass.AMBIGUOUS
    assert len(slack.calls) == 1


async def test_orchestrator_waits_out_retry_after(slack: Any) -> None:
    slack.reply(429, {"ok": False, "error": "ratelimited"}, Retry_After="3")
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make(slack)],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(
            Message(recipient=Recipient(addresses={"slack": slack.CHANNEL}), text="again")
        )
    assert result.ok, result.error
    assert clock.sleeps == [3.0]
    assert len(slack.calls) == 2


async def test_archived_channel_falls_back(slack: Any) -> None:
    email = MemoryProvider(name="email", channel="email")
    orchestrator = Orchestrator(
        [make(slack), email],
        retry=RetryPolicy(max_attempts=3, backoff="none"),
        clock=FakeClock(),
        plugin_manager=isolated_plugin_manager(),
    )
    recipient = Recipient(addresses={"slack": slack.ARCHIVED}, email="ada@example.com")
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=recipient, text="x"))
    assert result.provider == "email"
    assert len(slack.calls) == 1


async def test_health_is_auth_test(slack: Any) -> None:
    provider = make(slack)
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert health.healthy, health.detail
    assert health.detail == "authenticated as broadcastio in Acme"
    assert slack.calls == []


async def test_health_with_a_bad_token_is_unhealthy(slack: Any) -> None:
    provider = make(slack, token="xoxb-1111111111-2222222222-ZzZzZzZzZzZzZzZzZzZzZzZz")
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert not health.healthy
    assert "invalid_auth" in health.detail


@pytest.mark.parametrize("token", ["", "xoxq", "Bearer xoxb-123", "abc-1234567890123", None])
def test_malformed_token_raises_without_echoing(token: Any) -> None:
    with pytest.raises(ConfigurationError, match="token") as info:
        SlackProvider(token=token)
    if token:
        assert token not in str(info.value)


def test_repr_and_defaults() -> None:
    provider = SlackProvider(token="xoxb-1234567890-0987654321-secretsecret")
    assert "secretsecret" not in repr(provider)
    assert provider.idempotent is False
    assert provider.channel == "slack"
