"""The email provider in a campaign: pooled connections within a server's
per-client limit, stale connections replaced, bad addresses failing alone,
TLS mode mismatches as configuration errors, attachments encoded once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    Message,
    Orchestrator,
    Recipient,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio_email import EmailProvider
from broadcastio_email._budget import ByteBudget
from broadcastio_email._compose import AttachmentParts

FROM = "Alerts <alerts@example.com>"


class LimitedSMTP(SMTP):
    """aiosmtpd's SMTP refusing a client's connections past ``limit``, as postfix's
    smtpd_client_connection_count_limit does (421 4.7.0, then close)."""

    active = 0
    peak = 0
    refused = 0
    limit = 50
    lock = threading.Lock()

    async def _handle_client(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.active += 1
            over = cls.active > cls.limit
            if over:
                cls.refused += 1
            else:
                cls.peak = max(cls.peak, cls.active)
        try:
            if over:
                await self.push("421 4.7.0 Error: too many connections from 127.0.0.1")
                assert self.transport is not None
                self.transport.close()
                return
            await super()._handle_client()
        finally:
            with cls.lock:
                cls.active -= 1


class Counting:
    """Handler counting accepted messages per recipient."""

    def __init__(self) -> None:
        self.received: dict[str, int] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] = self.received.get(rcpt, 0) + 1
        return "250 OK"


class LimitedController(Controller):
    def factory(self) -> SMTP:
        return LimitedSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def limited_server() -> Iterator[tuple[Controller, Counting]]:
    LimitedSMTP.active = LimitedSMTP.peak = LimitedSMTP.refused = 0
    handler = Counting()
    controller = LimitedController(handler, hostname="127.0.0.1", port=0, server_hostname="localhost")
    controller.start()
    yield controller, handler
    controller.stop()


def provider_for(port: int, **settings: Any) -> EmailProvider:
    return EmailProvider(
        host="127.0.0.1", port=port, tls="none", from_address=FROM, local_hostname="client.test", **settings
    )


class TestConnectionLimit:
    async def test_default_broadcast_stays_under_a_50_connection_limit(
        self, limited_server: tuple[Controller, Counting]
    ) -> None:
        """1,000 messages at the default broadcast concurrency are all delivered through a server allowing 50."""
        controller, handler = limited_server
        provider = provider_for(controller.port)
        messages = [Message(recipient=f"user{n}@example.org", subject="s", text="hi") for n in range(1000)]
        async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            results = [r async for r in orchestrator.abroadcast(messages)]
        assert sum(r.ok for r in results) == 1000
        assert sorted(handler.received.values()) == [1] * 1000
        assert LimitedSMTP.refused == 0
        assert LimitedSMTP.peak <= provider.max_in_flight == 10
        assert provider._pool.opened <= 1000 // 100 + 10  # reused (100 messages each), not one per message

    async def test_the_limit_is_throttling_not_an_outage(self, limited_server: tuple[Controller, Counting]) -> None:
        """Past the server's limit the 421 is rate_limited: the breaker stays closed."""
        controller, _ = limited_server
        LimitedSMTP.limit = 2
        try:
            provider = provider_for(controller.port, max_connections=6)
            messages = [Message(recipient=f"u{n}@example.org", subject="s", text="hi") for n in range(30)]
            async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
                results = [r async for r in orchestrator.abroadcast(messages, concurrency=6)]
                assert orchestrator.breaker_state(provider.name) == "closed"
            refused = [r for r in results if not r.ok]
            assert refused, "the server refused nothing: the test did not exercise the limit"
            assert all(r.error is not None and r.error.code == ErrorCode.RATE_LIMITED for r in refused)
        finally:
            LimitedSMTP.limit = 50


