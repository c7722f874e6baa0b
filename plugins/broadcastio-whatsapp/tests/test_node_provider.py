"""``whatsapp``: the node-whatsapp client against a local server in the service's shapes."""

from __future__ import annotations

import base64
from collections.abc import Callable

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
from broadcastio.testing import isolated_plugin_manager, no_wait
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_whatsapp import WhatsAppProvider
from broadcastio_whatsapp._node import idempotency_header, normalise_address
from whatsapp_fakes import NODE_TOKEN, FakeNode, Reply, node_error

PHONE = "+15550100000"


class TestWhatsAppContract(ProviderContract):
    """The provider contract, against a local server speaking node-whatsapp's API."""

    @pytest.fixture
    def provider_factory(self, fake_node: tuple[FakeNode, str]) -> Callable[[], WhatsAppProvider]:
        _, base_url = fake_node
        return lambda: WhatsAppProvider(base_url=base_url, token=NODE_TOKEN)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return PHONE

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], WhatsAppProvider]:
        port = closed_port()
        return lambda: WhatsAppProvider(base_url=f"http://127.0.0.1:{port}", token=NODE_TOKEN, timeout=2)

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (NODE_TOKEN,)


@pytest.fixture
def node(fake_node: tuple[FakeNode, str]) -> FakeNode:
    return fake_node[0]


@pytest.fixture
def provider(fake_node: tuple[FakeNode, str]) -> WhatsAppProvider:
    return WhatsAppProvider(base_url=fake_node[1], token=NODE_TOKEN, timeout=5)


