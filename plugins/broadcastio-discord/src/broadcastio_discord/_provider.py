"""``discord``: one Execute Webhook call per message.

``POST /api/webhooks/{id}/{token}?wait=true`` with JSON ``content`` (or a
multipart body with ``payload_json`` and ``files[n]`` when there are
attachments). The webhook token in the URL is the credential: the URL is
kept out of errors, repr and logs. Execute Webhook has no idempotency
mechanism, so sends are not idempotent.
"""

from __future__ import annotations

import importlib.metadata
import json
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
from broadcastio.http import HttpProvider, Response, json_object
from broadcastio.logs import MASK, redact_secret, redact_url_pattern, scrub

from broadcastio_discord._errors import error_from_answer

__all__ = ["CONTENT_LIMIT", "MAX_FILES", "DiscordProvider"]

CONTENT_LIMIT = 2000
"""Characters a webhook message's ``content`` may have."""
MAX_FILES = 10
"""Files one message may carry."""

# The webhook URL carries its token; httpx logs every request URL at INFO.
redact_url_pattern(r"(/webhooks/\d+/)[A-Za-z0-9_.-]+", r"\1" + MASK)

_PATH = re.compile(r"^/api(/v\d+)?/webhooks/(\d{1,25})/([A-Za-z0-9_-]{10,200})/?$")
_HEALTH_TIMEOUT = 5.0
_USER_AGENT = f"broadcastio-discord/{importlib.metadata.version('broadcastio-discord')}"


def _parse_url(name: str, url: object) -> tuple[str, str, str]:
    """``(origin, webhook path, token)``; raises naming the setting, never echoing the URL."""
    if not isinstance(url, str) or any(char in url for char in "\r\n\t "):
        raise ConfigurationError(f"provider {name!r}: url must be the Discord webhook URL, without whitespace")
    parts = urllib.parse.urlsplit(url)
    match = _PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or match is None:
        raise ConfigurationError(f"provider {name!r}: url must look like https://discord.com/api/webhooks/<id>/<token>")
    token = match.group(3)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/"), token


class DiscordProvider(HttpProvider):
    """Posts through a Discord webhook to its channel (or thread), files as multipart.

    The webhook fixes the channel, so the recipient's ``discord`` address
    is only a label: any non-empty string.

    :param url: the webhook URL ``https://discord.com/api/webhooks/<id>/<token>``; secret.
    :param username: override the webhook's display name.
    :param avatar_url: override the webhook's avatar.
    :param thread_id: post into this thread of the webhook's channel.
    :param allow_mentions: let ``@everyone``, role and user mentions in the
        text ping people; off by default, so message data cannot ping a server.
    """

    channel = "discord"
    secret_fields = ("url",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "discord",
        url: str,
        username: str | None = None,
        avatar_url: str | None = None,
        thread_id: str | None = None,
        allow_mentions: bool = False,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        origin, path, token = _parse_url(name, url)
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id.isdigit()):
            raise ConfigurationError(f"provider {name!r}: thread_id must be a Discord snowflake (digits)")
        if username is not None and (not isinstance(username, str) or not 1 <= len(username) <= 80):
            raise ConfigurationError(f"provider {name!r}: username must be 1-80 characters")
        super().__init__(
            name=name,
            channel="discord",
            base_url=origin,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.url = url
        self.username = username
        self.avatar_url = avatar_url
        self.thread_id = thread_id
        self.allow_mentions = bool(allow_mentions)
        self._path = path
        self._token = token
        query = {"wait": "true", **({"thread_id": thread_id} if thread_id else {})}
        self._send_target = f"{path}?{urllib.parse.urlencode(query)}"
        redact_secret(token)

    # --- sending -------------------------------------------------------------

    def _payload(self, message: Message) -> dict[str, Any] | DeliveryError:
        content = message.text
        if message.subject:
            content = f"**{message.subject}**\n{content}" if content else f"**{message.subject}**"
        if not content.strip() and not message.attachments:
            return DeliveryError.permanent(ErrorCode.REJECTED, "Discord needs text or a file; the message has neither")
        if len(content) > CONTENT_LIMIT:
            return DeliveryError.permanent(
                "discord.content_too_long", f"text is {len(content)} characters; Discord takes {CONTENT_LIMIT}"
            )
        if len(message.attachments) > MAX_FILES:
            return DeliveryError.permanent(
                "discord.too_many_files", f"{len(message.attachments)} attachments; Discord takes {MAX_FILES}"
            )
        payload: dict[str, Any] = {"content": content}
        if not self.allow_mentions:
            payload["allowed_mentions"] = {"parse": []}
        if self.username:
            payload["username"] = self.username
        if self.avatar_url:
            payload["avatar_url"] = self.avatar_url
        return payload

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One Execute Webhook call; the created message's id is the result's id."""
        payload = self._payload(message)
        if isinstance(payload, DeliveryError):
            return DeliveryResult.failure(payload)
        if message.attachments:
            payload["attachments"] = [
                {"id": index, "filename": item.filename} for index, item in enumerate(message.attachments)
            ]
            files = {
                f"files[{index}]": (item.filename, item.content, item.mime_type)
                for index, item in enumerate(message.attachments)
            }
            data = {"payload_json": json.dumps(payload)}
            response = await self.request("POST", self._send_target, data=data, files=files)
        else:
            response = await self.request("POST", self._send_target, json=payload)
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(self._clean(response))
        if response.status_code in (200, 204):
            return DeliveryResult.success(self._message_id(response))
        return DeliveryResult.failure(self._classify(response))

    @staticmethod
    def _message_id(response: Response) -> str | None:
        identifier = json_object(response).get("id")
        return str(identifier) if identifier is not None else None

    def _classify(self, response: Response) -> DeliveryError:
        try:
            error = error_from_answer(response.status_code, json_object(response), response.headers, provider=self.name)
        except ConfigurationError as exc:
            raise ConfigurationError(scrub(str(exc), (self._token,))) from None
        return self._clean(error)

    def _clean(self, error: DeliveryError) -> DeliveryError:
        return DeliveryError(
            code=error.code,
            message=scrub(error.message, (self._token,)),
            error_class=error.error_class,
            retry_after=error.retry_after,
        )

    # --- health --------------------------------------------------------------

    async def health(self) -> ProviderHealth:
        """Get Webhook with Token: proves the webhook exists and the token works; sends nothing."""
        started = time.monotonic()
        response = await self.request("GET", self._path, timeout=min(self.timeout, _HEALTH_TIMEOUT))
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            error = self._clean(response)
            return ProviderHealth(healthy=False, detail=f"{error.code}: {error.message}", latency_ms=latency_ms)
        if response.status_code != 200:
            try:
                error = self._classify(response)
            except ConfigurationError as exc:
                return ProviderHealth(healthy=False, detail=str(exc), latency_ms=latency_ms)
            return ProviderHealth(healthy=False, detail=f"{error.code}: {error.message}", latency_ms=latency_ms)
        hook_name = json_object(response).get("name")
        return ProviderHealth(
            healthy=True, detail=f"webhook {hook_name!r}" if hook_name else "webhook ok", latency_ms=latency_ms
        )
