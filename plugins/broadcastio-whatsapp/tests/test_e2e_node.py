"""End to end: the ``whatsapp`` provider against the REAL node-whatsapp service.

The service runs as a child process with its fake driver (no WhatsApp
account needed); these tests cross the real HTTP boundary, its validation,
pacing, idempotency store and error mapping.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    HealthPolicy,
    MemoryProvider,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio_whatsapp import WhatsAppProvider
from broadcastio_whatsapp.testing import NodeWhatsAppError, NodeWhatsAppProcess, NodeWhatsAppUnavailable

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: node-whatsapp cannot run"),
]

PHONE = "+15550100000"
CHAT = "15550100000@c.us"


@pytest.fixture(scope="module")
def service() -> Iterator[NodeWhatsAppProcess]:
    with NodeWhatsAppProcess(send_timeout_ms=5000) as process:
        yield process


@pytest.fixture
def wa(service: NodeWhatsAppProcess) -> Iterator[NodeWhatsAppProcess]:
    service.reset()
    yield service
    service.reset()


def provider_for(service: NodeWhatsAppProcess, **settings: Any) -> WhatsAppProvider:
    return WhatsAppProvider(base_url=service.base_url, token=service.token, **settings)


def orchestrator(providers: list[Any], **options: Any) -> Orchestrator:
    return Orchestrator(providers, plugin_manager=isolated_plugin_manager(), **options)


class TestSend:
    async def test_plain_text(self, wa: NodeWhatsAppProcess) -> None:
        """A text message reaches the driver once, with the id the service returned."""
        async with orchestrator([provider_for(wa)]) as orch:
            result = await orch.asend(Message(recipient=Recipient(phone=PHONE), text="hello from e2e"), trace=True)
        assert result.ok, result.error
        [sent] = wa.sent()
        assert sent == {"id": result.provider_message_id, "to": CHAT, "text": "hello from e2e", "media": None}

    async def test_media_with_caption(self, wa: NodeWhatsAppProcess) -> None:
        """An attachment reaches the driver as media, with the text as caption."""
        content = bytes(range(256)) * 40
        attachment = Attachment(filename="report.pdf", content=content, mime_type="application/pdf")
        provider = provider_for(wa)
        result = await provider.send(Message(recipient=PHONE, text="Q3 report", attachments=(attachment,)), PHONE)
        await provider.aclose()
        assert result.ok, result.error
        [sent] = wa.sent()
        assert sent["media"] == {
            "filename": "report.pdf",
            "mimeType": "application/pdf",
            "caption": "Q3 report",
            "bytes": len(content),
        }

    async def test_group_chat_id(self, wa: NodeWhatsAppProcess) -> None:
        """A group chat id from Recipient.addresses is sent as is."""
        group = "120363012345678901@g.us"
        recipient = Recipient(phone=PHONE, addresses={"whatsapp": group})
        async with orchestrator([provider_for(wa)]) as orch:
            result = await orch.asend(Message(recipient=recipient, text="hi group"))
        assert result.ok, result.error
        assert wa.sent()[0]["to"] == group

    async def test_invalid_recipient_is_permanent(self, wa: NodeWhatsAppProcess) -> None:
        """An address the service cannot parse is a permanent INVALID_RECIPIENT."""
        provider = provider_for(wa)
        result = await provider.send(Message(recipient="x", text="hi"), "not-a-number")
        await provider.aclose()
        assert result.error is not None
        assert (result.error.code, result.error.error_class) == ("whatsapp.INVALID_RECIPIENT", ErrorClass.PERMANENT)
        assert wa.sent() == []

    async def test_scripted_failure_codes(self, wa: NodeWhatsAppProcess) -> None:
        """Driver failures come back with their codes, classes and Retry-After."""
        wa.script(
            {"type": "fail", "code": "NOT_ON_WHATSAPP"}, {"type": "fail", "code": "RATE_LIMITED", "retryAfterSec": 3}
        )
        provider = provider_for(wa)
        first = await provider.send(Message(recipient=PHONE, text="a"), PHONE)
        second = await provider.send(Message(recipient=PHONE, text="b"), PHONE)
        await provider.aclose()
        assert first.error is not None
        assert (first.error.code, first.error.error_class) == ("whatsapp.NOT_ON_WHATSAPP", ErrorClass.PERMANENT)
        assert second.error is not None
        assert (second.error.code, second.error.error_class) == ("whatsapp.RATE_LIMITED", ErrorClass.TRANSIENT)
        assert second.error.retry_after == 3.0

    async def test_same_key_different_message_is_refused(self, wa: NodeWhatsAppProcess) -> None:
        """Reusing an idempotency key for another text is IDEMPOTENCY_MISMATCH, permanent."""
        provider = provider_for(wa)
        first = await provider.send(Message(recipient=PHONE, text="a", metadata=Metadata(idempotency_key="k1")), PHONE)
        second = await provider.send(Message(recipient=PHONE, text="b", metadata=Metadata(idempotency_key="k1")), PHONE)
        await provider.aclose()
        assert first.ok
        assert second.error is not None
        assert second.error.code == "whatsapp.IDEMPOTENCY_MISMATCH"
        assert len(wa.sent()) == 1

    async def test_wrong_token_raises(self, wa: NodeWhatsAppProcess) -> None:
        """The real service's 401 raises a ConfigurationError."""
        provider = WhatsAppProvider(base_url=wa.base_url, token="not-the-token")
        with pytest.raises(ConfigurationError, match="token"):
            await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()


