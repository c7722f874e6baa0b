"""``slack-webhook``: one POST of ``{"text": ...}`` to an incoming webhook URL.

The webhook is bound to one channel when it is created, so the URL is the
destination and the credential at once: it comes from configuration only,
is kept out of errors, repr and logs, and the recipient's ``slack`` address
is only a label (any non-empty string). Incoming webhooks have no
idempotency mechanism: not idempotent.
"""

from __future__ import annotations

import importlib.metadata
import urllib.parse
from typing import Any

import httpx
from broadcastio import ConfigurationError, DeliveryError, DeliveryResult, Message, ProviderHealth, RetryPolicy
from broadcastio.http import HttpProvider, parse_retry_after
from broadcastio.logs import MASK, redact_secret, redact_url_pattern, scrub

from broadcastio_slack._errors import error_from_slack
from broadcastio_slack._text import slack_text

__all__ = ["SlackWebhookProvider"]

_HEALTH_TIMEOUT = 5.0
_ERROR_SNIPPET = 100

# The webhook URL is its own credential; httpx logs every request URL at INFO.
redact_url_pattern(r"/services/[^\s\"'?#]+", "/services/" + MASK)


def split_url(name: str, url: object) -> tuple[str, str]:
    """``(origin, secret path and query)`` of a webhook URL; raises naming the setting, never the URL."""
    if not isinstance(url, str) or any(char in url for char in "\r\n\t "):
        raise ConfigurationError(f"provider {name!r}: url must be the webhook URL, without whitespace")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ConfigurationError(f"provider {name!r}: url must be an http(s) webhook URL")
    path = parts.path or "/"
    if path == "/":
        raise ConfigurationError(f"provider {name!r}: url has no path; copy the whole webhook URL")
    return f"{parts.scheme}://{parts.netloc}", path + (f"?{parts.query}" if parts.query else "")


class SlackWebhookProvider(HttpProvider):
    """Posts through a Slack incoming webhook to the one channel it was created for.

    :param url: the webhook URL (``https://hooks.slack.com/services/T.../B.../...``);
        secret, never shown.
    :param mrkdwn: let Slack format the text; False posts it literally.
    """

    channel = "slack"
    secret_fields = ("url",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "slack-webhook",
        url: str,
        mrkdwn: bool = True,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        origin, path = split_url(name, url)
        super().__init__(
            name=name,
            channel="slack",
            base_url=origin,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": f"broadcastio-slack/{importlib.metadata.version('broadcastio-slack')}"},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.url = url
        self.mrkdwn = bool(mrkdwn)
        self._path = path
        redact_secret(path)

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST; Slack answers 200 ``ok`` or a status with the error string as the body."""
        text = slack_text(message)
        if isinstance(text, DeliveryError):
            return DeliveryResult.failure(text)
        payload: dict[str, Any] = {"text": text, "mrkdwn": self.mrkdwn}
        response = await self.request("POST", self._path, json=payload)
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(self._clean(response))
        if 200 <= response.status_code < 300:
            return DeliveryResult.success(None)
        error = response.content[:_ERROR_SNIPPET].decode("utf-8", "replace").strip()
        try:
            classified = error_from_slack(
                error if error.replace("_", "").isalnum() else None,
                response.status_code,
                provider=self.name,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        except ConfigurationError as exc:
            raise ConfigurationError(scrub(str(exc), (self._path,))) from None
        return DeliveryResult.failure(classified)

    def _clean(self, error: DeliveryError) -> DeliveryError:
        return DeliveryError(
            code=error.code,
            message=scrub(error.message, (self._path,)),
            error_class=error.error_class,
            retry_after=error.retry_after,
        )

    async def health(self) -> ProviderHealth:
        """Reachability only: a GET on the hook, any HTTP answer counts.

        Incoming webhooks have no status endpoint and a test post would be a
        real message; a refused connection or a timeout is unhealthy.
        """
        response = await self.request("GET", self._path, timeout=min(self.timeout, _HEALTH_TIMEOUT))
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"webhook unreachable: {self._clean(response).message}")
        return ProviderHealth(healthy=True, detail=f"webhook host reachable (GET answered HTTP {response.status_code})")
