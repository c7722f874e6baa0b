"""``teams``: one Adaptive Card message per message, POSTed to a Teams webhook.

The URL is a Workflows (Power Automate) "When a Teams webhook request is
received" trigger, or a legacy incoming webhook. It fixes the team and
channel, and it is the credential (the ``sig=`` parameter signs it), so it
comes from configuration only and is kept out of errors, repr and logs.
Teams webhooks have no idempotency mechanism: not idempotent.
"""

from __future__ import annotations

import importlib.metadata
import time
import urllib.parse

import httpx
from broadcastio import ConfigurationError, DeliveryError, DeliveryResult, Message, ProviderHealth, RetryPolicy
from broadcastio.http import HttpProvider, Response, json_object, parse_retry_after
from broadcastio.logs import MASK, redact_secret, redact_url_pattern, scrub

from broadcastio_teams._card import card_message
from broadcastio_teams._errors import error_from_answer, relayed_status

__all__ = ["TeamsProvider"]

_HEALTH_TIMEOUT = 5.0
_DETAIL_LIMIT = 160
_USER_AGENT = f"broadcastio-teams/{importlib.metadata.version('broadcastio-teams')}"

# A webhook URL is its own credential (a Workflows URL is signed by ``sig``); httpx logs every URL at INFO.
redact_url_pattern(r"([?&]sig=)[^&\s\"'#]+", r"\1" + MASK)
redact_url_pattern(r"(/IncomingWebhook/)[^\s\"'?#]+", r"\1" + MASK)
redact_url_pattern(r"(/webhookb2/)[^\s\"'?#/]+", r"\1" + MASK)


def _split_url(name: str, url: object) -> tuple[str, str, tuple[str, ...]]:
    """``(origin, path and query, secrets)``; raises naming the setting, never echoing the URL."""
    if not isinstance(url, str) or any(char in url for char in "\r\n\t "):
        raise ConfigurationError(f"provider {name!r}: url must be the Teams webhook URL, without whitespace")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.path in ("", "/"):
        raise ConfigurationError(f"provider {name!r}: url must be the whole https:// webhook URL from Teams")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    signatures = tuple(value for key, value in urllib.parse.parse_qsl(parts.query) if key == "sig")
    return f"{parts.scheme}://{parts.netloc}", target, (target, *signatures)


class TeamsProvider(HttpProvider):
    """Posts an Adaptive Card through a Teams Workflows (or incoming) webhook to its channel or chat.

    The recipient's ``teams`` address is only a label (any non-empty string):
    the webhook fixes where the card goes.

    :param url: the webhook URL; secret.
    :param full_width: stretch the card to the full message width (``msteams.width``).
    """

    channel = "teams"
    secret_fields = ("url",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "teams",
        url: str,
        full_width: bool = False,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        origin, target, secrets = _split_url(name, url)
        super().__init__(
            name=name,
            channel="teams",
            base_url=origin,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.url = url
        self.full_width = bool(full_width)
        self._hook_url = target
        self._secrets = secrets
        for secret in secrets:
            redact_secret(secret)

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST: 202 (Workflows) or 200 ``1`` (incoming webhook) is delivered."""
        built = card_message(message, full_width=self.full_width)
        if isinstance(built, DeliveryError):
            return DeliveryResult.failure(built)
        body, _ = built
        response = await self.request(
            "POST", self._hook_url, content=body, headers={"Content-Type": "application/json"}
        )
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(self._clean(response))
        status = response.status_code
        text = scrub(response.content[:_DETAIL_LIMIT].decode("utf-8", "replace").strip(), self._secrets)
        if 200 <= status < 300:
            relayed = relayed_status(text) if status == 200 else None
            if relayed is None:
                return DeliveryResult.success(None)
            status = relayed  # a legacy webhook reporting its relay's failure inside a 200
        error_code, detail = self._error_body(response, text)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        try:
            error = error_from_answer(status, error_code, detail, provider=self.name, retry_after=retry_after)
        except ConfigurationError as exc:
            raise ConfigurationError(scrub(str(exc), self._secrets)) from None
        return DeliveryResult.failure(self._clean(error))

    def _error_body(self, response: Response, text: str) -> tuple[str | None, str]:
        """The Logic Apps ``error.code`` and message, or None and the plain text."""
        error = json_object(response, "error")
        if not error:
            return None, text
        code = error.get("code")
        message = scrub(str(error.get("message") or "")[:_DETAIL_LIMIT], self._secrets)
        return (code if isinstance(code, str) else None), message

    def _clean(self, error: DeliveryError) -> DeliveryError:
        return DeliveryError(
            code=error.code,
            message=scrub(error.message, self._secrets),
            error_class=error.error_class,
            retry_after=error.retry_after,
        )

    async def health(self) -> ProviderHealth:
        """Reachability only: a GET on the webhook URL, and any HTTP answer counts.

        Teams webhooks have no status endpoint, a test post would be a real
        message, and what a trigger answers to GET is not documented; a
        deleted workflow shows on the first send (ConfigurationError).
        """
        started = time.monotonic()
        response = await self.request("GET", self._hook_url, timeout=min(self.timeout, _HEALTH_TIMEOUT))
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            detail = f"webhook unreachable: {self._clean(response).message}"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        detail = f"webhook host reachable (GET answered HTTP {response.status_code})"
        return ProviderHealth(healthy=True, detail=detail, latency_ms=latency_ms)
