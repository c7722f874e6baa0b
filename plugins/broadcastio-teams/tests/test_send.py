"""``teams``: Adaptive Card posts against the local Teams webhooks."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_teams import TeamsProvider


def make(teams: Any, **overrides: Any) -> TeamsProvider:
    settings: dict[str, Any] = {"url": teams.workflow_url, "timeout": 5.0}
    settings.update(overrides)
    return TeamsProvider(**settings)


async def send(provider: TeamsProvider, message: Message) -> DeliveryResult:
    try:
        return await provider.send(message, "ops")
    finally:
        await provider.aclose()


async def test_workflow_gets_an_adaptive_card(teams: Any) -> None:
    """The exact message envelope; 202 Accepted is delivered."""
    result = await send(make(teams, full_width=True), Message(recipient="ops", text="disk **full**", subject="db-1"))
    assert result.ok, result.error
    assert result.provider_message_id is None
    (post,) = teams.posts
    assert post.query["sig"] == teams.SIG
    assert post.headers["Content-Type"] == "application/json"
    assert post.body == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "db-1", "weight": "Bolder", "size": "Medium", "wrap": True},
                        {"type": "TextBlock", "text": "disk **full**", "wrap": True},
                    ],
                    "msteams": {"width": "Full"},
                },
            }
        ],
    }


async def test_legacy_incoming_webhook(teams: Any) -> None:
    result = await send(make(teams, url=teams.legacy_url), Message(recipient="ops", text="hello"))
    assert result.ok, result.error
    assert teams.posts[0].path == teams.LEGACY_PATH


async def test_legacy_relayed_throttling_is_rate_limited(teams: Any) -> None:
    """A legacy webhook reports its relay's 429 inside an HTTP 200: still a transient failure."""
    teams.reply(200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi,cv=abc")
    result = await send(make(teams, url=teams.legacy_url), Message(recipient="ops", text="x"))
    assert result.error is not None
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.error_class is ErrorClass.TRANSIENT


async def test_rate_limit_carries_retry_after(teams: Any) -> None:
    teams.reply(429, {"error": {"code": "WorkflowRequestsThrottled", "message": "throttled"}}, Retry_After="20")
    result = await send(make(teams), Message(recipient="ops", text="x"))
    assert result.error is not None
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.retry_after == 20.0
    assert "WorkflowRequestsThrottled" in result.error.message


async def test_orchestrator_waits_out_retry_after(teams: Any) -> None:
    teams.reply(429, "Too Many Requests", Retry_After="2")
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make(teams)],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=Recipient(addresses={"teams": "ops"}), text="x"))
    assert result.ok, result.error
    assert clock.sleeps == [2.0]
    assert len(teams.posts) == 2


@pytest.mark.parametrize(
    ("status", "body", "code", "error_class"),
    [
        (
            400,
            {"error": {"code": "TriggerInputSchemaMismatch", "message": "no"}},
            "teams.TriggerInputSchemaMismatch",
            ErrorClass.PERMANENT,
        ),
        (400, "Bad payload received by generic incoming webhook.", "teams.400", ErrorClass.PERMANENT),
        (413, "Request Entity Too Large", "teams.payload_too_large", ErrorClass.PERMANENT),
        (500, {"error": {"code": "InternalServerError", "message": "x"}}, ErrorCode.SERVER_ERROR, ErrorClass.TRANSIENT),
        (503, "Service Unavailable", ErrorCode.SERVICE_UNAVAILABLE, ErrorClass.TRANSIENT),
        (
            200,
            "Microsoft Teams endpoint returned HTTP error 502 with ContextId x",
            ErrorCode.SERVER_ERROR,
            ErrorClass.TRANSIENT,
        ),
    ],
)
async def test_documented_errors(teams: Any, status: int, body: Any, code: str, error_class: ErrorClass) -> None:
    teams.reply(status, body)
    result = await send(make(teams), Message(recipient="ops", text="x"))
    assert result.error is not None
    assert result.error.code == code
    assert result.error.error_class is error_class


async def test_invalid_body_is_refused_by_the_trigger(teams: Any) -> None:
    """The fake validates the envelope as the trigger does; ours passes, so prove the check is live."""
    provider = make(teams)
    try:
        response = await provider.request("POST", teams.workflow_url, json={"text": "not a card"})
    finally:
        await provider.aclose()
    assert not isinstance(response, DeliveryError)
    assert response.status_code == 400
    assert teams.posts[0].body == {"text": "not a card"}


