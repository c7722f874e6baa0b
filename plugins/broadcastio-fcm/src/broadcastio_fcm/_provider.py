"""``fcm``: push notifications to device registration tokens through FCM HTTP v1.

One ``POST /v1/projects/{project_id}/messages:send`` per send, with a
Bearer token from the service account (see ``_auth``). FCM HTTP v1 takes no
idempotency key, so sends are not idempotent and a timeout after the
request was written stays ambiguous.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import time
from collections.abc import Mapping
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
from broadcastio.logs import get_logger, mask_address

from broadcastio_fcm._auth import AccessTokens, load_service_account_info
from broadcastio_fcm._errors import error_from_answer

__all__ = ["DEFAULT_BASE_URL", "FcmProvider"]

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
HEALTH_TOPIC = "broadcastio-health"
"""The topic of the health check's dry run (``validate_only``: nothing is delivered)."""

_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{1,4096}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")
_USER_AGENT = f"broadcastio-fcm/{importlib.metadata.version('broadcastio-fcm')}"
_ANDROID_PRIORITY = {"high": "high", "low": "normal"}
_APNS_PRIORITY = {"high": "10", "low": "5"}

log = get_logger("broadcastio.fcm")


class FcmProvider(HttpProvider):
    """Sends a notification (title = subject, body = text) to one device token through FCM HTTP v1.

    :param service_account_info: the service-account key (a dict or its JSON text); secret.
    :param service_account_file: or the path of the key's JSON file.
    :param project_id: the Firebase project; defaults to the key's ``project_id``.
    :param base_url: FCM's root; tests point it at a local server.
    """

    channel = "push"
    secret_fields = ("service_account_info",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "fcm",
        service_account_info: Mapping[str, Any] | str | None = None,
        service_account_file: str | None = None,
        project_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        info = load_service_account_info(name, service_account_info, service_account_file)
        tokens = AccessTokens(info, provider=name, timeout=timeout)
        project = project_id or tokens.project_id
        if not isinstance(project, str) or not _PROJECT.match(project):
            raise ConfigurationError(
                f"provider {name!r}: project_id must be a Firebase project id (set it, or use a key with project_id)"
            )
        super().__init__(
            name=name,
            channel="push",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.service_account_info = info
        self.project_id = project
        self.tokens = tokens
        self._send_path = f"/v1/projects/{project}/messages:send"

    def _payload(self, token: str, message: Message) -> dict[str, Any]:
        notification: dict[str, str] = {"body": message.text or message.html or ""}
        if message.subject:
            notification["title"] = message.subject
        body: dict[str, Any] = {"token": token, "notification": notification}
        extra = message.metadata.extra
        if extra:
            # FCM's data map takes strings only: other values travel as JSON text.
            body["data"] = {
                str(key): value if isinstance(value, str) else json.dumps(value) for key, value in extra.items()
            }
        priority = message.metadata.priority
        if priority in _ANDROID_PRIORITY:
            body["android"] = {"priority": _ANDROID_PRIORITY[priority]}
            body["apns"] = {"headers": {"apns-priority": _APNS_PRIORITY[priority]}}
        return {"message": body}

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One ``messages:send``; a malformed registration token fails here without a request."""
        device = address.strip()
        if not _TOKEN.match(device):
            return self._failed(
                DeliveryError.permanent(
                    ErrorCode.INVALID_RECIPIENT, f"{mask_address(device)} is not an FCM registration token"
                )
            )
        try:
            payload = self._payload(device, message)
        except (TypeError, ValueError) as exc:
            return self._failed(DeliveryError.permanent(ErrorCode.REJECTED, f"metadata.extra is not JSON: {exc}"))
        answer = await self._post(payload)
        if isinstance(answer, DeliveryError):
            return self._failed(answer)
        name = answer.get("name")
        log.debug("fcm.sent", provider=self.name, token=mask_address(device), name=name)
        return DeliveryResult.success(name if isinstance(name, str) and name else None)

    async def _post(self, payload: dict[str, Any]) -> dict[str, Any] | DeliveryError:
        """POST to ``messages:send`` with a fresh Bearer token: FCM's answer, or a classified error."""
        token = await self.tokens.token()
        if isinstance(token, DeliveryError):
            return token
        response = await self.request(
            "POST", self._send_path, json=payload, headers={"Authorization": f"Bearer {token}"}
        )
        if isinstance(response, DeliveryError):
            return response
        body = json_object(response)
        if response.status_code == 200:
            return body
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return error_from_answer(response.status_code, body, provider=self.name, retry_after=retry_after)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("fcm.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """A dry run (``validate_only``) to a topic: proves the key, the token endpoint, FCM and the project.

        FCM has no status endpoint; a validated, undelivered message is the
        cheapest request that exercises everything a send needs.
        """
        started = time.monotonic()
        payload = {
            "validate_only": True,
            "message": {"topic": HEALTH_TOPIC, "notification": {"title": "health", "body": "health"}},
        }
        try:
            answer = await self._post(payload)
        except ConfigurationError as exc:
            return ProviderHealth(healthy=False, detail=str(exc), latency_ms=(time.monotonic() - started) * 1000.0)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(answer, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"{answer.code}: {answer.message}", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail=f"FCM project {self.project_id} ok", latency_ms=latency_ms)

    async def aclose(self) -> None:
        await super().aclose()
        self.tokens.close()
