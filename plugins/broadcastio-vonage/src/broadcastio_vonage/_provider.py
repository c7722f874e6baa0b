"""``vonage``: SMS through the Vonage Messages API.

One JSON ``POST /v1/messages`` per message (``channel: sms``,
``message_type: text``) with basic auth ``api_key:api_secret``. Vonage
answers 202 ``{"message_uuid": ...}``. The Messages API takes no
idempotency key (``client_ref`` is only echoed in status webhooks), so the
provider does not declare idempotent sends: a timeout after the request was
written stays ambiguous.
"""

from __future__ import annotations

import importlib.metadata
import time
from typing import Any

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
from broadcastio.http import HttpProvider, json_object
from broadcastio.logs import get_logger
from broadcastio.plugins import single_line

from broadcastio_vonage._errors import error_from_response
from broadcastio_vonage._phone import is_alphanumeric_sender, mask_phone, to_vonage_number

__all__ = ["DEFAULT_ACCOUNT_URL", "DEFAULT_BASE_URL", "VonageSmsProvider"]

DEFAULT_BASE_URL = "https://api.nexmo.com"
DEFAULT_ACCOUNT_URL = "https://rest.nexmo.com"
MESSAGES_PATH = "/v1/messages"
BALANCE_PATH = "/account/get-balance"
CLIENT_REF_MAX = 100
_USER_AGENT = f"broadcastio-vonage/{importlib.metadata.version('broadcastio-vonage')}"
_HEALTH_TIMEOUT = 5.0

log = get_logger("broadcastio.vonage")


class VonageSmsProvider(HttpProvider):
    """Sends ``message.text`` as an SMS through the Vonage Messages API.

    :param api_key: the account's API key.
    :param api_secret: the account's API secret (never shown in repr or logs).
    :param from_number: sender: an E.164 number you own (``+447700900001``) or an alphanumeric sender ID.
    :param base_url: Messages API root (``https://api-eu.vonage.com`` for the EU); tests point it at 127.0.0.1.
    :param account_url: Account API root, for the balance check in :meth:`health`.
    """

    channel = "sms"
    secret_fields = ("api_secret",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "vonage",
        api_key: str,
        api_secret: str,
        from_number: str,
        base_url: str = DEFAULT_BASE_URL,
        account_url: str = DEFAULT_ACCOUNT_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        single_line(name, "api_key", api_key, forbidden=":")  # HTTP Basic: a colon would split the pair
        single_line(name, "api_secret", api_secret)
        if not isinstance(account_url, str) or not account_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"provider {name!r}: account_url must start with http:// or https://")
        super().__init__(
            name=name,
            channel="sms",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            auth=(api_key, api_secret),
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.api_key = api_key
        self.api_secret = api_secret
        self.from_number = _checked_sender(name, from_number)
        self.account_url = account_url.rstrip("/")
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)

    def payload(self, message: Message, to: str) -> dict[str, Any]:
        """The Messages API body for one SMS (``to`` already in Vonage's digits-only form)."""
        body: dict[str, Any] = {
            "message_type": "text",
            "channel": "sms",
            "to": to,
            "from": self.from_number,
            "text": message.text,
        }
        key = message.metadata.idempotency_key
        if len(key) <= CLIENT_REF_MAX:
            body["client_ref"] = key
        return body

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST to Vonage; a number that is not E.164 fails here without a request."""
        if not message.text:
            return self._failed(
                DeliveryError.permanent(ErrorCode.REJECTED, "SMS carries text only; message.text is empty")
            )
        to = to_vonage_number(address)
        if to is None:
            error = DeliveryError.permanent(
                ErrorCode.INVALID_RECIPIENT, f"{mask_phone(address)} is not an E.164 phone number"
            )
            return self._failed(error)
        if message.attachments:
            log.debug("vonage.attachments_dropped", provider=self.name, count=len(message.attachments))
        response = await self.request("POST", MESSAGES_PATH, json=self.payload(message, to))
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code not in (200, 202):
            return self._failed(error_from_response(response, provider=self.name))
        raw_id = json_object(response).get("message_uuid")
        message_id = raw_id if isinstance(raw_id, str) and raw_id else None
        log.debug("vonage.accepted", provider=self.name, to=mask_phone(to), message_uuid=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("vonage.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """The Account API balance (``GET /account/get-balance``): reachability, credentials, and credit left.

        The Messages API has no read-only endpoint; the balance check uses the
        same basic-auth credentials and sends nothing.
        """
        started = time.monotonic()
        response = await self.request("GET", self.account_url + BALANCE_PATH, timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(
                healthy=False, detail=f"Vonage unreachable: {response.message}", latency_ms=latency_ms
            )
        if response.status_code in (401, 403):
            detail = f"Vonage refused the credentials (HTTP {response.status_code})"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code != 200:
            return ProviderHealth(healthy=False, detail=f"HTTP {response.status_code}", latency_ms=latency_ms)
        value = json_object(response).get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            return ProviderHealth(healthy=False, detail="Vonage account has no credit", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="Vonage credentials accepted", latency_ms=latency_ms)


def _checked_sender(name: str, from_number: str) -> str:
    if not isinstance(from_number, str):
        raise ConfigurationError(f"provider {name!r}: from_number must be a string")
    number = to_vonage_number(from_number)
    if number is not None:
        return number
    if is_alphanumeric_sender(from_number):
        return from_number
    raise ConfigurationError(
        f"provider {name!r}: from_number {from_number!r} is neither an E.164 number (such as +447700900001) "
        "nor an alphanumeric sender ID (1-11 letters, digits or spaces)"
    )
