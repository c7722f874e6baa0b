"""broadcastio provider for the Example messaging API: the whole plugin, one module."""

from __future__ import annotations

from typing import Any

from broadcastio import ConfigurationError, DeliveryError, DeliveryResult, Message, ProviderHealth
from broadcastio.http import HttpProvider, error_from_status, parse_retry_after
from broadcastio.plugins import provider_types

__all__ = ["ExampleProvider", "broadcastio_provider_types"]


class ExampleProvider(HttpProvider):
    """The Example messaging API: one POST {base_url}/messages per send, with a bearer token"""

    channel = "example"
    secret_fields = ("token",)

    def __init__(self, name: str = "example", *, token: str, **http: Any) -> None:
        """``http``: HttpProvider's settings (``base_url``, ``timeout``, ``transport``, ``retry_policy``)."""
        if not token:
            raise ConfigurationError(f"provider {name!r}: token must not be empty")
        super().__init__(name=name, channel=self.channel, headers={"Authorization": f"Bearer {token}"}, **http)
        self.token = token

    async def send(self, message: Message, address: str) -> DeliveryResult:
        key = {"Idempotency-Key": message.metadata.idempotency_key}
        response = await self.request("POST", "/messages", json={"to": address, "text": message.text}, headers=key)
        if isinstance(response, DeliveryError):  # not reached, or no answer: already classified
            return DeliveryResult.failure(response)
        if response.status_code == 401:  # only a configuration change fixes this: raise
            raise ConfigurationError(f"provider {self.name!r}: the API refused the token (401)")
        if response.is_success:
            return DeliveryResult.success(str(response.json().get("id")))
        text = f"Example API answered {response.status_code}: {response.text[:200]}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return DeliveryResult.failure(error_from_status(response.status_code, text, retry_after=retry_after))

    async def health(self) -> ProviderHealth:
        response = await self.request("GET", "/health")
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=response.message)
        return ProviderHealth(healthy=response.is_success, detail=f"GET /health answered {response.status_code}")


broadcastio_provider_types = provider_types(ExampleProvider)
