"""End to end across packages: WhatsApp (real node-whatsapp, fake driver) falls back to email (real SMTP).

Needs broadcastio-whatsapp, broadcastio-email and aiosmtpd installed (the
``plugins_all`` session), and Node.js for the node-whatsapp service.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from broadcastio import HealthPolicy, Message, Orchestrator, Recipient, RetryPolicy
from broadcastio.testing import isolated_plugin_manager

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: node-whatsapp cannot run"),
]

broadcastio_email = pytest.importorskip("broadcastio_email", reason="broadcastio-email is not installed")
broadcastio_whatsapp = pytest.importorskip("broadcastio_whatsapp", reason="broadcastio-whatsapp is not installed")
controller_module = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is not installed")
whatsapp_testing = pytest.importorskip("broadcastio_whatsapp.testing")

PHONE = "+15550100000"
EMAIL = "ada@example.org"
SENDER = "alerts@example.com"


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


class _EphemeralController(controller_module.Controller):  # type: ignore[misc,name-defined]
    """aiosmtpd's Controller on port 0: learns the bound port before its self-check."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    controller = _EphemeralController(handler, hostname="127.0.0.1", port=0, ready_timeout=10.0)
    controller.start()
    try:
        yield handler, int(controller.port)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def service() -> Iterator[Any]:
    with whatsapp_testing.NodeWhatsAppProcess() as process:
        yield process


@pytest.fixture
def wa(service: Any) -> Iterator[Any]:
    service.reset()
    yield service
    service.reset()


def providers(wa: Any, smtp_port: int) -> list[Any]:
    whatsapp = broadcastio_whatsapp.WhatsAppProvider(base_url=wa.base_url, token=wa.token, timeout=5)
    mail = broadcastio_email.EmailProvider(host="127.0.0.1", port=smtp_port, tls="none", from_address=SENDER)
    return [whatsapp, mail]


def message(text: str) -> Message:
    return Message(recipient=Recipient(phone=PHONE, email=EMAIL), text=text, subject="Alert")


class TestWhatsAppToEmail:
    async def test_qr_state_routes_to_email(self, wa: Any, inbox: tuple[Inbox, int]) -> None:
        """While node-whatsapp waits for a QR scan, health routes the message to email."""
        mailbox, port = inbox
        wa.set_state("qr")
        async with Orchestrator(providers(wa, port), plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = await orchestrator.asend(message("disk almost full"), trace=True)
        assert result.ok, result.error
        assert (result.provider, result.channel) == ("email", "email")
        assert result.trace is not None
        [skip] = result.trace.skipped
        assert (skip.provider, skip.reason) == ("whatsapp", "unhealthy")
        assert "qr" in skip.detail
        assert wa.sent() == []
        [mail] = mailbox.messages
        assert mail["To"] == EMAIL
        assert "disk almost full" in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    async def test_not_ready_on_send_falls_back_to_email(self, wa: Any, inbox: tuple[Inbox, int]) -> None:
        """With health checks off, NOT_READY answers (retried once) end in an email."""
        mailbox, port = inbox
        wa.set_state("disconnected", "phone lost its connection")
        async with Orchestrator(
            providers(wa, port),
            health=HealthPolicy(enabled=False),
            retry=RetryPolicy(max_attempts=2, backoff="none", respect_retry_after=False),
            plugin_manager=isolated_plugin_manager(),
        ) as orchestrator:
            result = await orchestrator.asend(message("backup failed"), trace=True)
        assert result.ok, result.error
        assert result.provider == "email"
        assert result.trace is not None
        assert [(attempt.provider, attempt.ok) for attempt in result.trace.attempts] == [
            ("whatsapp", False),
            ("whatsapp", False),
            ("email", True),
        ]
        assert result.trace.attempts[0].error is not None
        assert result.trace.attempts[0].error.code == "whatsapp.NOT_READY"
        assert len(mailbox.messages) == 1
        assert wa.sent() == []

    async def test_back_to_whatsapp_when_ready(self, wa: Any, inbox: tuple[Inbox, int]) -> None:
        """Once the session is ready again, WhatsApp delivers and no email is sent."""
        mailbox, port = inbox
        wa.set_state("qr")
        async with Orchestrator(
            providers(wa, port), health=HealthPolicy(ttl=0), plugin_manager=isolated_plugin_manager()
        ) as orchestrator:
            first = await orchestrator.asend(message("first"))
            wa.set_state("ready")
            second = await orchestrator.asend(message("second"))
        assert (first.provider, second.provider) == ("email", "whatsapp")
        assert [sent["text"] for sent in wa.sent()] == ["second"]
        assert len(mailbox.messages) == 1
