"""``slack``: one ``chat.postMessage`` per message, with a bot token.

Slack's Web API has no idempotency key, so sends are not idempotent: a
timeout after the request was written is ambiguous and is not retried.
"""

from __future__ import annotations

import importlib.metadata
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
from broadcastio.http import HttpProvider, json_object, parse_retry_after

from broadcastio_slack._errors import error_from_slack
from broadcastio_slack._text import slack_text

__all__ = ["DEFAULT_API_URL", "SlackProvider"]

DEFAULT_API_URL = "https://slack.com/api"
_TOKEN = re.compile(r"^xox[bpae]-[A-Za-z0-9-]{10,250}$")
_CHANNEL = re.compile(r"^([CDGUW][A-Z0-9]{2,30}|#[a-z0-9][a-z0-9._-]{0,79})$")
_USER_AGENT = f"broadcastio-slack/{importlib.metadata.version('broadcastio-slack')}"


class SlackProvider(HttpProvider):
    """Posts to a Slack channel through the Web API (chat.postMessage) as an app's bot user.

    The address is a channel id (``C0123ABCDEF``; ``D...`` for a DM, a user
    id ``U...`` for the app's DM with that user) or ``#channel-name``.

    :param token: the bot token (``xoxb-...``; a user token ``xoxp-...``
        works too); secret, sent only in the ``Authorization`` header.
    :param mrkdwn: let Slack format the text (``*bold*``, links); False posts it literally.
    :param unfurl_links: let Slack add link previews.
    :param base_url: the Web API root; tests point it at a local server.
    """

    channel = "slack"
    secret_fields = ("token",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "slack",
        token: str,
        mrkdwn: bool = True,
        unfurl_links: bool = False,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(token, str) or not _TOKEN.match(token):
            # Never echo the value: it may be a real token with a typo.
            raise ConfigurationError(f"provider {name!r}: token must be a Slack token ('xoxb-...' for a bot)")
        super().__init__(
            name=name,
            channel="slack",
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Authorization": f"Bearer {token}"},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.token = token
        self.mrkdwn = bool(mrkdwn)
        self.unfurl_links = bool(unfurl_links)

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One ``chat.postMessage``; the answer's ``ts`` is the message id."""
        channel = address.strip()
        if not _CHANNEL.match(channel):
            return DeliveryResult.failure(
                DeliveryError.permanent(
                    ErrorCode.INVALID_RECIPIENT, "Slack address must be a channel id (C0123ABCDEF) or #channel-name"
                )
            )
        text = slack_text(message)
        if isinstance(text, DeliveryError):
            return DeliveryResult.failure(text)
        payload: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "mrkdwn": self.mrkdwn,
            "unfurl_links": self.unfurl_links,
            "unfurl_media": self.unfurl_links,
        }
        answer = await self._call("chat.postMessage", payload)
        if isinstance(answer, DeliveryError):
            return DeliveryResult.failure(answer)
        ts = answer.get("ts")
        return DeliveryResult.success(str(ts) if ts else None)

    async def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any] | DeliveryError:
        """One Web API call: the ``ok`` answer or a classified error; raises for a rejected token."""
        response = await self.request(
            "POST", method, json=payload, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        if isinstance(response, DeliveryError):
            return response
        answer = json_object(response)
        if response.status_code == 200 and answer.get("ok") is True:
            return answer
        error = answer.get("error")
        if response.status_code == 200 and not isinstance(error, str):
            # Something answered 200 without Slack's envelope (a proxy, a captive portal): the post may have gone out.
            return DeliveryError.ambiguous("slack.unreadable_answer", "HTTP 200 without Slack's ok/error answer")
        return error_from_slack(
            error if isinstance(error, str) else None,
            response.status_code,
            provider=self.name,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    async def health(self) -> ProviderHealth:
        """``auth.test``: proves Slack is reachable and the token valid; posts nothing."""
        started = time.monotonic()
        try:
            answer = await self._call("auth.test", {})
        except ConfigurationError as exc:
            return ProviderHealth(healthy=False, detail=str(exc), latency_ms=(time.monotonic() - started) * 1000.0)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(answer, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"{answer.code}: {answer.message}", latency_ms=latency_ms)
        team, user = answer.get("team"), answer.get("user")
        detail = f"authenticated as {user} in {team}" if team and user else "token valid"
        return ProviderHealth(healthy=True, detail=detail, latency_ms=latency_ms)
