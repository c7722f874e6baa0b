"""``slack-webhook``: posts to the local incoming webhook; the URL never leaks."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from broadcastio import ConfigurationError, DeliveryResult, ErrorClass, ErrorCode, Message
from broadcastio.testing.servers import closed_port
from broadcastio_slack import SlackWebhookProvider


def make(slack: Any, **overrides: Any) -> SlackWebhookProvider:
    settings: dict[str, Any] = {"url": slack.hook_url, "timeout": 5.0}
    settings.update(overrides)
    return SlackWebhookProvider(**settings)


async def send(provider: SlackWebhookProvider, message: Message) -> DeliveryResult:
    try:
        return await provider.send(message, "ops")
    finally:
        await provider.aclose()


async def test_post_wire_shape(slack: Any) -> None:
    result = await send(make(slack, mrkdwn=False), Message(recipient="ops", text="deploy done", subject="CI"))
    assert result.ok, result.error
    (call,) = slack.calls
    assert call.path == slack.HOOK_PATH
    assert call.headers["Content-Type"].startswith("application/json")
    assert "Authorization" not in call.headers
    assert call.body == {"text": "*CI*\ndeploy done", "mrkdwn": False}


@pytest.mark.parametrize(
    ("status", "body", "code", "error_class"),
    [
        (400, "invalid_payload", "slack.invalid_payload", ErrorClass.PERMANENT),
        (400, "user_not_found", "slack.user_not_found", ErrorClass.PERMANENT),
        (403, "action_prohibited", "slack.action_prohibited", ErrorClass.PERMANENT),
        (404, "channel_not_found", "slack.channel_not_found", ErrorClass.PERMANENT),
        (410, "channel_is_archived", "slack.channel_is_archived", ErrorClass.PERMANENT),
        (500, "rollup_error", "slack.rollup_error", ErrorClass.TRANSIENT),
        (502, "<html>bad gateway</html>", ErrorCode.SERVER_ERROR, ErrorClass.TRANSIENT),
    ],
)
async def test_documented_webhook_errors(
    slack: Any, status: int, body: str, code: str, error_class: ErrorClass
) -> None:
    slack.reply(status, body)
    result = await send(make(slack), Message(recipient="ops", text="x"))
    assert result.error is not None
    assert result.error.code == code
    assert result.error.error_class is error_class


async def test_rate_limit_carries_retry_after(slack: Any) -> None:
    slack.reply(429, "rate_limited", Retry_After="12")
    result = await send(make(slack), Message(recipient="ops", text="x"))
    assert result.error is not None
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.retry_after == 12.0


@pytest.mark.parametrize(("status", "body"), [(404, "no_service"), (403, "invalid_token"), (404, "no_team")])
async def test_removed_webhook_raises_without_the_url(slack: Any, status: int, body: str) -> None:
    slack.reply(status, body)
    with pytest.raises(ConfigurationError, match=body) as info:
        await send(make(slack), Message(recipient="ops", text="x"))
    assert slack.HOOK_PATH not in str(info.value)


async def test_unknown_hook_is_no_service(slack: Any) -> None:
    """The fake answers a URL it does not know as Slack does: 404 no_service."""
    with pytest.raises(ConfigurationError, match="no_service"):
        await send(make(slack, url=slack.url + "/services/T1/B1/revoked"), Message(recipient="ops", text="x"))


async def test_timeout_is_ambiguous_and_hides_the_url(slack: Any) -> None:
    slack.reply(200, "ok", delay=1.0)
    result = await send(make(slack, timeout=0.2), Message(recipient="ops", text="x"))
    assert result.status == "unknown"
    assert result.error is not None
    assert result.error.error_class is ErrorClass.AMBIGUOUS
    assert slack.HOOK_PATH not in result.error.message


async def test_url_never_reaches_the_logs(slack: Any, caplog: pytest.LogCaptureFixture) -> None:
    """httpx logs request URLs at INFO; the secret path is masked there and in errors."""
    secret = slack.HOOK_PATH.rsplit("/", 1)[1]
    url = f"http://127.0.0.1:{closed_port()}{slack.HOOK_PATH}"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info("HTTP Request: POST %s", url)
        down = await send(make(slack, url=url, timeout=2.0), Message(recipient="ops", text="x"))
        await send(make(slack), Message(recipient="ops", text="x"))
    assert down.error is not None
    assert secret not in down.error.message
    assert caplog.records, "the probe record was captured"
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_health_is_reachability(slack: Any) -> None:
    provider = make(slack)
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert health.healthy
    assert slack.calls == []


@pytest.mark.parametrize(
    "url", ["", "hooks.slack.com/services/x", "ftp://hooks.slack.com/x", "https://hooks.slack.com", "https://a b/c"]
)
def test_bad_url_raises_without_echoing(url: str) -> None:
    with pytest.raises(ConfigurationError, match="url") as info:
        SlackWebhookProvider(url=url)
    if "/x" in url:
        assert url not in str(info.value)


def test_repr_hides_the_url() -> None:
    provider = SlackWebhookProvider(url="https://hooks.slack.com/services/T1/B1/topsecret")
    assert "topsecret" not in repr(provider)
    assert provider.idempotent is False


def test_log_filter_masks_by_shape_only_where_it_must(caplog: pytest.LogCaptureFixture) -> None:
    """Hook paths are masked by their documented shape; short secrets do not leak into other lines."""
    SlackWebhookProvider(url="https://hooks.slack.com/services/T1/B1/x")
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info("HTTP Request: POST https://hooks.slack.com/services/T9/B9/abc x marks")
    assert caplog.records[-1].getMessage() == "HTTP Request: POST https://hooks.slack.com/services/*** x marks"
