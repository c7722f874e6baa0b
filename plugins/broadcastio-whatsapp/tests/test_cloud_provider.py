"""``whatsapp-cloud``: the Cloud API provider against a local server in the Graph API's shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    InvalidMessageError,
    Message,
    Metadata,
    Orchestrator,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port
from broadcastio_whatsapp import WhatsAppCloudProvider
from whatsapp_fakes import API_VERSION, GRAPH_TOKEN, PHONE_NUMBER_ID, FakeGraph, Reply, graph_error

PHONE = "+15550100000"
DIGITS = "15550100000"


def make_provider(base_url: str, **settings: Any) -> WhatsAppCloudProvider:
    options: dict[str, Any] = {
        "base_url": base_url,
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": GRAPH_TOKEN,
        "api_version": API_VERSION,
        "timeout": 5,
    }
    options.update(settings)
    return WhatsAppCloudProvider(**options)


def with_extra(**extra: Any) -> Metadata:
    return Metadata(extra=extra)


class TestWhatsAppCloudContract(ProviderContract):
    """The provider contract, against a local server speaking the Graph API."""

    @pytest.fixture
    def provider_factory(self, fake_graph: tuple[FakeGraph, str]) -> Callable[[], WhatsAppCloudProvider]:
        return lambda: make_provider(fake_graph[1])

    @pytest.fixture
    def deliverable_address(self) -> str:
        return PHONE

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], WhatsAppCloudProvider]:
        port = closed_port()
        return lambda: make_provider(f"http://127.0.0.1:{port}", timeout=2)

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (GRAPH_TOKEN,)


@pytest.fixture
def graph(fake_graph: tuple[FakeGraph, str]) -> FakeGraph:
    return fake_graph[0]


@pytest.fixture
def provider(fake_graph: tuple[FakeGraph, str]) -> WhatsAppCloudProvider:
    return make_provider(fake_graph[1])


async def send(provider: WhatsAppCloudProvider, message: Message, address: str = PHONE) -> Any:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


class TestText:
    async def test_text_message_shape(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """A text message goes to /{version}/{phone_number_id}/messages in the Cloud API's shape."""
        message = Message(recipient=PHONE, text="hello")
        result = await send(provider, message)
        assert result.ok
        assert result.provider_message_id == "wamid.FAKE1"
        [request] = graph.requests
        assert request["path"] == f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages"
        assert request["body"] == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": DIGITS,
            "type": "text",
            "text": {"body": "hello", "preview_url": False},
            "biz_opaque_callback_data": message.idempotency_key,
        }

    async def test_preview_url_setting(self, graph: FakeGraph, fake_graph: tuple[FakeGraph, str]) -> None:
        """preview_url=True asks WhatsApp to render link previews."""
        await send(make_provider(fake_graph[1], preview_url=True), Message(recipient=PHONE, text="https://x.org"))
        assert graph.requests[0]["body"]["text"]["preview_url"] is True

    @pytest.mark.parametrize("address", ["+1 (555) 010-0000", "15550100000", "15550100000@c.us"])
    async def test_recipient_forms(self, graph: FakeGraph, provider: WhatsAppCloudProvider, address: str) -> None:
        """Phone numbers with separators, bare digits and c.us chat ids all become digits."""
        await send(provider, Message(recipient=address, text="hi"), address)
        assert graph.requests[0]["body"]["to"] == DIGITS

    @pytest.mark.parametrize("address", ["120363012345678901@g.us", "ada@example.org", "+12"])
    async def test_bad_recipient_is_refused_without_a_request(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider, address: str
    ) -> None:
        """Groups, emails and too-short numbers are permanent failures; nothing is sent."""
        result = await send(provider, Message(recipient=address, text="hi"), address)
        assert result.error is not None
        assert result.error.code == "whatsapp-cloud.INVALID_RECIPIENT"
        assert result.error.error_class is ErrorClass.PERMANENT
        assert graph.requests == []

    def test_not_idempotent_and_secret_hidden(self, provider: WhatsAppCloudProvider) -> None:
        """The Cloud API has no idempotency key; the token never shows in repr."""
        assert provider.idempotent is False
        assert GRAPH_TOKEN not in repr(provider)

    @pytest.mark.parametrize(
        ("settings", "match"),
        [
            ({"phone_number_id": "+1555"}, "phone_number_id"),
            ({"access_token": ""}, "access_token"),
            ({"api_version": "21.0"}, "api_version"),
        ],
    )
    def test_bad_settings_raise(self, settings: dict[str, Any], match: str) -> None:
        """Wrong settings raise a ConfigurationError naming the setting."""
        with pytest.raises(ConfigurationError, match=match):
            make_provider("http://127.0.0.1:1", **settings)


