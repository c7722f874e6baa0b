"""``ses``: email through Amazon SES v2 ``SendEmail`` (``POST /v2/email/outbound-emails``).

Text and HTML go as ``Content.Simple``; a message with attachments is
built as MIME by the standard library's ``email`` package and sent as
``Content.Raw``. SES takes no idempotency key, so the provider does not
declare idempotent sends: a timeout after the request was written stays
ambiguous.
"""

from __future__ import annotations

import base64
import json
import time
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import httpx
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    Message,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.addresses import parse_sender, recipient_error
from broadcastio.http import json_object
from broadcastio.logs import get_logger, mask_address
from broadcastio.plugins import single_line

from broadcastio_aws._base import AwsProvider
from broadcastio_aws._errors import ses_error

__all__ = ["SesProvider"]

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
_JSON = "application/json"

log = get_logger("broadcastio.aws")


class SesProvider(AwsProvider):
    """Sends each message as one email through Amazon SES v2.

    :param from_address: a verified identity, ``user@domain`` or ``Name <user@domain>``.
    :param reply_to: optional Reply-To address.
    :param configuration_set: optional SES configuration set (event publishing, IP pools).
    :param default_subject: the subject when a message has none.

    Credentials, ``region`` and ``endpoint_url``: see :class:`~broadcastio_aws._base.AwsProvider`.
    """

    channel = "email"
    service = "ses"
    endpoint_template = "https://email.{region}.amazonaws.com"

    def __init__(
        self,
        *,
        name: str = "ses",
        region: str,
        from_address: str,
        reply_to: str | None = None,
        configuration_set: str | None = None,
        default_subject: str = "(no subject)",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        parse_sender(name, from_address)  # validates before any credential lookup
        single_line(name, "default_subject", default_subject)
        if configuration_set is not None and (not isinstance(configuration_set, str) or not configuration_set):
            raise ConfigurationError(f"provider {name!r}: configuration_set must be a non-empty string or None")
        super().__init__(
            name=name,
            channel="email",
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            endpoint_url=endpoint_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.from_address = from_address
        self.reply_to = None if reply_to is None else parse_sender(name, reply_to, setting="reply_to")[1]
        self.configuration_set = configuration_set
        self.default_subject = default_subject

    def payload(self, message: Message, address: str) -> dict[str, Any]:
        """The SendEmail request body for one recipient."""
        body: dict[str, Any] = {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": [address]},
            "Content": self._raw(message, address) if message.attachments else self._simple(message),
        }
        if self.reply_to:
            body["ReplyToAddresses"] = [self.reply_to]
        if self.configuration_set:
            body["ConfigurationSetName"] = self.configuration_set
        return body

    def _simple(self, message: Message) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        if message.text or not message.html:
            parts["Text"] = {"Data": message.text or " ", "Charset": "UTF-8"}
        if message.html:
            parts["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        subject = {"Data": message.subject or self.default_subject, "Charset": "UTF-8"}
        return {"Simple": {"Subject": subject, "Body": parts}}

    def _raw(self, message: Message, address: str) -> dict[str, Any]:
        mime = EmailMessage()
        mime["From"] = self.from_address
        mime["To"] = address
        mime["Subject"] = message.subject or self.default_subject
        if self.reply_to:
            mime["Reply-To"] = self.reply_to
        mime.set_content(message.text or " ")
        if message.html:
            mime.add_alternative(message.html, subtype="html")
        for item in message.attachments:
            maintype, _, subtype = item.mime_type.partition("/")
            mime.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
        return {"Raw": {"Data": base64.b64encode(mime.as_bytes(policy=SMTP)).decode("ascii")}}

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One signed SendEmail call; an address that cannot be an email fails here without a request."""
        to = address.strip()
        error = recipient_error(to)
        if error is not None:
            return self._failed(error)
        body = json.dumps(self.payload(message, to), separators=(",", ":")).encode()
        response = await self.signed_request("POST", SEND_PATH, body, _JSON)
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code != 200:
            return self._failed(ses_error(response, provider=self.name))
        raw_id = json_object(response).get("MessageId")
        message_id = raw_id if isinstance(raw_id, str) and raw_id else None
        log.debug("ses.accepted", provider=self.name, to=mask_address(to), message_id=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("ses.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """SES ``GetAccount`` (``GET /v2/email/account``): reachable, signature accepted, sending enabled."""
        started = time.monotonic()
        response = await self.signed_request("GET", ACCOUNT_PATH, b"", _JSON, read_timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"SES unreachable: {response.message}", latency_ms=latency_ms)
        if response.status_code != 200:
            detail = f"SES GetAccount answered HTTP {response.status_code}"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if json_object(response).get("SendingEnabled") is False:
            return ProviderHealth(healthy=False, detail="SES sending is paused for this account", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="SES account can send", latency_ms=latency_ms)
