"""What the SES and SNS providers share: settings, SigV4 signing and the signed request."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import httpx
from broadcastio import ConfigurationError, DeliveryError, RetryPolicy
from broadcastio.http import HttpProvider, Response

from broadcastio_aws._signing import Signer

__all__ = ["AwsProvider"]

_USER_AGENT = f"broadcastio-aws/{importlib.metadata.version('broadcastio-aws')}"
_HEALTH_TIMEOUT = 5.0


class AwsProvider(HttpProvider):
    """An HTTP provider whose every request is signed with SigV4 for one service and region.

    :param region: the AWS region (``us-east-1``).
    :param access_key_id: the access key; leave it and ``secret_access_key`` unset to use
        botocore's default credential chain (environment, shared config, instance role).
    :param secret_access_key: the secret key (never shown in repr, logs or errors).
    :param session_token: the session token of temporary credentials (secret too).
    :param endpoint_url: the service endpoint; default the region's public one. Tests point it at 127.0.0.1.
    """

    secret_fields = ("secret_access_key", "session_token")
    idempotent = False
    service = ""
    endpoint_template = ""

    def __init__(
        self,
        *,
        name: str,
        channel: str,
        region: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError(f"provider {name!r}: set both access_key_id and secret_access_key, or neither")
        self.signer = Signer(
            provider=name,
            service=self.service,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
        )
        endpoint = (endpoint_url or self.endpoint_template.format(region=region)).rstrip("/")
        super().__init__(
            name=name,
            channel=channel,
            base_url=endpoint,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.region = region
        self.endpoint_url = endpoint
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)

    async def signed_request(
        self, method: str, path: str, body: bytes, content_type: str, *, read_timeout: float | None = None
    ) -> Response | DeliveryError:
        """Sign the exact request with botocore, then send it through broadcastio's HTTP plumbing."""
        url = self.endpoint_url + path
        headers = await self.signer.headers(method, url, body, content_type)
        options: dict[str, Any] = {} if read_timeout is None else {"timeout": read_timeout}
        return await self.request(method, url, content=body, headers=headers, **options)