async def test_wrong_signature_raises_without_it(teams: Any) -> None:
    wrong = teams.workflow_url.replace(teams.SIG, "WrongSignatureWrongSignature")
    with pytest.raises(ConfigurationError, match="401") as info:
        await send(make(teams, url=wrong), Message(recipient="ops", text="x"))
    assert "WrongSignatureWrongSignature" not in str(info.value)
    assert "DirectApiInvalidAuthorizationSignature" in str(info.value)


async def test_deleted_workflow_raises(teams: Any) -> None:
    gone = teams.workflow_url.replace(teams.WORKFLOW, "deadbeef")
    with pytest.raises(ConfigurationError, match="404") as info:
        await send(make(teams, url=gone), Message(recipient="ops", text="x"))
    assert teams.SIG not in str(info.value)


async def test_timeout_is_ambiguous_and_hides_the_url(teams: Any) -> None:
    teams.reply(202, "", delay=1.0)
    result = await send(make(teams, timeout=0.2), Message(recipient="ops", text="x"))
    assert result.status == "unknown"
    assert result.error is not None
    assert result.error.error_class is ErrorClass.AMBIGUOUS
    assert teams.SIG not in result.error.message


async def test_signature_never_reaches_the_logs(teams: Any, caplog: pytest.LogCaptureFixture) -> None:
    url = teams.workflow_url.replace(teams.url, f"http://127.0.0.1:{closed_port()}")
    with caplog.at_level(logging.DEBUG):
        provider = make(teams, url=url, timeout=2.0)
        logging.getLogger("httpx").info("HTTP Request: POST %s", url)
        down = await send(provider, Message(recipient="ops", text="x"))
    assert down.error is not None
    assert teams.SIG not in down.error.message
    assert caplog.records
    assert all(teams.SIG not in record.getMessage() for record in caplog.records)


async def test_attachments_are_refused_not_dropped(teams: Any) -> None:
    message = Message(recipient="ops", text="f", attachments=(Attachment(filename="a.txt", content=b"a"),))
    result = await send(make(teams), message)
    assert result.error is not None
    assert result.error.code == "teams.attachments_unsupported"
    assert teams.posts == []


async def test_oversized_card_fails_without_a_request(teams: Any) -> None:
    result = await send(make(teams), Message(recipient="ops", text="x" * 30_000))
    assert result.error is not None
    assert result.error.code == "teams.payload_too_large"
    assert teams.posts == []


async def test_health_is_reachability(teams: Any) -> None:
    provider = make(teams)
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert health.healthy, health.detail
    assert "400" in health.detail  # the trigger refuses GET, which proves it exists
    assert teams.posts == []


async def test_health_is_reachability_only_and_hides_the_url(teams: Any) -> None:
    """A deleted workflow still answers HTTP, so health says reachable; the first send raises instead."""
    provider = make(teams, url=teams.workflow_url.replace(teams.WORKFLOW, "deadbeef"))
    try:
        health = await provider.health()
        with pytest.raises(ConfigurationError):
            await provider.send(Message(recipient="ops", text="x"), "ops")
    finally:
        await provider.aclose()
    assert health.healthy
    assert "404" in health.detail
    assert teams.SIG not in health.detail


@pytest.mark.parametrize("url", ["", "example.com/hook", "ftp://example.com/x", "https://example.com", "https://a b/c"])
def test_bad_url_raises(url: str) -> None:
    with pytest.raises(ConfigurationError, match="url"):
        TeamsProvider(url=url)


def test_repr_hides_the_url() -> None:
    provider = TeamsProvider(
        url="https://example.logic.azure.com/workflows/w/triggers/manual/paths/invoke?sig=topsecret"
    )
    assert "topsecret" not in repr(provider)
    assert provider.idempotent is False


def test_short_secrets_do_not_mask_other_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """A one-letter sig is masked in URLs by shape, but never process-wide in unrelated httpx lines."""
    TeamsProvider(url="https://example.logic.azure.com/workflows/w/triggers/manual/paths/invoke?sig=x")
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info("HTTP Request: POST https://example.org/box?sig=x&y=1 extra x")
    assert caplog.records[-1].getMessage() == "HTTP Request: POST https://example.org/box?sig=***&y=1 extra x"