class TestPool:
    async def test_sequential_sends_share_one_connection(self, limited_server: tuple[Controller, Counting]) -> None:
        """Twenty sends in a row open one connection."""
        controller, handler = limited_server
        provider = provider_for(controller.port)
        try:
            for n in range(20):
                result = await provider.send(Message(recipient="x@example.org", text=f"{n}"), f"r{n}@example.org")
                assert result.ok, result.error
        finally:
            await provider.aclose()
        assert provider._pool.opened == 1
        assert len(handler.received) == 20

    async def test_connection_retired_after_max_messages(self, limited_server: tuple[Controller, Counting]) -> None:
        """max_messages_per_connection bounds how long one connection lives."""
        controller, _ = limited_server
        provider = provider_for(controller.port, max_messages_per_connection=3)
        try:
            for n in range(7):
                assert (await provider.send(Message(recipient="x@example.org", text="t"), f"r{n}@example.org")).ok
        finally:
            await provider.aclose()
        assert provider._pool.opened == 3

    async def test_connection_closed_by_the_server_while_idle_is_replaced(self) -> None:
        """A server that drops idle clients: the next send reconnects and delivers once."""
        handler = Counting()
        controller = LimitedController(
            handler, hostname="127.0.0.1", port=0, server_hostname="localhost", server_kwargs={"timeout": 0.2}
        )
        controller.start()
        provider = provider_for(controller.port, idle_timeout=60.0)
        try:
            assert (await provider.send(Message(recipient="x@example.org", text="1"), "a@example.org")).ok
            await asyncio.sleep(0.6)  # the server's 0.2 s idle timeout closes the pooled connection
            second = await provider.send(Message(recipient="x@example.org", text="2"), "b@example.org")
            assert second.ok, second.error
        finally:
            await provider.aclose()
            controller.stop()
        assert provider._pool.opened == 2
        assert handler.received == {"a@example.org": 1, "b@example.org": 1}

    async def test_failed_transaction_does_not_return_to_the_pool(
        self, limited_server: tuple[Controller, Counting]
    ) -> None:
        """Only a connection whose transaction completed is reused."""
        controller, _ = limited_server
        provider = provider_for(controller.port)
        try:
            assert (await provider.send(Message(recipient="x@example.org", text="1"), "a@example.org")).ok
            connection, reused = await provider._pool.acquire()
            assert reused
            await provider._pool.release(connection, reusable=False)
            assert (await provider.send(Message(recipient="x@example.org", text="2"), "b@example.org")).ok
        finally:
            await provider.aclose()
        assert provider._pool.opened == 2


