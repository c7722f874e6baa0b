"""``matrix``: room messages against the local homeserver."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import FakeClock, isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_matrix import MatrixProvider, transaction_id


def make(homeserver: Any, **overrides: Any) -> MatrixProvider:
    settings: dict[str, Any] = {"homeserver": homeserver.url, "access_token": homeserver.TOKEN, "timeout": 5.0}
    settings.update(overrides)
    return MatrixProvider(**settings)


async def send(provider: MatrixProvider, message: Message, room: str) -> DeliveryResult:
    try:
        return await provider.send(message, room)
    finally:
        await provider.aclose()


async def test_put_wire_shape(homeserver: Any) -> None:
    """PUT with the room id percent-encoded, a txnId from the idempotency key, the bearer token."""
    message = Message(
        recipient=Recipient(addresses={"matrix": homeserver.ROOM}),
        text="disk full",
        subject="db-1",
        html="<b>db-1</b>: disk full",
        metadata=Metadata(idempotency_key="order-42"),
    )
    result = await send(make(homeserver), message, homeserver.ROOM)
    assert result.ok, result.error
    (event,) = homeserver.events
    assert result.provider_message_id == event.event_id
    txn = transaction_id("order-42", homeserver.ROOM)
    assert event.raw_path == f"/_matrix/client/v3/rooms/%21AbCdEfGhIjKl%3Aexample.org/send/m.room.message/{txn}"
    assert event.room_id == homeserver.ROOM
    assert event.headers["Authorization"] == f"Bearer {homeserver.TOKEN}"
    assert event.content == {
        "msgtype": "m.text",
        "body": "db-1\n\ndisk full",
        "format": "org.matrix.custom.html",
        "formatted_body": "<b>db-1</b>: disk full",
    }


def test_transaction_ids_are_stable_and_per_room() -> None:
    assert transaction_id("k", "!a:x") == transaction_id("k", "!a:x")
    assert transaction_id("k", "!a:x") != transaction_id("k", "!b:x")
    assert transaction_id("k", "!a:x") != transaction_id("j", "!a:x")
    assert transaction_id("k/../?#", "!a:x").replace(".", "").isalnum()


async def test_resend_of_the_same_message_is_deduplicated(homeserver: Any) -> None:
    """The homeserver dedupes by (token, txnId): a second send of one message returns the first event."""
    message = Message(recipient=homeserver.ROOM, text="once", metadata=Metadata(idempotency_key="k-1"))
    provider = make(homeserver)
    try:
        first = await provider.send(message, homeserver.ROOM)
        second = await provider.send(message, homeserver.ROOM)
        other = await provider.send(Message(recipient=homeserver.ROOM, text="another"), homeserver.ROOM)
    finally:
        await provider.aclose()
    assert first.provider_message_id == second.provider_message_id
    assert other.provider_message_id != first.provider_message_id
    assert len(homeserver.requests) == 3
    assert len(homeserver.events) == 2


async def test_ambiguous_timeout_is_retried_without_a_duplicate(homeserver: Any) -> None:
    """The first PUT is processed but answered too late; the orchestrator retries (idempotent) and one event exists."""
    homeserver.slow(0.6)
    orchestrator = Orchestrator(
        [make(homeserver, timeout=0.2)],
        retry=RetryPolicy(max_attempts=3, backoff="none"),
        clock=FakeClock(),
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(
            Message(recipient=Recipient(addresses={"matrix": homeserver.ROOM}), text="exactly once"), trace=True
        )
    assert result.ok, result.error
    assert result.trace.attempts[0].error.error_class is ErrorClass.AMBIGUOUS
    assert len(homeserver.requests) >= 2
    assert len({path for path in homeserver.requests}) == 1
    await _settle(homeserver)
    assert len(homeserver.events) == 1
    assert result.provider_message_id == homeserver.events[0].event_id


async def _settle(homeserver: Any) -> None:
    """Wait until the server has finished every send, the slow first one included."""
    for _ in range(100):
        if homeserver.answered == len(homeserver.requests):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the homeserver did not finish the slow request")


async def test_not_joined_room_is_forbidden(homeserver: Any) -> None:
    result = await send(make(homeserver), Message(recipient="x", text="hi"), homeserver.NOT_JOINED)
    assert result.error is not None
    assert result.error.code == "matrix.M_FORBIDDEN"
    assert result.error.error_class is ErrorClass.PERMANENT


async def test_rate_limit_from_retry_after_ms(homeserver: Any) -> None:
    homeserver.limit = 0
    result = await send(make(homeserver), Message(recipient="x", text="hi"), homeserver.ROOM)
    assert result.error is not None
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.error_class is ErrorClass.TRANSIENT
    assert result.error.retry_after == 1.5


async def test_rate_limit_from_the_retry_after_header(homeserver: Any) -> None:
    homeserver.reply(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests"}, Retry_After="4")
    result = await send(make(homeserver), Message(recipient="x", text="hi"), homeserver.ROOM)
    assert result.error is not None
    assert result.error.retry_after == 4.0


async def test_orchestrator_waits_out_the_rate_limit(homeserver: Any) -> None:
    homeserver.reply(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 2000})
    clock = FakeClock()
    orchestrator = Orchestrator(
        [make(homeserver)],
        retry=RetryPolicy(max_attempts=2, backoff="none"),
        clock=clock,
        plugin_manager=isolated_plugin_manager(),
    )
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=Recipient(addresses={"matrix": homeserver.ROOM}), text="x"))
    assert result.ok, result.error
    assert clock.sleeps == [2.0]
    assert len(homeserver.events) == 1


@pytest.mark.parametrize(
    ("status", "body", "code", "error_class"),
    [
        (400, {"errcode": "M_BAD_JSON", "error": "bad"}, "matrix.M_BAD_JSON", ErrorClass.PERMANENT),
        (413, {"errcode": "M_TOO_LARGE", "error": "too big"}, "matrix.M_TOO_LARGE", ErrorClass.PERMANENT),
        (404, {"errcode": "M_NOT_FOUND", "error": "no room"}, "matrix.M_NOT_FOUND", ErrorClass.PERMANENT),
        (500, {"errcode": "M_UNKNOWN", "error": "oops"}, "matrix.M_UNKNOWN", ErrorClass.TRANSIENT),
        (502, "<html>Bad Gateway</html>", ErrorCode.SERVER_ERROR, ErrorClass.TRANSIENT),
        (200, {"unexpected": True}, "matrix.no_event_id", ErrorClass.AMBIGUOUS),
    ],
)
async def test_documented_errors(homeserver: Any, status: int, body: Any, code: str, error_class: ErrorClass) -> None:
    homeserver.reply(status, body)
    result = await send(make(homeserver), Message(recipient="x", text="hi"), homeserver.ROOM)
    assert result.error is not None
    assert result.error.code == code
    assert result.error.error_class is error_class


async def test_unknown_token_raises(homeserver: Any) -> None:
    """The fake checks the token as a homeserver does: a wrong one is 401 M_UNKNOWN_TOKEN."""
    token = "syt_wrong_token_value"
    with pytest.raises(ConfigurationError, match="M_UNKNOWN_TOKEN") as info:
        await send(make(homeserver, access_token=token), Message(recipient="x", text="hi"), homeserver.ROOM)
    assert token not in str(info.value)


async def test_missing_token_raises(homeserver: Any) -> None:
    homeserver.reply(401, {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
    with pytest.raises(ConfigurationError, match="M_MISSING_TOKEN"):
        await send(make(homeserver), Message(recipient="x", text="hi"), homeserver.ROOM)


async def test_alias_is_resolved_then_sent_to_the_room(homeserver: Any) -> None:
    message = Message(recipient="x", text="via alias", metadata=Metadata(idempotency_key="a-1"))
    result = await send(make(homeserver), message, homeserver.ALIAS)
    assert result.ok, result.error
    assert homeserver.resolved == ["/_matrix/client/v3/directory/room/%23ops%3Aexample.org"]
    (event,) = homeserver.events
    assert event.room_id == homeserver.ROOM
    assert event.txn_id == transaction_id("a-1", homeserver.ROOM)


async def test_unknown_alias_is_permanent(homeserver: Any) -> None:
    result = await send(make(homeserver), Message(recipient="x", text="hi"), "#nowhere:example.org")
    assert result.error is not None
    assert result.error.code == "matrix.M_NOT_FOUND"
    assert result.error.error_class is ErrorClass.PERMANENT
    assert homeserver.requests == []


async def test_alias_lookup_that_fails_in_transit_is_transient(homeserver: Any) -> None:
    """The directory look-up sends no message, so even its timeout is transient, not ambiguous."""
    unreachable = f"http://127.0.0.1:{closed_port()}"
    provider = MatrixProvider(homeserver=unreachable, access_token=homeserver.TOKEN, timeout=2.0)
    result = await send(provider, Message(recipient="x", text="hi"), homeserver.ALIAS)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_class is ErrorClass.TRANSIENT
    assert "alias" in result.error.message


@pytest.mark.parametrize("room", ["#no-server", "AbC:example.org", "! spaced:example.org", ""])
async def test_bad_room_is_refused_without_a_request(homeserver: Any, room: str) -> None:
    result = await send(make(homeserver), Message(recipient="x", text="hi"), room)
    assert result.error is not None
    assert result.error.code == ErrorCode.INVALID_RECIPIENT
    assert homeserver.requests == []


async def test_room_version_12_ids_are_accepted(homeserver: Any) -> None:
    homeserver.joined.add("!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM")
    result = await send(
        make(homeserver), Message(recipient="x", text="hi"), "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
    )
    assert result.ok, result.error


async def test_attachments_are_refused_not_dropped(homeserver: Any) -> None:
    message = Message(recipient="x", text="f", attachments=(Attachment(filename="a.txt", content=b"a"),))
    result = await send(make(homeserver), message, homeserver.ROOM)
    assert result.error is not None
    assert result.error.code == "matrix.attachments_unsupported"
    assert homeserver.requests == []


async def test_notice_msgtype(homeserver: Any) -> None:
    result = await send(make(homeserver, msgtype="m.notice"), Message(recipient="x", text="bot says"), homeserver.ROOM)
    assert result.ok, result.error
    assert homeserver.events[0].content == {"msgtype": "m.notice", "body": "bot says"}


async def test_health_is_whoami(homeserver: Any) -> None:
    provider = make(homeserver)
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert health.healthy, health.detail
    assert health.detail == f"logged in as {homeserver.USER}"
    assert homeserver.requests == []


async def test_health_with_a_bad_token(homeserver: Any) -> None:
    provider = make(homeserver, access_token="syt_wrong_token_value")
    try:
        health = await provider.health()
    finally:
        await provider.aclose()
    assert not health.healthy
    assert "M_UNKNOWN_TOKEN" in health.detail
    assert "syt_wrong_token_value" not in health.detail


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"access_token": ""}, "access_token"),
        ({"access_token": "a b"}, "access_token"),
        ({"access_token": "t", "msgtype": "m.image"}, "msgtype"),
        ({"access_token": "t", "homeserver": "matrix.example.org"}, "base_url"),
    ],
)
def test_bad_settings_raise(settings: dict[str, Any], complaint: str) -> None:
    options = {"homeserver": "https://matrix.example.org", **settings}
    with pytest.raises(ConfigurationError, match=complaint):
        MatrixProvider(**options)


def test_repr_hides_the_token() -> None:
    provider = MatrixProvider(homeserver="https://matrix.example.org", access_token="syt_secret_value")
    assert "syt_secret_value" not in repr(provider)
