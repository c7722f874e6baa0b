"""``sms``: text messages through Twilio's Messages API.

One form POST per send to ``/2010-04-01/Accounts/{AccountSid}/Messages.json``
with basic auth. Twilio's Messages API takes no idempotency key (the
``I-Twilio-Idempotency-Token`` header exists only on webhooks Twilio sends
to you), so the provider does not declare idempotent sends and a timeout
after the request was written stays ambiguous.
"""

from __future__ import annotations

import importlib.metadata
import re
import time
import urllib.parse
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
from broadcastio.http import HttpProvider, Response
from broadcastio.logs import get_logger

from broadcastio_sms._errors import error_from_response, json_object
from broadcastio_sms._phone import is_alphanumeric_sender, mask_phone, normalize_e164, redact_phones
from broadcastio_sms._receipts import CALLBACK_KEY_PARAM, RECEIPT_PATH

__all__ = ["DEFAULT_BASE_URL", "TwilioSmsProvider"]

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_USER_AGENT = f"broadcastio-sms/{importlib.metadata.version('broadcastio-sms')}"

log = get_logger("broadcastio.sms")


class TwilioSmsProvider(HttpProvider):
    """Sends ``message.text`` as an SMS through Twilio.

    :param account_sid: the account SID (``AC`` and 32 hex digits).
    :param auth_token: the account's auth token (never shown in repr or logs).
    :param from_number: sender: an E.164 number you own, or an alphanumeric
        sender ID; optional when ``messaging_service_sid`` is given.
    :param messaging_service_sid: a Messaging Service (``MG...``) that picks the sender.
    :param status_callback: URL Twilio calls with delivery status updates.
    :param receipts_base_url: where the broadcastio receipts app is reachable
        (``broadcastio receipts serve --public-url``); status callbacks then go
        to ``<receipts_base_url>/<name>/status``. Either way the message's
        idempotency key is added to the callback URL's query.
    :param base_url: API root; tests point it at a local server.
    """

    channel = "sms"
    secret_fields = ("auth_token",)
    throttling_codes = frozenset({"twilio.20429"})  # Twilio's "too many requests": pause, never trip the breaker
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "sms",
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        receipts_base_url: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(account_sid, str) or not _ACCOUNT_SID.match(account_sid):
            raise ConfigurationError(f"provider {name!r}: account_sid must be 'AC' followed by 32 hex digits")
        if not isinstance(auth_token, str) or not auth_token.strip():
            raise ConfigurationError(f"provider {name!r}: auth_token must be a non-empty string")
        if messaging_service_sid is not None and not _SERVICE_SID.match(messaging_service_sid):
            raise ConfigurationError(f"provider {name!r}: messaging_service_sid must be 'MG' followed by 32 hex digits")
        if from_number is None and messaging_service_sid is None:
            raise ConfigurationError(f"provider {name!r}: set from_number or messaging_service_sid")
        if status_callback is not None and not status_callback.startswith(("http://", "https://")):
            raise ConfigurationError(f"provider {name!r}: status_callback must be an http:// or https:// URL")
        if receipts_base_url is not None:
            if not isinstance(receipts_base_url, str) or not receipts_base_url.startswith(("http://", "https://")):
                raise ConfigurationError(f"provider {name!r}: receipts_base_url must be an http:// or https:// URL")
            if status_callback is None:
                status_callback = f"{receipts_base_url.rstrip('/')}/{urllib.parse.quote(name, safe='')}{RECEIPT_PATH}"
        super().__init__(
            name=name,
            channel="sms",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            auth=(account_sid, auth_token),
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = _checked_sender(name, from_number)
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self._messages_path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._account_path = f"/{API_VERSION}/Accounts/{account_sid}.json"

    def _form(self, to: str, body: str, key: str) -> dict[str, str]:
        form = {"To": to, "Body": body}
        if self.from_number is not None:
            form["From"] = self.from_number
        if self.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self.messaging_service_sid
        if self.status_callback is not None:
            form["StatusCallback"] = _with_key(self.status_callback, key)
        return form

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST to Twilio; an invalid number fails here without a request."""
        if not message.text:
            return self._failed(
                DeliveryError.permanent(ErrorCode.REJECTED, "SMS carries text only; message.text is empty")
            )
        to = normalize_e164(address)
        if to is None:
            error = DeliveryError.permanent(
                ErrorCode.INVALID_RECIPIENT, f"{mask_phone(address)} is not a valid E.164 phone number"
            )
            return self._failed(error)
        if message.attachments:
            log.debug("sms.attachments_dropped", provider=self.name, count=len(message.attachments))
        response = await self.request(
            "POST", self._messages_path, data=self._form(to, message.text, message.idempotency_key)
        )
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code not in (200, 201):
            return self._failed(error_from_response(response, provider=self.name))
        return self._accepted(response, to)

    def _accepted(self, response: Response, to: str) -> DeliveryResult:
        body = json_object(response)
        error_code = body.get("error_code")
        if body.get("status") == "failed" and error_code:
            message = redact_phones(str(body.get("error_message") or "Twilio created the message as failed"))
            return self._failed(DeliveryError.permanent(f"twilio.{error_code}", message))
        sid = body.get("sid")
        message_id = sid if isinstance(sid, str) and sid else None
        log.debug("sms.accepted", provider=self.name, to=mask_phone(to), sid=message_id, status=body.get("status"))
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("sms.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """A GET of the account resource: proves reachability and credentials, sends nothing."""
        started = time.monotonic()
        response = await self.request("GET", self._account_path)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(
                healthy=False, detail=f"Twilio unreachable: {response.message}", latency_ms=latency_ms
            )
        if response.status_code in (401, 403):
            detail = f"Twilio rejected the credentials (HTTP {response.status_code})"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code != 200:
            return ProviderHealth(healthy=False, detail=f"HTTP {response.status_code}", latency_ms=latency_ms)
        status: Any = json_object(response).get("status")
        if status not in (None, "active"):
            return ProviderHealth(healthy=False, detail=f"Twilio account is {status}", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="Twilio account active", latency_ms=latency_ms)


def _checked_sender(name: str, from_number: str | None) -> str | None:
    if from_number is None:
        return None
    if not isinstance(from_number, str):
        raise ConfigurationError(f"provider {name!r}: from_number must be a string")
    normalized = normalize_e164(from_number)
    if normalized is not None:
        return normalized
    if is_alphanumeric_sender(from_number):
        return from_number
    raise ConfigurationError(
        f"provider {name!r}: from_number {from_number!r} is neither a valid E.164 number (such as +14155552671) "
        "nor an alphanumeric sender ID (1-11 letters, digits or spaces)"
    )


def _with_key(url: str, key: str) -> str:
    """``url`` with the idempotency key in its query, so a status callback names the message by key too."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(name, value) for name, value in query if name != CALLBACK_KEY_PARAM]
    query.append((CALLBACK_KEY_PARAM, key))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