class TestTemplate:
    async def test_parameters_shorthand_becomes_a_body_component(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider
    ) -> None:
        """``parameters`` become text parameters of the body component, in order."""
        template = {"name": "order_update", "language": "en_US", "parameters": ["Ada", 42]}
        message = Message(recipient=PHONE, text="Order 42 shipped", metadata=with_extra(whatsapp_template=template))
        result = await send(provider, message)
        assert result.ok
        body = graph.requests[0]["body"]
        assert body["type"] == "template"
        assert "text" not in body
        assert body["template"] == {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "42"}]}
            ],
        }

    async def test_components_are_sent_as_given(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """Full Graph API components pass through unchanged."""
        components = [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.org/a.png"}}]},
            {"type": "body", "parameters": [{"type": "currency", "currency": {"code": "EUR", "amount_1000": 5000}}]},
        ]
        template = {"name": "invoice", "language": {"code": "de"}, "components": components}
        await send(provider, Message(recipient=PHONE, text="x", metadata=with_extra(whatsapp_template=template)))
        assert graph.requests[0]["body"]["template"] == {
            "name": "invoice",
            "language": {"code": "de"},
            "components": components,
        }

    async def test_template_without_parameters(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """A template with no parameters sends no components."""
        template = {"name": "hello_world", "language": "en_US"}
        await send(provider, Message(recipient=PHONE, text="x", metadata=with_extra(whatsapp_template=template)))
        assert graph.requests[0]["body"]["template"] == {"name": "hello_world", "language": {"code": "en_US"}}

    @pytest.mark.parametrize(
        ("template", "match"),
        [
            ("hello_world", "mapping"),
            ({"language": "en_US"}, "name"),
            ({"name": "x"}, "language"),
            ({"name": "x", "language": "en", "components": [], "parameters": []}, "not both"),
            ({"name": "x", "language": "en", "components": "body"}, "components"),
            ({"name": "x", "language": "en", "parameters": [None]}, "parameters"),
        ],
    )
    async def test_malformed_template_raises(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider, template: Any, match: str
    ) -> None:
        """A malformed template is the caller's mistake: InvalidMessageError, nothing sent."""
        message = Message(recipient=PHONE, text="x", metadata=with_extra(whatsapp_template=template))
        with pytest.raises(InvalidMessageError, match=match):
            await send(provider, message)
        assert graph.requests == []

    async def test_template_with_attachments_is_refused(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider
    ) -> None:
        """Attachments cannot ride on a template: permanent, so fallback can carry them."""
        message = Message(
            recipient=PHONE,
            text="x",
            attachments=(Attachment(filename="a.pdf", content=b"%PDF", mime_type="application/pdf"),),
            metadata=with_extra(whatsapp_template={"name": "t", "language": "en"}),
        )
        result = await send(provider, message)
        assert result.error is not None
        assert result.error.code == "whatsapp-cloud.TEMPLATE_WITH_ATTACHMENTS"
        assert graph.requests == []
        assert graph.uploads == []


class TestMedia:
    async def test_media_link_kind_is_guessed(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """A link to a .jpg is sent as an image with the text as caption."""
        message = Message(recipient=PHONE, text="look", metadata=with_extra(whatsapp_media_link="https://x.org/p.jpg"))
        result = await send(provider, message)
        assert result.ok
        body = graph.requests[0]["body"]
        assert body["type"] == "image"
        assert body["image"] == {"link": "https://x.org/p.jpg", "caption": "look"}
        assert graph.uploads == []

    async def test_media_link_document_keeps_a_file_name(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider
    ) -> None:
        """A document link gets its file name from the URL."""
        link = "https://x.org/files/Report%20Q3.pdf?sig=1"
        await send(provider, Message(recipient=PHONE, text="report", metadata=with_extra(whatsapp_media_link=link)))
        body = graph.requests[0]["body"]
        assert body["type"] == "document"
        assert body["document"] == {"link": link, "caption": "report", "filename": "Report Q3.pdf"}

    async def test_media_link_mapping_with_explicit_type(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider
    ) -> None:
        """An explicit type wins; audio carries no caption."""
        extra = {"whatsapp_media_link": {"link": "https://x.org/voice", "type": "audio"}}
        await send(provider, Message(recipient=PHONE, text="listen", metadata=Metadata(extra=extra)))
        body = graph.requests[0]["body"]
        assert body["type"] == "audio"
        assert body["audio"] == {"link": "https://x.org/voice"}

    @pytest.mark.parametrize(
        "value", ["ftp://x.org/a.png", {"link": "https://x.org/a", "type": "gif"}, 42, {"type": "image"}]
    )
    async def test_malformed_media_link_raises(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider, value: Any
    ) -> None:
        """A malformed media link raises InvalidMessageError."""
        message = Message(recipient=PHONE, text="x", metadata=with_extra(whatsapp_media_link=value))
        with pytest.raises(InvalidMessageError, match="whatsapp_media_link"):
            await send(provider, message)

    async def test_attachment_is_uploaded_then_sent_by_id(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider
    ) -> None:
        """An attachment is uploaded as multipart, then sent by media id with the text as caption."""
        attachment = Attachment(filename="chart.png", content=b"\x89PNG-bytes", mime_type="image/png")
        result = await send(provider, Message(recipient=PHONE, text="chart", attachments=(attachment,)))
        assert result.ok, result.error
        [upload] = graph.uploads
        assert upload == {
            "messaging_product": "whatsapp",
            "type": "image/png",
            "filename": "chart.png",
            "content_type": "image/png",
            "content": b"\x89PNG-bytes",
        }
        body = graph.requests[0]["body"]
        assert body["type"] == "image"
        assert body["image"] == {"id": "10000000001", "caption": "chart"}

    async def test_pdf_attachment_is_a_document_with_its_name(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider
    ) -> None:
        """Files that are not JPEG/PNG/MP4/3GPP go as documents with their file name."""
        attachment = Attachment(filename="invoice.pdf", content=b"%PDF-1.7", mime_type="application/pdf")
        await send(provider, Message(recipient=PHONE, text="", attachments=(attachment,)))
        body = graph.requests[0]["body"]
        assert body["type"] == "document"
        assert body["document"] == {"id": "10000000001", "filename": "invoice.pdf"}

    async def test_two_attachments_are_refused(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """Two attachments: permanent failure, nothing uploaded or sent."""
        files = tuple(Attachment(filename=f"{n}.txt", content=b"x", mime_type="text/plain") for n in range(2))
        result = await send(provider, Message(recipient=PHONE, text="two", attachments=files))
        assert result.error is not None
        assert result.error.code == "whatsapp-cloud.TOO_MANY_ATTACHMENTS"
        assert graph.uploads == []
        assert graph.requests == []

    async def test_failed_upload_sends_nothing(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """A 5xx on upload is transient and no message is sent."""
        graph.upload_replies.append(graph_error(131016, "Service unavailable", status=503))
        attachment = Attachment(filename="a.png", content=b"x", mime_type="image/png")
        result = await send(provider, Message(recipient=PHONE, text="x", attachments=(attachment,)))
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert graph.requests == []

    async def test_upload_timeout_is_transient_not_ambiguous(
        self, graph: FakeGraph, fake_graph: tuple[FakeGraph, str]
    ) -> None:
        """An upload that times out delivered nothing to anyone: transient."""
        graph.upload_replies.append(Reply(delay=1.0))
        provider = make_provider(fake_graph[1], timeout=0.2)
        attachment = Attachment(filename="a.png", content=b"x", mime_type="image/png")
        result = await send(provider, Message(recipient=PHONE, text="x", attachments=(attachment,)))
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert graph.requests == []

    async def test_html_only_is_refused(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """HTML alone has nothing to send on WhatsApp: permanent."""
        result = await send(provider, Message(recipient=PHONE, text="", html="<p>x</p>"))
        assert result.error is not None
        assert result.error.code == "whatsapp-cloud.NO_TEXT"


ERRORS = [
    (130429, 400, ErrorClass.TRANSIENT),
    (131056, 400, ErrorClass.TRANSIENT),
    (131048, 400, ErrorClass.TRANSIENT),  # spam rate limit: by its code, not by the 400 it comes with
    (131016, 503, ErrorClass.TRANSIENT),
    (80007, 400, ErrorClass.TRANSIENT),
    (131026, 400, ErrorClass.PERMANENT),
    (131047, 400, ErrorClass.PERMANENT),
    (132000, 400, ErrorClass.PERMANENT),
    (132001, 404, ErrorClass.PERMANENT),
    (131008, 400, ErrorClass.PERMANENT),
    (100, 400, ErrorClass.PERMANENT),
    (131000, 500, ErrorClass.TRANSIENT),
]


class TestErrors:
    @pytest.mark.parametrize(("code", "status", "error_class"), ERRORS)
    async def test_meta_codes_are_mapped(
        self, graph: FakeGraph, provider: WhatsAppCloudProvider, code: int, status: int, error_class: ErrorClass
    ) -> None:
        """Meta's error code decides the class; unknown codes fall back to the HTTP status."""
        graph.message_replies.append(graph_error(code, "Something", status=status, subcode=2494055))
        result = await send(provider, Message(recipient=PHONE, text="hi"))
        assert result.error is not None
        assert result.error.code == f"whatsapp-cloud.{code}"
        assert result.error.error_class is error_class
        assert "fbtrace_id AbCdEf" in result.error.message
        assert "subcode 2494055" in result.error.message

    async def test_expired_token_raises(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """Code 190 is a configuration error, even on a 400."""
        graph.message_replies.append(graph_error(190, "Error validating access token", status=400, subcode=463))
        with pytest.raises(ConfigurationError, match="access_token"):
            await send(provider, Message(recipient=PHONE, text="hi"))

    async def test_wrong_token_raises(self, fake_graph: tuple[FakeGraph, str]) -> None:
        """A token the API refuses raises and is not echoed in the message."""
        provider = make_provider(fake_graph[1], access_token="EAAG-wrong")
        with pytest.raises(ConfigurationError) as caught:
            await send(provider, Message(recipient=PHONE, text="hi"))
        assert "EAAG-wrong" not in str(caught.value)

    async def test_non_json_5xx_is_transient(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """A gateway error page is transient."""
        graph.message_replies.append(Reply(status=502, raw="<html>bad gateway</html>"))
        result = await send(provider, Message(recipient=PHONE, text="hi"))
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT

    async def test_send_timeout_is_ambiguous(self, graph: FakeGraph, fake_graph: tuple[FakeGraph, str]) -> None:
        """A timeout after the message was posted may have delivered it: ambiguous."""
        graph.message_replies.append(Reply(delay=1.0))
        result = await send(make_provider(fake_graph[1], timeout=0.2), Message(recipient=PHONE, text="hi"))
        assert result.status == "unknown"


class TestHealth:
    async def test_healthy_with_phone_number_details(self, provider: WhatsAppCloudProvider) -> None:
        """The phone number's lookup answers: healthy, with its display number and rating."""
        health = await provider.health()
        await provider.aclose()
        assert health.healthy
        assert health.detail == "+1 555-010-0000, GREEN"

    async def test_refused_token_is_unhealthy(self, fake_graph: tuple[FakeGraph, str]) -> None:
        """A refused token is unhealthy, not an exception."""
        provider = make_provider(fake_graph[1], access_token="EAAG-wrong")
        health = await provider.health()
        await provider.aclose()
        assert not health.healthy
        assert "access token" in health.detail

    async def test_api_error_is_unhealthy(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """Any Graph API error on the lookup is unhealthy."""
        graph.health_replies.append(graph_error(100, "Unsupported get request", status=400))
        health = await provider.health()
        await provider.aclose()
        assert not health.healthy
        assert "Unsupported get request" in health.detail


class TestThroughTheOrchestrator:
    async def test_rate_limit_is_retried(self, graph: FakeGraph, provider: WhatsAppCloudProvider) -> None:
        """130429 is retried and the retry delivers."""
        graph.message_replies.append(graph_error(130429, "Rate limit hit"))
        async with Orchestrator(
            [provider], retry=RetryPolicy(max_attempts=2, backoff="none"), plugin_manager=isolated_plugin_manager()
        ) as orchestrator:
            result = await orchestrator.asend(Message(recipient=PHONE, text="hi"), trace=True)
        assert result.ok, result.error
        assert result.trace is not None
        assert len(result.trace.attempts) == 2

    async def test_ambiguous_timeout_is_not_retried(self, graph: FakeGraph, fake_graph: tuple[FakeGraph, str]) -> None:
        """Without an idempotency key, a timeout after sending is not retried: possibly delivered."""
        graph.message_replies.append(Reply(delay=0.6))
        provider = make_provider(fake_graph[1], timeout=0.2)
        async with Orchestrator(
            [provider], retry=RetryPolicy(max_attempts=3, backoff="none"), plugin_manager=isolated_plugin_manager()
        ) as orchestrator:
            result = await orchestrator.asend(Message(recipient=PHONE, text="hi"), trace=True)
        assert result.status == "unknown"
        assert result.trace is not None
        assert result.trace.possibly_delivered
        assert len(result.trace.attempts) == 1
