"""``pushover``: notifications to a Pushover user or group key.

One form POST per send to ``/1/messages.json``. Pushover answers
``{"status": 1, "request": "<uuid>"}`` on success and a 4xx with
``{"status": 0, "errors": [...], "<field>": "invalid"}`` naming the field it
refused. The Message API takes no idempotency key, so sends are not
idempotent and a timeout after the request was written stays ambiguous.
"""

from __future__ import annotations

import base64
import importlib.metadata
import logging
import re
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
from broadcastio.http import HttpProvider, Response, error_from_status, json_object, parse_retry_after
from broadcastio.logs import get_logger, mask_address

__all__ = ["DEFAULT_BASE_URL", "MESSAGE_LIMIT", "TITLE_LIMIT", "PushoverProvider"]

DEFAULT_BASE_URL = "https://api.pushover.net"
MESSAGE_LIMIT = 1024
"""Characters Pushover accepts in ``message``."""
TITLE_LIMIT = 250
"""Characters Pushover accepts in ``title``."""
ATTACHMENT_LIMIT = 5 * 1024 * 1024
"""Bytes an image attachment may have."""

_KEY = re.compile(r"^[A-Za-z0-9]{30}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{1,25}$")
_PRIORITIES = {"low": -1, "normal": 0, "high": 1}
_USER_AGENT = f"broadcastio-pushover/{importlib.metadata.version('broadcastio-pushover')}"
_MONTH = 31 * 24 * 3600.0

_TOKEN_IN_QUERY = re.compile(r"(token=)[A-Za-z0-9]{30}")

log = get_logger("broadcastio.pushover")