class TestHealth:
    async def test_ready_then_qr(self, wa: NodeWhatsAppProcess) -> None:
        """Healthy when ready; unhealthy in qr with a pointer to /qr."""
        provider = provider_for(wa)
        ready = await provider.health()
        wa.set_state("qr")
        qr = await provider.health()
        await provider.aclose()
        assert ready.healthy
        assert not qr.healthy
        assert qr.detail == f"qr: scan the QR code at {wa.base_url}/qr"


class TestFallback:
    async def test_unhealthy_service_is_skipped(self, wa: NodeWhatsAppProcess) -> None:
        """While the service shows a QR code, the health check routes to the next channel."""
        wa.set_state("qr")
        email = MemoryProvider(name="email", channel="email")
        async with orchestrator([provider_for(wa), email]) as orch:
            result = await orch.asend(
                Message(recipient=Recipient(phone=PHONE, email="ada@example.org"), text="fallback"), trace=True
            )
        assert result.ok, result.error
        assert result.provider == "email"
        assert result.trace is not None
        assert [(skip.provider, skip.reason) for skip in result.trace.skipped] == [("whatsapp", "unhealthy")]
        assert wa.sent() == []

    async def test_not_ready_on_send_falls_back(self, wa: NodeWhatsAppProcess) -> None:
        """Without health checks, NOT_READY on send (after its retry) falls back."""
        wa.set_state("disconnected", "phone offline")
        email = MemoryProvider(name="email", channel="email")
        async with orchestrator(
            [provider_for(wa), email],
            health=HealthPolicy(enabled=False),
            retry=RetryPolicy(max_attempts=2, backoff="none", respect_retry_after=False),
        ) as orch:
            result = await orch.asend(
                Message(recipient=Recipient(phone=PHONE, email="ada@example.org"), text="fallback"), trace=True
            )
        assert result.ok, result.error
        assert result.provider == "email"
        assert result.trace is not None
        codes = [attempt.error.code for attempt in result.trace.attempts if attempt.error is not None]
        assert codes == ["whatsapp.NOT_READY", "whatsapp.NOT_READY"]
        assert len(email.sent) == 1


class TestAmbiguousTimeout:
    async def test_retry_after_timeout_is_deduplicated(self, wa: NodeWhatsAppProcess) -> None:
        """A client timeout mid-send is ambiguous; the retries carry the same Idempotency-Key,
        hit IN_FLIGHT or the stored result, and the driver sends exactly one message."""
        wa.script({"type": "delay", "ms": 800})
        provider = provider_for(wa, timeout=0.3)
        async with orchestrator(
            [provider], retry=RetryPolicy(max_attempts=4, backoff="fixed", base_delay=0.5, max_delay=2)
        ) as orch:
            result = await orch.asend(Message(recipient=PHONE, text="exactly once"), trace=True)
        assert result.ok, result.error
        assert result.trace is not None
        first = result.trace.attempts[0]
        assert first.error is not None
        assert first.error.error_class is ErrorClass.AMBIGUOUS
        between = [attempt.error.code for attempt in result.trace.attempts[1:-1] if attempt.error is not None]
        assert set(between) <= {"whatsapp.IN_FLIGHT"}
        assert result.trace.attempts[-1].ok
        sent = wa.sent()
        assert len(sent) == 1
        assert sent[0]["id"] == result.provider_message_id

    def test_service_timeout_is_not_resent(self) -> None:
        """After the service's own TIMEOUT_AFTER_SEND it refuses the key (OUTCOME_UNKNOWN):
        the provider's retries do not send again, so WhatsApp gets the message at most once."""
        with NodeWhatsAppProcess(send_timeout_ms=200) as wa:
            wa.script({"type": "delay", "ms": 600})
            provider = provider_for(wa, timeout=5)
            with orchestrator([provider], retry=RetryPolicy(max_attempts=3, backoff="none")) as orch:
                result = orch.send(Message(recipient=PHONE, text="at most once"), trace=True)
            assert result.status == "unknown"
            assert result.trace is not None
            assert result.trace.possibly_delivered
            codes = [attempt.error.code for attempt in result.trace.attempts if attempt.error is not None]
            assert codes == ["whatsapp.TIMEOUT_AFTER_SEND"] + ["whatsapp.OUTCOME_UNKNOWN"] * 2
            time.sleep(0.6)  # let the late confirmation land
            assert len(wa.sent()) == 1


class TestProcessHelper:
    def test_missing_node_is_a_clear_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without node on PATH the helper raises NodeWhatsAppUnavailable naming Node.js."""
        monkeypatch.setattr(shutil, "which", lambda name: None)
        with pytest.raises(NodeWhatsAppUnavailable, match=r"node is not installed"), NodeWhatsAppProcess():
            pass

    def test_bad_configuration_reports_the_log(self) -> None:
        """A service that refuses to start raises with its last log lines."""
        with pytest.raises(NodeWhatsAppError, match="WA_FAKE_STATE"), NodeWhatsAppProcess(state="sleepy"):
            pass

    def test_stops_on_exit(self) -> None:
        """Leaving the block stops the service with SIGTERM and a clean exit."""
        process = NodeWhatsAppProcess()
        with process:
            assert process.running
            assert process.status()["state"] == "ready"
        assert not process.running
        assert process.logs
        assert any('"msg":"stopped"' in line for line in process.logs)
