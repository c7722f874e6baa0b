"""The Example API provider: one POST per send, errors mapped by status."""

from __future__ import annotations

import httpx
from broadcastio import ConfigurationError, DeliveryError, DeliveryResult, Message, ProviderHealth, RetryPolicy
from broadcastio.http import HttpProvider, error_from_status, parse_retry_after


class ExampleProvider(HttpProvider):
    """Sends a message as ``POST {base_url}/messages`` with a bearer token.

    One attempt per call: the orchestrator decides about retries and fallback.
    """

    secret_fields = ("token",)

    def __init__(
        self,
        name: str = "example",
        *,
        base_url: str,
        token: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not token:
            raise ConfigurationError(f"provider {name!r}: token must not be empty")
        super().__init__(
            name=name,
            channel="example",
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            retry_policy=retry_policy,
        )
        self.token = token

    async def send(self, message: Message, address: str) -> DeliveryResult:
        response = await self.request(
            "POST",
            "/messages",
            json={"to": address, "text": message.text},
            headers={"Idempotency-Key": message.metadata.idempotency_key},
        )
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(response)
        if response.status_code == 401:
            raise ConfigurationError(f"provider {self.name!r}: the API refused the token (401)")
        if response.is_success:
            return DeliveryResult.success(str(response.json().get("id")))
        return DeliveryResult.failure(
            error_from_status(
                response.status_code,
                f"Example API answered {response.status_code}: {response.text[:200]}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        )

    async def health(self) -> ProviderHealth:
        response = await self.request("GET", "/health")
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=response.message)
        return ProviderHealth(healthy=response.is_success, detail=f"GET /health answered {response.status_code}")
