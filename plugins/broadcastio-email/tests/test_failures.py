"""Failures from a real SMTP server: reply codes, lost connections, credentials, retries and fallback."""

from __future__ import annotations

import pytest
from broadcastio import (
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    MemoryProvider,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_email import EmailProvider

from .conftest import FROM, PASSWORD, TO, USERNAME, ServerFactory, SmtpServer


def plain_provider(server: SmtpServer | None = None, *, port: int | None = None, **settings: object) -> EmailProvider:
    options: dict[str, object] = {"tls": "none", "from_address": FROM, "local_hostname": "client.test", "name": "smtp"}
    options.update(settings)
    return EmailProvider(host="127.0.0.1", port=port or server.port, **options)  # type: ignore[arg-type, union-attr]


def message(text: str = "alert") -> Message:
    return Message(recipient=Recipient(email=TO, phone="+15555550100"), subject="alert", text=text)


class TestReplyCodes:
    async def test_4xx_at_data_end_is_transient_with_server_text(self, smtp_server: SmtpServer) -> None:
        """A 451 after DATA is transient, coded smtp.451, and carries the server's text."""
        smtp_server.handler.data_replies.append("451 4.3.0 Try again later")
        result = await plain_provider(smtp_server).send(message(), TO)

        assert result.status == "failed"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == "smtp.451"
        assert "Try again later" in result.error.message

    async def test_5xx_at_data_end_is_permanent(self, smtp_server: SmtpServer) -> None:
        """A 554 after DATA is permanent."""
        smtp_server.handler.data_replies.append("554 5.6.0 Message content rejected")
        result = await plain_provider(smtp_server).send(message(), TO)

        assert result.error is not None
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == "smtp.554"

    async def test_sender_refused_by_code(self, smtp_server: SmtpServer) -> None:
        """MAIL FROM refusals map by code: 4xx transient, 5xx permanent."""
        smtp_server.handler.mail_replies.extend(["421 4.7.0 Too many connections", "553 5.1.8 Sender rejected"])
        provider = plain_provider(smtp_server)
        first = await provider.send(message(), TO)
        second = await provider.send(message(), TO)

        assert first.error is not None
        assert first.error.error_class is ErrorClass.TRANSIENT
        assert first.error.code == "rate_limited"  # 421: a throttling answer, which pauses instead of tripping
        assert "SMTP 421" in first.error.message
        assert second.error is not None
        assert second.error.error_class is ErrorClass.PERMANENT
        assert second.error.code == "smtp.553"
        assert smtp_server.handler.received == []

    async def test_recipient_refused_is_reported_per_recipient_and_masked(self, smtp_server: SmtpServer) -> None:
        """A refused RCPT is smtp.recipient_refused, names the (masked) recipient and the reply, and sends no DATA."""
        smtp_server.handler.rcpt_replies.append(f"550 5.1.1 <{TO}>: user unknown")
        result = await plain_provider(smtp_server).send(message(), TO)

        assert result.error is not None
        assert result.error.code == "smtp.recipient_refused"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert "b***@example.org: 550" in result.error.message
        assert "user unknown" in result.error.message
        assert TO not in result.error.message
        assert "DATA" not in smtp_server.handler.commands

    async def test_recipient_busy_is_transient(self, smtp_server: SmtpServer) -> None:
        """A 450 mailbox-busy RCPT refusal is transient."""
        smtp_server.handler.rcpt_replies.append("450 4.2.1 Mailbox busy")
        result = await plain_provider(smtp_server).send(message(), TO)

        assert result.error is not None
        assert result.error.code == "smtp.recipient_refused"
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_auth_required_without_credentials_raises(self, smtp_server: SmtpServer) -> None:
        """A 530 'authentication required' at MAIL FROM is a configuration error."""
        smtp_server.handler.mail_replies.append("530 5.7.0 Authentication required")
        with pytest.raises(ConfigurationError, match="refused authentication"):
            await plain_provider(smtp_server).send(message(), TO)


class TestConnections:
    async def test_connection_refused_is_transient(self) -> None:
        """Nothing listening: transient connection_failed."""
        result = await plain_provider(port=closed_port()).send(message(), TO)

        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == ErrorCode.CONNECTION_FAILED

    async def test_connection_lost_after_data_is_ambiguous(self, smtp_server: SmtpServer) -> None:
        """The server takes the message then drops the connection without a reply: ambiguous."""
        smtp_server.handler.data_action = "drop"
        result = await plain_provider(smtp_server).send(message(), TO)

        assert result.status == "unknown"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.CONNECTION_FAILED
        assert len(smtp_server.handler.received) == 1  # it did arrive

    async def test_timeout_after_data_is_ambiguous(self, smtp_server: SmtpServer) -> None:
        """No reply to the end of DATA within the timeout: ambiguous timeout."""
        smtp_server.handler.data_action = "hang"
        result = await plain_provider(smtp_server, timeout=0.5).send(message(), TO)

        assert result.error is not None
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.TIMEOUT

    async def test_unreachable_is_unhealthy_and_reachable_is_healthy(self, smtp_server: SmtpServer) -> None:
        """health() connects, says EHLO and NOOP; a closed port is unhealthy."""
        healthy = await plain_provider(smtp_server).health()
        unhealthy = await plain_provider(port=closed_port(), health_timeout=1).health()

        assert healthy.healthy
        assert healthy.latency_ms is not None
        assert smtp_server.handler.commands == ["EHLO", "NOOP", "QUIT"]
        assert not unhealthy.healthy
        assert "unreachable" in unhealthy.detail
        assert smtp_server.handler.received == []


class TestCredentials:
    async def test_bad_password_raises_configuration_error(self, smtp_server_factory: ServerFactory) -> None:
        """535 from AUTH raises ConfigurationError without echoing the password."""
        server = smtp_server_factory(auth=True)
        provider = plain_provider(server, username=USERNAME, password="wrong-password")
        with pytest.raises(ConfigurationError, match="535") as caught:
            await provider.send(message(), TO)

        assert "wrong-password" not in str(caught.value)
        assert server.handler.received == []

    async def test_credentials_without_auth_offered_raise(self, smtp_server: SmtpServer) -> None:
        """Credentials for a server that offers no AUTH are a configuration error."""
        provider = plain_provider(smtp_server, username=USERNAME, password=PASSWORD)
        with pytest.raises(ConfigurationError, match="authentication is not possible"):
            await provider.send(message(), TO)


class TestThroughOrchestrator:
    async def test_4xx_then_success_on_retry(self, smtp_server: SmtpServer) -> None:
        """An injected 451 is retried once and the second attempt delivers."""
        smtp_server.handler.data_replies.append("451 4.7.1 Greylisted, try again")
        provider = plain_provider(smtp_server)
        async with Orchestrator(
            [provider], retry=RetryPolicy(max_attempts=2, backoff="none"), plugin_manager=isolated_plugin_manager()
        ) as orchestrator:
            result = await orchestrator.asend(message(), trace=True)

        assert result.ok, result.error
        assert result.provider == "smtp"
        assert result.trace is not None
        assert [attempt.ok for attempt in result.trace.attempts] == [False, True]
        assert result.trace.attempts[0].error is not None
        assert result.trace.attempts[0].error.code == "rate_limited"  # 4.7.1: a policy answer, treated as throttling
        assert len(smtp_server.handler.received) == 1

    async def test_5xx_is_not_retried_and_falls_back(self, smtp_server: SmtpServer) -> None:
        """A 554 is permanent: no retry on SMTP, fallback to the next provider delivers."""
        smtp_server.handler.data_replies.append("554 5.7.1 Rejected by policy")
        backup = MemoryProvider(name="backup-sms", channel="sms")
        async with Orchestrator(
            [plain_provider(smtp_server), backup],
            retry=RetryPolicy(max_attempts=2, backoff="none"),
            plugin_manager=isolated_plugin_manager(),
        ) as orchestrator:
            result = await orchestrator.asend(message(), trace=True)

        assert result.ok
        assert result.provider == "backup-sms"
        assert result.trace is not None
        assert [attempt.provider for attempt in result.trace.attempts] == ["smtp", "backup-sms"]
        assert smtp_server.handler.commands.count("DATA") == 1
        assert smtp_server.handler.received == []
        assert backup.calls == 1

    async def test_ambiguous_is_neither_retried_nor_fallen_back_from(self, smtp_server: SmtpServer) -> None:
        """A connection lost after DATA marks the message possibly delivered and stops there."""
        smtp_server.handler.data_action = "drop"
        backup = MemoryProvider(name="backup-sms", channel="sms")
        async with Orchestrator(
            [plain_provider(smtp_server), backup],
            retry=RetryPolicy(max_attempts=2, backoff="none"),
            plugin_manager=isolated_plugin_manager(),
        ) as orchestrator:
            result = await orchestrator.asend(message(), trace=True)

        assert result.status == "unknown"
        assert result.trace is not None
        assert result.trace.possibly_delivered
        assert backup.calls == 0
        assert len(smtp_server.handler.received) == 1
