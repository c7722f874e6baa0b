"""``whatsapp-cloud``: Meta's official WhatsApp Cloud API (Graph API).

Text, template (business-initiated) and media messages. The API has no
idempotency key, so a timeout after sending is ambiguous and the provider
does not declare idempotent sends.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import httpx
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorClass,
    Message,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.http import HttpProvider, Response

from broadcastio_whatsapp._cloud_errors import CODE_PREFIX, THROTTLING_CODES, error_from_response
from broadcastio_whatsapp._cloud_payload import (
    media_kind,
    media_link,
    media_payload,
    recipient_digits,
    template_payload,
    text_payload,
)

__all__ = ["WhatsAppCloudProvider"]

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"


class WhatsAppCloudProvider(HttpProvider):
    """Sends through the WhatsApp Cloud API.

    :param phone_number_id: the sender's phone number id (not the number).
    :param access_token: a system-user or app access token with
        ``whatsapp_business_messaging`` permission.
    :param api_version: Graph API version in the path (``v21.0``).
    :param base_url: the Graph API host (tests point it at 127.0.0.1).
    :param preview_url: let WhatsApp render a preview of the first URL in a text.
    :param timeout: seconds for connect, write and read each.
    :param app_secret: the Meta app secret; the receipts app checks webhook
        signatures with it (sends do not use it).
    :param webhook_verify_token: the verify token you typed when registering
        the webhook, answered in the ``hub.challenge`` handshake.

    Every message carries its idempotency key as ``biz_opaque_callback_data``,
    which Meta echoes in the status webhooks.

    What is sent, first match wins:

    - ``metadata.extra["whatsapp_template"]``: a template message (needed to
      start a conversation, or more than 24 hours after the user last wrote);
    - ``metadata.extra["whatsapp_media_link"]``: media by public link, with
      the text as caption;
    - one attachment: uploaded to ``/{phone_number_id}/media`` first, then
      sent by media id with the text as caption;
    - otherwise the text.

    More than one attachment, or attachments with a template, is a permanent
    ``whatsapp-cloud.TOO_MANY_ATTACHMENTS`` / ``TEMPLATE_WITH_ATTACHMENTS``
    failure, so fallback reaches a provider that carries them.
    """

    channel = "whatsapp"
    idempotent = False
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token", "app_secret", "webhook_verify_token")
    throttling_codes: ClassVar[frozenset[str]] = THROTTLING_CODES

    def __init__(
        self,
        *,
        name: str = "whatsapp-cloud",
        phone_number_id: str,
        access_token: str,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = DEFAULT_BASE_URL,
        preview_url: bool = False,
        app_secret: str | None = None,
        webhook_verify_token: str | None = None,
        timeout: float = 15.0,
        connect_timeout: float | None = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        phone_number_id = str(phone_number_id).strip()
        if not phone_number_id.isdigit():
            raise ConfigurationError(
                f"provider {name!r}: phone_number_id must be the numeric id Meta shows, got {phone_number_id!r}"
            )
        if not access_token or not isinstance(access_token, str):
            raise ConfigurationError(f"provider {name!r}: access_token is required")
        version = api_version.strip("/")
        if not version.startswith("v"):
            raise ConfigurationError(f"provider {name!r}: api_version must look like 'v21.0', got {api_version!r}")
        super().__init__(
            name=name,
            channel="whatsapp",
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            connect_timeout=min(connect_timeout, timeout) if connect_timeout is not None else None,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            transport=transport,
            retry_policy=retry_policy,
        )
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.api_version = version
        self.preview_url = preview_url
        self.app_secret = app_secret
        self.webhook_verify_token = webhook_verify_token

    @property
    def _root(self) -> str:
        return f"/{self.api_version}/{self.phone_number_id}"

    async def send(self, message: Message, address: str) -> DeliveryResult:
        to = recipient_digits(address)
        if to is None:
            return DeliveryResult.failure(
                DeliveryError.permanent(
                    f"{CODE_PREFIX}INVALID_RECIPIENT",
                    "the Cloud API needs an international phone number such as +15550100000",
                )
            )
        payload = await self._payload(message, to)
        if isinstance(payload, DeliveryError):
            return DeliveryResult.failure(payload)
        # Echoed in the status webhooks: receipts match the message by key too (keys are <= 255 chars, Meta allows 512).
        payload["biz_opaque_callback_data"] = message.idempotency_key
        response = await self.request("POST", f"{self._root}/messages", json=payload)
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(response)
        if 200 <= response.status_code < 300:
            return DeliveryResult.success(_message_id(response))
        return DeliveryResult.failure(error_from_response(response, provider=self.name))

    async def _payload(self, message: Message, to: str) -> dict[str, Any] | DeliveryError:
        extra = message.metadata.extra
        template = template_payload(to, extra)
        if template is not None:
            if message.attachments:
                return DeliveryError.permanent(
                    f"{CODE_PREFIX}TEMPLATE_WITH_ATTACHMENTS",
                    "a template message cannot carry attachments; put media in the template's header component",
                )
            return template
        link = media_link(extra)
        if link is not None:
            url, kind, filename = link
            return media_payload(to, kind, link=url, caption=message.text, filename=filename)
        if len(message.attachments) > 1:
            return DeliveryError.permanent(
                f"{CODE_PREFIX}TOO_MANY_ATTACHMENTS",
                f"WhatsApp sends one file per message; this message has {len(message.attachments)} attachments",
            )
        if message.attachments:
            attachment = message.attachments[0]
            media_id = await self._upload(attachment.content, attachment.filename, attachment.mime_type)
            if isinstance(media_id, DeliveryError):
                return media_id
            kind = media_kind(attachment.mime_type)
            return media_payload(to, kind, media_id=media_id, caption=message.text, filename=attachment.filename)
        if not message.text:
            return DeliveryError.permanent(
                f"{CODE_PREFIX}NO_TEXT", "WhatsApp needs plain text, a template or media; this message has only HTML"
            )
        return text_payload(to, message.text, preview_url=self.preview_url)

    async def _upload(self, content: bytes, filename: str, mime_type: str) -> str | DeliveryError:
        """Upload one file; its media id, or why not.

        An upload delivers nothing to anyone, so a timeout here is transient,
        not ambiguous: at worst Meta keeps an unused file for 30 days.
        """
        response = await self.request(
            "POST",
            f"{self._root}/media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        if isinstance(response, DeliveryError):
            if response.error_class is ErrorClass.AMBIGUOUS:
                return DeliveryError.transient(response.code, f"media upload: {response.message}")
            return response
        if not 200 <= response.status_code < 300:
            error = error_from_response(response, provider=self.name)
            if error.error_class is ErrorClass.AMBIGUOUS:
                return DeliveryError.transient(error.code, f"media upload: {error.message}")
            return error
        try:
            body = response.json()
        except ValueError:
            body = None
        media_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(media_id, str) or not media_id:
            return DeliveryError.transient(f"{CODE_PREFIX}UPLOAD_FAILED", "media upload answered without a media id")
        return media_id

    async def health(self) -> ProviderHealth:
        """Healthy when the Graph API answers for the phone number with this token."""
        started = time.perf_counter()
        response = await self.request(
            "GET", self._root, params={"fields": "display_phone_number,verified_name,quality_rating"}
        )
        latency_ms = (time.perf_counter() - started) * 1000
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"Graph API unreachable: {response.message}")
        if response.status_code != 200:
            try:
                error = error_from_response(response, provider=self.name)
            except ConfigurationError:
                return ProviderHealth(healthy=False, detail="Graph API refused the access token (code 190)")
            return ProviderHealth(healthy=False, detail=f"Graph API: {error.message}", latency_ms=latency_ms)
        try:
            body = response.json()
        except ValueError:
            body = None
        detail = "ok"
        if isinstance(body, dict):
            facts = [str(body[key]) for key in ("display_phone_number", "quality_rating") if body.get(key)]
            detail = ", ".join(facts) or detail
        return ProviderHealth(healthy=True, detail=detail, latency_ms=latency_ms)


def _message_id(response: Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        message_id = messages[0].get("id")
        if isinstance(message_id, str):
            return message_id
    return None