class _RedactTokenQuery(logging.Filter):
    """Masks ``token=`` in a log record: the limits call carries the app token in its query string,
    and httpx logs every request URL at INFO (on the full path, e.g. with a custom transport)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = _TOKEN_IN_QUERY.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_FILTER = _RedactTokenQuery(name="")


def _install_httpx_log_filter() -> None:
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


class PushoverProvider(HttpProvider):
    """Sends ``message.text`` (or its HTML) as a notification through the Pushover Message API.

    The address is a Pushover user or group key (30 letters and digits).

    :param token: the application's API token (secret).
    :param device: send to this one device of the user instead of all of them.
    :param sound: a sound name that overrides the user's default.
    :param base_url: API root; tests point it at a local server.
    """

    channel = "pushover"
    secret_fields = ("token",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "pushover",
        token: str,
        device: str | None = None,
        sound: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(token, str) or not _KEY.match(token):
            # Never echo the value: it may be a real token with a typo.
            raise ConfigurationError(f"provider {name!r}: token must be a Pushover API token (30 letters and digits)")
        if device is not None and (not isinstance(device, str) or not _DEVICE.match(device)):
            raise ConfigurationError(f"provider {name!r}: device must be 1-25 letters, digits, '_' or '-'")
        if sound is not None and (not isinstance(sound, str) or not sound.strip()):
            raise ConfigurationError(f"provider {name!r}: sound must be a non-empty string")
        super().__init__(
            name=name,
            channel="pushover",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.token = token
        self.device = device
        self.sound = sound
        _install_httpx_log_filter()

    def _form(self, user: str, message: Message) -> dict[str, str] | DeliveryError:
        """The documented form fields for one message, or why it cannot go out."""
        form = {"token": self.token, "user": user, "priority": str(_PRIORITIES[message.metadata.priority])}
        if message.text:
            body = message.text
        elif message.html:
            body, form["html"] = message.html, "1"
        else:
            return DeliveryError.permanent(ErrorCode.REJECTED, "Pushover needs a text; message.text is empty")
        if len(body) > MESSAGE_LIMIT:
            return DeliveryError.permanent(
                "pushover.message_too_long", f"message is {len(body)} characters; Pushover accepts {MESSAGE_LIMIT}"
            )
        form["message"] = body
        if message.subject:
            form["title"] = message.subject[:TITLE_LIMIT]
        if self.device is not None:
            form["device"] = self.device
        if self.sound is not None:
            form["sound"] = self.sound
        images = [item for item in message.attachments if item.mime_type.startswith("image/")]
        if images and len(images[0].content) <= ATTACHMENT_LIMIT:
            form["attachment_base64"] = base64.b64encode(images[0].content).decode("ascii")
            form["attachment_type"] = images[0].mime_type
        if len(message.attachments) > (1 if "attachment_type" in form else 0):
            log.debug("pushover.attachments_dropped", provider=self.name, count=len(message.attachments))
        return form

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST to ``messages.json``; a malformed user key fails here without a request."""
        user = address.strip()
        if not _KEY.match(user):
            error = DeliveryError.permanent(
                ErrorCode.INVALID_RECIPIENT, f"{mask_address(user)} is not a Pushover user or group key"
            )
            return self._failed(error)
        form = self._form(user, message)
        if isinstance(form, DeliveryError):
            return self._failed(form)
        response = await self.request("POST", "/1/messages.json", data=form)
        if isinstance(response, DeliveryError):
            return self._failed(response)
        body = json_object(response)
        if response.status_code == 200 and body.get("status") == 1:
            request_id = body.get("request")
            log.debug(
                "pushover.accepted",
                provider=self.name,
                user=mask_address(user),
                request=request_id,
                remaining=response.headers.get("X-Limit-App-Remaining"),
            )
            return DeliveryResult.success(request_id if isinstance(request_id, str) and request_id else None)
        return self._failed(self._error(response, body))

    def _error(self, response: Response, body: dict[str, Any]) -> DeliveryError:
        """Classify a refused message; raise :class:`ConfigurationError` for a rejected app token."""
        status = response.status_code
        errors = body.get("errors")
        text = "; ".join(str(item) for item in errors) if isinstance(errors, list) and errors else f"HTTP {status}"
        if body.get("token") == "invalid" or status in (401, 403):
            raise ConfigurationError(
                f"provider {self.name!r}: Pushover rejected the application token (HTTP {status}: {text}); check token"
            )
        if status == 429:
            return DeliveryError.transient(ErrorCode.RATE_LIMITED, text, retry_after=_retry_after(response))
        if body.get("user") == "invalid":
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, text)
        if body.get("device") == "invalid":
            return DeliveryError.permanent("pushover.invalid_device", text)
        if 400 <= status < 500:
            return DeliveryError.permanent(f"pushover.{status}", text)
        if status == 200:  # 200 without status 1: not accepted, and nothing says why
            return DeliveryError.permanent(ErrorCode.REJECTED, f"Pushover answered status {body.get('status')!r}")
        return error_from_status(status, text, retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("pushover.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """``GET /1/apps/limits.json``: proves reachability and the app token, and that messages remain.

        ``users/validate.json`` would need a user key, which only a message
        carries; the limits call needs the app token alone and sends nothing.
        """
        started = time.monotonic()
        response = await self.request("GET", f"/1/apps/limits.json?token={self.token}")
        latency_ms = (time.monotonic() - started) * 1000.0

        def unhealthy(detail: str) -> ProviderHealth:
            return ProviderHealth(healthy=False, detail=detail.replace(self.token, "***"), latency_ms=latency_ms)

        if isinstance(response, DeliveryError):
            return unhealthy(f"Pushover unreachable: {response.message}")
        body = json_object(response)
        if body.get("token") == "invalid" or response.status_code in (401, 403):
            return unhealthy(f"Pushover rejected the application token (HTTP {response.status_code})")
        if response.status_code != 200 or body.get("status") != 1:
            return unhealthy(f"Pushover limits check failed (HTTP {response.status_code})")
        remaining, limit = body.get("remaining"), body.get("limit")
        if isinstance(remaining, int) and remaining <= 0:
            return unhealthy(f"Pushover monthly message limit ({limit}) reached")
        return ProviderHealth(
            healthy=True, detail=f"Pushover app ok, {remaining} of {limit} messages left", latency_ms=latency_ms
        )


def _retry_after(response: Response) -> float | None:
    """Retry-After when present, else the seconds until ``X-Limit-App-Reset`` (the monthly quota resets)."""
    hint = parse_retry_after(response.headers.get("Retry-After"))
    if hint is not None:
        return hint
    reset = response.headers.get("X-Limit-App-Reset")
    try:
        seconds = float(reset) - time.time() if reset is not None else None
    except ValueError:
        return None
    return None if seconds is None else min(max(0.0, seconds), _MONTH)
