"""AWS Signature Version 4 through botocore's signer, never by hand.

:class:`Signer` holds the credentials, region and service name and turns
one request (method, URL, body, content type) into the headers to send
(``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token``). The request
itself then goes out through broadcastio's HTTP plumbing, so the providers
keep its pooling, timeouts and failure classification.

Credentials are either given (access key, secret, optional session token)
or, when no key is given, found by botocore's default chain (environment,
shared config, container or instance role). Chain credentials may refresh
themselves, which can mean a network call, so :meth:`Signer.headers` reads
them off the event loop in that case.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.session import Session  # type: ignore[import-untyped]
from broadcastio import ConfigurationError
from broadcastio.plugins import single_line

__all__ = ["Signer"]


class Signer:
    """Signs requests for one AWS service in one region."""

    def __init__(
        self,
        *,
        provider: str,
        service: str,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        session_token: str | None,
    ) -> None:
        if not isinstance(region, str) or not region.strip() or "/" in region:
            raise ConfigurationError(f"provider {provider!r}: region must be an AWS region name such as us-east-1")
        self.service = service
        self.region = region
        if access_key_id is None and secret_access_key is None:
            found: Any = Session().get_credentials()
            if found is None:
                raise ConfigurationError(
                    f"provider {provider!r}: no AWS credentials: set access_key_id and secret_access_key, "
                    "or provide them through the environment, shared config or an instance role"
                )
            self._credentials: Any = found
            self._static = False
        else:
            single_line(provider, "access_key_id", access_key_id)
            single_line(provider, "secret_access_key", secret_access_key)
            if session_token is not None and (not isinstance(session_token, str) or not session_token.strip()):
                raise ConfigurationError(f"provider {provider!r}: session_token must be a non-empty string or None")
            self._credentials = Credentials(access_key_id, secret_access_key, session_token)
            self._static = True

    @property
    def access_key_id(self) -> str:
        return str(self._credentials.access_key)

    async def headers(self, method: str, url: str, body: bytes, content_type: str) -> dict[str, str]:
        """The headers to send with this exact request, signature included."""
        if self._static:
            credentials = self._credentials
        else:
            credentials = await asyncio.to_thread(self._credentials.get_frozen_credentials)
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": content_type})
        SigV4Auth(credentials, self.service, self.region).add_auth(request)
        return {str(key): str(value) for key, value in request.headers.items()}