class TestRequest:
    async def test_text_message_is_one_post_with_key_and_token(
        self, node: FakeNode, provider: WhatsAppProvider
    ) -> None:
        """A text message is one POST /messages with bearer token and Idempotency-Key."""
        message = Message(recipient=PHONE, text="hello", metadata=Metadata(idempotency_key="key-1"))
        result = await provider.send(message, PHONE)
        await provider.aclose()
        assert result.ok
        assert result.provider_message_id == "true_+15550100000_FAKE1"
        [request] = node.requests
        assert request["body"] == {"to": PHONE, "text": "hello"}
        assert request["headers"]["Idempotency-Key"] == "key-1"
        assert request["headers"]["Authorization"] == f"Bearer {NODE_TOKEN}"

    async def test_attachment_goes_as_media_with_text_as_caption(
        self, node: FakeNode, provider: WhatsAppProvider
    ) -> None:
        """One attachment is sent as base64 media whose caption is the text."""
        attachment = Attachment(filename="chart.png", content=b"\x89PNG\r\n-data", mime_type="image/png")
        result = await provider.send(Message(recipient=PHONE, text="see chart", attachments=(attachment,)), PHONE)
        await provider.aclose()
        assert result.ok
        body = node.requests[0]["body"]
        assert "text" not in body
        assert body["media"] == {
            "data": base64.b64encode(b"\x89PNG\r\n-data").decode(),
            "filename": "chart.png",
            "mimeType": "image/png",
            "caption": "see chart",
        }

    async def test_attachment_without_text_has_no_caption(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """Media without text is sent with a null caption."""
        attachment = Attachment(filename="a.pdf", content=b"%PDF", mime_type="application/pdf")
        result = await provider.send(Message(recipient=PHONE, text="", attachments=(attachment,)), PHONE)
        await provider.aclose()
        assert result.ok
        assert node.requests[0]["body"]["media"]["caption"] is None

    async def test_more_than_one_attachment_is_refused_without_a_request(
        self, node: FakeNode, provider: WhatsAppProvider
    ) -> None:
        """Two attachments are a permanent failure, so fallback can carry them; nothing is sent."""
        files = tuple(Attachment(filename=f"{n}.txt", content=b"x", mime_type="text/plain") for n in range(2))
        result = await provider.send(Message(recipient=PHONE, text="two", attachments=files), PHONE)
        await provider.aclose()
        assert result.error is not None
        assert result.error.code == "whatsapp.TOO_MANY_ATTACHMENTS"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert node.requests == []

    async def test_html_only_message_is_refused(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """A message with only HTML has nothing WhatsApp can show: permanent, no request."""
        result = await provider.send(Message(recipient=PHONE, text="", html="<b>hi</b>"), PHONE)
        await provider.aclose()
        assert result.error is not None
        assert result.error.code == "whatsapp.NO_TEXT"
        assert node.requests == []

    async def test_phone_separators_are_removed(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """Spaces, dashes and brackets in a phone number are dropped before sending."""
        await provider.send(Message(recipient="x", text="hi"), "+1 (555) 010-0000")
        await provider.aclose()
        assert node.requests[0]["body"]["to"] == PHONE

    def test_address_forms(self) -> None:
        """Chat ids pass unchanged; phone numbers lose their separators."""
        assert normalise_address(" +44 20.7946.0000 ") == "+442079460000"
        assert normalise_address("15550100000@c.us") == "15550100000@c.us"
        assert normalise_address("120363012345678901@g.us") == "120363012345678901@g.us"

    def test_idempotency_header_hashes_keys_the_service_refuses(self) -> None:
        """Keys with spaces or non-ASCII become a stable hash the service accepts."""
        assert idempotency_header("abc-123") == "abc-123"
        hashed = idempotency_header("clé avec espaces")
        assert hashed == idempotency_header("clé avec espaces")
        assert hashed.startswith("sha256-")
        assert hashed.isascii()
        assert " " not in hashed

    async def test_repeated_key_is_replayed_not_resent(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """Two sends with one key give one message and the same id."""
        message = Message(recipient=PHONE, text="once", metadata=Metadata(idempotency_key="same"))
        first = await provider.send(message, PHONE)
        second = await provider.send(message, PHONE)
        await provider.aclose()
        assert first.provider_message_id == second.provider_message_id
        assert len(node.sent) == 1

    def test_declares_idempotent_sends_and_hides_the_token(self, provider: WhatsAppProvider) -> None:
        """The provider is idempotent and its repr never shows the token."""
        assert provider.idempotent is True
        assert NODE_TOKEN not in repr(provider)
        assert provider.channel == "whatsapp"

    def test_bad_base_url_raises(self) -> None:
        """A base URL without a scheme is a configuration error."""
        with pytest.raises(ConfigurationError, match="base_url"):
            WhatsAppProvider(base_url="127.0.0.1:3000")


ERROR_CASES = [
    ("NOT_READY", 503, 2, ErrorClass.TRANSIENT, 2.0),
    ("RATE_LIMITED", 429, 7, ErrorClass.TRANSIENT, 7.0),
    ("IN_FLIGHT", 409, 1, ErrorClass.TRANSIENT, 1.0),
    ("SHUTTING_DOWN", 503, 5, ErrorClass.TRANSIENT, 5.0),
    ("INVALID_RECIPIENT", 422, None, ErrorClass.PERMANENT, None),
    ("NOT_ON_WHATSAPP", 422, None, ErrorClass.PERMANENT, None),
    ("IDEMPOTENCY_MISMATCH", 422, None, ErrorClass.PERMANENT, None),
    ("INVALID_REQUEST", 400, None, ErrorClass.PERMANENT, None),
    ("INVALID_REQUEST", 413, None, ErrorClass.PERMANENT, None),
    ("TIMEOUT_AFTER_SEND", 504, None, ErrorClass.AMBIGUOUS, None),
    ("INTERNAL", 500, None, ErrorClass.AMBIGUOUS, None),
    ("OUTCOME_UNKNOWN", 409, None, ErrorClass.AMBIGUOUS, None),
]


class TestErrors:
    @pytest.mark.parametrize(("code", "status", "retry_after", "error_class", "expected_retry_after"), ERROR_CASES)
    async def test_service_codes_are_mapped(
        self,
        node: FakeNode,
        provider: WhatsAppProvider,
        code: str,
        status: int,
        retry_after: int | None,
        error_class: ErrorClass,
        expected_retry_after: float | None,
    ) -> None:
        """Each node-whatsapp code maps to its class, namespaced, with Retry-After kept."""
        node.replies.append(node_error(code, status, retry_after=retry_after))
        result = await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()
        assert result.error is not None
        assert result.error.code == f"whatsapp.{code}"
        assert result.error.error_class is error_class
        assert result.error.retry_after == expected_retry_after
        assert result.status == ("unknown" if error_class is ErrorClass.AMBIGUOUS else "failed")

    async def test_field_is_named_in_the_message(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """An INVALID_REQUEST names the offending field."""
        node.replies.append(node_error("INVALID_REQUEST", 400, field="media.data"))
        result = await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()
        assert result.error is not None
        assert "media.data" in result.error.message

    async def test_wrong_token_raises_configuration_error(self, fake_node: tuple[FakeNode, str]) -> None:
        """401 UNAUTHORIZED is a configuration mistake: it raises, naming the setting."""
        provider = WhatsAppProvider(base_url=fake_node[1], token="wrong-token")
        with pytest.raises(ConfigurationError, match="token") as caught:
            await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()
        assert "wrong-token" not in str(caught.value)

    async def test_unknown_code_falls_back_to_the_status(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """A code this client does not know is classified by its HTTP status."""
        node.replies.append(node_error("BRAND_NEW", 502))
        node.replies.append(node_error("OTHER_NEW", 418))
        transient = await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        permanent = await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()
        assert transient.error is not None
        assert (transient.error.code, transient.error.error_class) == ("whatsapp.BRAND_NEW", ErrorClass.TRANSIENT)
        assert permanent.error is not None
        assert (permanent.error.code, permanent.error.error_class) == ("whatsapp.OTHER_NEW", ErrorClass.PERMANENT)

    async def test_non_json_error_falls_back_to_the_status(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """A proxy's HTML error page is classified by status with a neutral code."""
        node.replies.append(Reply(status=502, raw="<html>bad gateway</html>"))
        result = await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()
        assert result.error is not None
        assert (result.error.code, result.error.error_class) == ("server_error", ErrorClass.TRANSIENT)

    async def test_read_timeout_is_ambiguous(self, node: FakeNode, fake_node: tuple[FakeNode, str]) -> None:
        """No answer within the timeout after the request was sent: ambiguous."""
        node.replies.append(Reply(delay=1.0))
        provider = WhatsAppProvider(base_url=fake_node[1], token=NODE_TOKEN, timeout=0.2)
        result = await provider.send(Message(recipient=PHONE, text="hi"), PHONE)
        await provider.aclose()
        assert result.status == "unknown"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.AMBIGUOUS


class TestHealth:
    async def test_ready_is_healthy(self, provider: WhatsAppProvider) -> None:
        """State ready is healthy."""
        health = await provider.health()
        await provider.aclose()
        assert health.healthy
        assert health.detail == "ready"

    @pytest.mark.parametrize("state", ["starting", "qr", "authenticated", "disconnected", "failed"])
    async def test_other_states_are_unhealthy(self, node: FakeNode, provider: WhatsAppProvider, state: str) -> None:
        """Every state but ready is unhealthy, and the detail names the state."""
        node.state = state
        health = await provider.health()
        await provider.aclose()
        assert not health.healthy
        assert health.detail.startswith(f"{state}: ")

    async def test_qr_detail_says_where_to_scan(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """In state qr the detail points at the /qr route."""
        node.state = "qr"
        health = await provider.health()
        await provider.aclose()
        assert health.detail == f"qr: scan the QR code at {provider.base_url}/qr"

    async def test_reason_is_reported(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """The service's reason appears in the detail."""
        node.state, node.reason = "disconnected", "LOGOUT"
        health = await provider.health()
        await provider.aclose()
        assert health.detail == "disconnected: LOGOUT"

    async def test_wrong_token_is_unhealthy(self, fake_node: tuple[FakeNode, str]) -> None:
        """A refused token makes the provider unhealthy, with a clear detail."""
        provider = WhatsAppProvider(base_url=fake_node[1], token="nope")
        health = await provider.health()
        await provider.aclose()
        assert not health.healthy
        assert "token" in health.detail


class TestThroughTheOrchestrator:
    async def test_retry_after_not_ready(self, node: FakeNode, provider: WhatsAppProvider) -> None:
        """NOT_READY is retried on the same provider, which then delivers."""
        node.replies.append(node_error("NOT_READY", 503, retry_after=2))
        with no_wait():
            async with Orchestrator(
                [provider],
                retry=RetryPolicy(max_attempts=2, backoff="none"),
                plugin_manager=isolated_plugin_manager(),
            ) as orchestrator:
                result = await orchestrator.asend(Message(recipient=PHONE, text="hi"), trace=True)
        assert result.ok, result.error
        assert result.trace is not None
        assert [attempt.ok for attempt in result.trace.attempts] == [False, True]
        assert len(node.sent) == 1

    async def test_ambiguous_timeout_is_retried_with_the_same_key(
        self, node: FakeNode, fake_node: tuple[FakeNode, str]
    ) -> None:
        """After a timeout the retry carries the same key, and the service replays: one message."""
        node.replies.append(Reply(delay=0.6))
        provider = WhatsAppProvider(base_url=fake_node[1], token=NODE_TOKEN, timeout=0.3)
        async with Orchestrator(
            [provider],
            retry=RetryPolicy(max_attempts=3, backoff="fixed", base_delay=0.5, max_delay=1, jitter=False),
            plugin_manager=isolated_plugin_manager(),
        ) as orchestrator:
            result = await orchestrator.asend(Message(recipient=PHONE, text="hi"), trace=True)
        assert result.ok, result.error
        keys = {request["headers"]["Idempotency-Key"] for request in node.requests}
        assert len(keys) == 1
        assert len(node.sent) == 1

    @pytest.mark.parametrize(("code", "status"), [("TIMEOUT_AFTER_SEND", 504), ("INTERNAL", 500)])
    async def test_service_side_ambiguity_is_not_resent(
        self, node: FakeNode, provider: WhatsAppProvider, code: str, status: int
    ) -> None:
        """After the service's own ambiguous answer it refuses the key (OUTCOME_UNKNOWN): retries do not resend."""
        node.replies.append(node_error(code, status))
        node.replies.extend([node_error("OUTCOME_UNKNOWN", 409)] * 2)
        async with Orchestrator(
            [provider],
            retry=RetryPolicy(max_attempts=3, backoff="none"),
            plugin_manager=isolated_plugin_manager(),
        ) as orchestrator:
            result = await orchestrator.asend(Message(recipient=PHONE, text="hi"), trace=True)
        assert result.status == "unknown"
        assert result.trace is not None
        assert result.trace.possibly_delivered
        codes = [attempt.error.code for attempt in result.trace.attempts if attempt.error]
        assert codes == [f"whatsapp.{code}", "whatsapp.OUTCOME_UNKNOWN", "whatsapp.OUTCOME_UNKNOWN"]
        assert node.sent == []

    async def test_other_keys_still_send_after_an_ambiguous_one(
        self, node: FakeNode, provider: WhatsAppProvider
    ) -> None:
        """Only the ambiguous key is held back; other messages go out."""
        node.replies.append(node_error("TIMEOUT_AFTER_SEND", 504))
        first = await provider.send(Message(recipient=PHONE, text="a"), PHONE)
        second = await provider.send(Message(recipient=PHONE, text="b"), PHONE)
        await provider.aclose()
        assert first.status == "unknown"
        assert second.ok
        assert len(node.requests) == 2

    async def test_not_on_whatsapp_falls_back_to_another_channel(
        self, node: FakeNode, provider: WhatsAppProvider
    ) -> None:
        """A permanent failure falls back at once to the next provider."""
        node.replies.append(node_error("NOT_ON_WHATSAPP", 422))
        email = MemoryProvider(name="email", channel="email")
        async with Orchestrator(
            [provider, email],
            retry=RetryPolicy(max_attempts=3, backoff="none"),
            health=HealthPolicy(enabled=False),
            plugin_manager=isolated_plugin_manager(),
        ) as orchestrator:
            result = await orchestrator.asend(
                Message(recipient=Recipient(phone=PHONE, email="ada@example.org"), text="hi"), trace=True
            )
        assert result.ok
        assert result.provider == "email"
        assert result.trace is not None
        assert [attempt.provider for attempt in result.trace.attempts] == ["whatsapp", "email"]