class TestBadRows:
    @pytest.mark.parametrize("address", ["broken@@example.test", "bob.@x", "bob smith@x", "x@y."])
    async def test_bad_address_fails_alone_and_falls_back(
        self, limited_server: tuple[Controller, Counting], address: str
    ) -> None:
        """The address check's refusal is a permanent invalid_recipient result; the next provider gets the message."""
        controller, handler = limited_server
        primary = provider_for(controller.port)
        backup = EmailProvider(
            "backup", host="127.0.0.1", port=controller.port, tls="none", from_address=FROM, local_hostname="c.test"
        )
        assert primary.preflight(Message(recipient=address, text="hi"), address) is not None
        async with Orchestrator([primary], plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = await orchestrator.asend(Message(recipient=address, text="hi"))
        assert result.error is not None
        assert (result.error.code, result.error.error_class) == (ErrorCode.INVALID_RECIPIENT, ErrorClass.PERMANENT)
        assert handler.received == {}
        await backup.aclose()

    def test_preflight_accepts_a_good_address(self) -> None:
        provider = provider_for(25)
        assert provider.preflight(Message(recipient="bob@example.org", text="hi"), "bob@example.org") is None


class TestTlsMismatch:
    async def test_implicit_tls_on_a_plain_port_is_a_configuration_error(
        self, limited_server: tuple[Controller, Counting]
    ) -> None:
        """tls='implicit' pointed at a plain SMTP port raises instead of failing transiently forever."""
        controller, _ = limited_server
        provider = EmailProvider(
            host="127.0.0.1", port=controller.port, tls="implicit", from_address=FROM, local_hostname="c.test"
        )
        with pytest.raises(ConfigurationError, match="tls='implicit'.*did not answer a TLS handshake"):
            await provider.send(Message(recipient="bob@example.org", text="hi"), "bob@example.org")
        await provider.aclose()


class TestAttachments:
    def test_one_part_per_attachment_object(self) -> None:
        """The same attachment object is encoded once; another object is encoded anew."""
        parts = AttachmentParts()
        shared = Attachment(filename="r.pdf", content=b"%PDF" * 1000, mime_type="application/pdf")
        assert parts.body(shared) is parts.body(shared)
        other = Attachment(filename="r.pdf", content=b"%PDF" * 999, mime_type="application/pdf")
        assert parts.body(other) is not parts.body(shared)

    async def test_shared_attachment_arrives_intact_for_every_recipient(self) -> None:
        """Sharing the encoded part changes nothing on the wire."""
        import email
        import email.policy

        received: list[bytes] = []

        class Keep(Counting):
            async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
                received.append(bytes(envelope.original_content))
                return "250 OK"

        controller = LimitedController(Keep(), hostname="127.0.0.1", port=0, server_hostname="localhost")
        controller.start()
        content = bytes(range(256)) * 400
        shared = Attachment(filename="data.bin", content=content, mime_type="application/octet-stream")
        provider = provider_for(controller.port)
        try:
            for n in range(3):
                message = Message(recipient="x@example.org", text="see attached", attachments=(shared,))
                assert (await provider.send(message, f"r{n}@example.org")).ok
        finally:
            await provider.aclose()
            controller.stop()
        assert len(received) == 3
        for raw in received:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            attachment = next(iter(parsed.iter_attachments()))  # type: ignore[attr-defined]
            assert attachment.get_filename() == "data.bin"
            assert attachment.get_content() == content

    async def test_large_email_is_streamed_intact(self) -> None:
        """A 2 MiB attachment goes out in chunks; aiosmtpd receives it byte for byte, dots in the text intact."""
        import email
        import email.policy

        received: list[bytes] = []

        class Keep(Counting):
            async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
                received.append(bytes(envelope.original_content))
                return "250 OK"

        controller = LimitedController(Keep(), hostname="127.0.0.1", port=0, server_hostname="localhost")
        controller.start()
        content = bytes(range(256)) * (8 * 1024)
        shared = Attachment(filename="big.bin", content=content, mime_type="application/octet-stream")
        text = "line one\n.starts with a dot\n..two dots\n."
        provider = provider_for(controller.port)
        try:
            for n in range(2):
                message = Message(recipient="x@example.org", text=text, attachments=(shared,))
                result = await provider.send(message, f"r{n}@example.org")
                assert result.ok, result.error
        finally:
            await provider.aclose()
            controller.stop()
        assert len(received) == 2
        for raw in received:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            body, attachment = list(parsed.iter_parts())  # type: ignore[attr-defined]
            assert body.get_content().replace("\r\n", "\n").rstrip("\n") == text
            assert attachment.get_content() == content


class TestByteBudget:
    async def test_budget_bounds_what_is_in_flight(self) -> None:
        """Weights in flight never exceed the limit; one larger than the limit runs alone."""
        budget = ByteBudget(100)
        inside = 0
        peak = 0

        async def task(size: int) -> None:
            nonlocal inside, peak
            weight = await budget.acquire(size)
            inside += weight
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= weight
            await budget.release(weight)

        await asyncio.gather(*(task(size) for size in [60, 60, 30, 500, 10, 90, 40]))
        assert peak <= 100

    def test_recipient_in_message_is_used(self) -> None:
        """Recipient objects still resolve through the email channel."""
        message = Message(recipient=Recipient(email="a@example.org"), text="x")
        assert message.address_for("email") == "a@example.org"
