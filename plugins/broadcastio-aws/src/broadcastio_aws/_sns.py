"""``sns``: SMS through Amazon SNS ``Publish`` to a phone number (the Query API).

One signed form POST (``Action=Publish&PhoneNumber=...&Message=...``); SNS
answers XML ``PublishResponse/PublishResult/MessageId``. Publish to a phone
number takes no idempotency key (message deduplication exists only for
FIFO topics), so the provider does not declare idempotent sends.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorCode,
    Message,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.logs import get_logger

from broadcastio_aws._base import AwsProvider
from broadcastio_aws._errors import parse_xml, sns_error, xml_text
from broadcastio_aws._phone import mask_phone, to_e164

__all__ = ["SMS_TYPES", "SnsProvider"]

API_VERSION = "2010-03-31"
SMS_TYPES = ("Transactional", "Promotional")
_FORM = "application/x-www-form-urlencoded; charset=utf-8"

log = get_logger("broadcastio.aws")


class SnsProvider(AwsProvider):
    """Sends ``message.text`` as an SMS through Amazon SNS.

    :param sms_type: ``Transactional`` (default: OTPs, alerts, highest reliability) or ``Promotional``.
    :param sender_id: optional alphanumeric sender ID (``AWS.SNS.SMS.SenderID``, where the country allows it).
    :param origination_number: optional E.164 number you own to send from (``AWS.MM.SMS.OriginationNumber``).

    Credentials, ``region`` and ``endpoint_url``: see :class:`~broadcastio_aws._base.AwsProvider`.
    """

    channel = "sms"
    service = "sns"
    endpoint_template = "https://sns.{region}.amazonaws.com"

    def __init__(
        self,
        *,
        name: str = "sns",
        region: str,
        sms_type: str = "Transactional",
        sender_id: str | None = None,
        origination_number: str | None = None,
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
        if sms_type not in SMS_TYPES:
            raise ConfigurationError(f"provider {name!r}: sms_type must be one of {list(SMS_TYPES)}, got {sms_type!r}")
        if sender_id is not None and (
            not isinstance(sender_id, str) or not sender_id.isalnum() or not 1 <= len(sender_id) <= 11
        ):
            raise ConfigurationError(f"provider {name!r}: sender_id must be 1-11 letters or digits")
        origination = None if origination_number is None else to_e164(origination_number)
        if origination_number is not None and origination is None:
            raise ConfigurationError(f"provider {name!r}: origination_number must be an E.164 number")
        super().__init__(
            name=name,
            channel="sms",
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
        self.sms_type = sms_type
        self.sender_id = sender_id
        self.origination_number = origination

    def form(self, message: Message, to: str) -> list[tuple[str, str]]:
        """The Publish parameters, message attributes as SNS's ``MessageAttributes.entry.N`` fields."""
        fields = [("Action", "Publish"), ("Version", API_VERSION), ("PhoneNumber", to), ("Message", message.text)]
        attributes = [("AWS.SNS.SMS.SMSType", self.sms_type)]
        if self.sender_id:
            attributes.append(("AWS.SNS.SMS.SenderID", self.sender_id))
        if self.origination_number:
            attributes.append(("AWS.MM.SMS.OriginationNumber", self.origination_number))
        for index, (key, value) in enumerate(attributes, start=1):
            prefix = f"MessageAttributes.entry.{index}"
            fields += [(f"{prefix}.Name", key), (f"{prefix}.Value.DataType", "String")]
            fields.append((f"{prefix}.Value.StringValue", value))
        return fields

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One signed Publish; a number that is not E.164 fails here without a request."""
        if not message.text:
            return self._failed(
                DeliveryError.permanent(ErrorCode.REJECTED, "SMS carries text only; message.text is empty")
            )
        to = to_e164(address)
        if to is None:
            error = DeliveryError.permanent(
                ErrorCode.INVALID_RECIPIENT, f"{mask_phone(address)} is not an E.164 phone number"
            )
            return self._failed(error)
        body = urlencode(self.form(message, to)).encode()
        response = await self.signed_request("POST", "/", body, _FORM)
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code != 200:
            return self._failed(sns_error(response, provider=self.name))
        message_id = xml_text(parse_xml(response.content), "PublishResult/MessageId") or None
        log.debug("sns.accepted", provider=self.name, to=mask_phone(to), message_id=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("sns.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """SNS ``GetSMSAttributes``: reachable, credentials and signature accepted; sends nothing."""
        started = time.monotonic()
        body = urlencode([("Action", "GetSMSAttributes"), ("Version", API_VERSION)]).encode()
        response = await self.signed_request("POST", "/", body, _FORM, read_timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"SNS unreachable: {response.message}", latency_ms=latency_ms)
        if response.status_code != 200:
            code = xml_text(parse_xml(response.content), "Error/Code")
            detail = f"SNS GetSMSAttributes answered HTTP {response.status_code} ({code})"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="SNS credentials accepted", latency_ms=latency_ms)
