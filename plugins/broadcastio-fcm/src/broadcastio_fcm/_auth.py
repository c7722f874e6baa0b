"""OAuth2 access tokens for a service account, through google-auth.

google-auth signs the JWT assertion and exchanges it at the key's
``token_uri``; its refresh is blocking, so it runs in a worker thread, and
one refresh serves every send waiting for it (single flight). A token is
refreshed before it expires: google-auth's ``valid`` turns false 3 min 45 s
ahead of the expiry the token endpoint announced.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import requests
from broadcastio import ConfigurationError, DeliveryError, ErrorCode
from google.oauth2 import service_account

__all__ = ["FCM_SCOPE", "AccessTokens", "load_service_account_info"]

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
"""The OAuth2 scope FCM HTTP v1 sends need."""


def load_service_account_info(provider: str, info: Mapping[str, Any] | str | None, path: str | None) -> dict[str, Any]:
    """The service-account key as a dict, from ``info`` (a dict or JSON text) or the JSON file at ``path``."""
    if (info is None) == (path is None):
        raise ConfigurationError(
            f"provider {provider!r}: set exactly one of service_account_info, service_account_file"
        )
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                info = handle.read()
        except OSError as exc:
            raise ConfigurationError(f"provider {provider!r}: cannot read service_account_file: {exc}") from None
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            raise ConfigurationError(f"provider {provider!r}: the service-account key is not valid JSON") from None
    if not isinstance(info, Mapping):
        raise ConfigurationError(f"provider {provider!r}: the service-account key must be a JSON object")
    if info.get("type", "service_account") != "service_account":
        raise ConfigurationError(f"provider {provider!r}: the key's type must be 'service_account'")
    return dict(info)


class _TimedRequest:
    """google-auth's requests transport with our timeout (its own default is 120 s)."""

    def __init__(self, request: google.auth.transport.requests.Request, timeout: float) -> None:
        self._request = request
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return self._request(url, method=method, body=body, headers=headers, **kwargs)


class AccessTokens:
    """Bearer tokens for FCM, refreshed off the event loop, one refresh at a time.

    :param info: the service-account key (``client_email``, ``private_key``, ``token_uri``, ...).
    :param timeout: seconds for the token endpoint.
    """

    def __init__(self, info: Mapping[str, Any], *, provider: str, timeout: float) -> None:
        self._provider = provider
        try:
            self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(info), scopes=[FCM_SCOPE]
            )
        except (ValueError, KeyError, TypeError) as exc:
            # The text of a key-parsing error never carries the key; a missing field names the field.
            hint = str(exc) if "missing fields" in str(exc) else type(exc).__name__
            raise ConfigurationError(f"provider {provider!r}: the service-account key is not usable ({hint})") from None
        self._session = requests.Session()
        self._request = _TimedRequest(google.auth.transport.requests.Request(self._session), timeout)
        self._inflight: asyncio.Future[None] | None = None
        self.refreshes = 0
        """How many tokens were fetched (for tests and debugging)."""

    @property
    def service_account_email(self) -> str:
        return str(self._credentials.service_account_email)

    @property
    def project_id(self) -> str | None:
        project = self._credentials.project_id
        return str(project) if project else None

    async def token(self) -> str | DeliveryError:
        """A valid access token; a failed refresh is a classified error or, for a refused key, raises."""
        if self._credentials.valid:
            return str(self._credentials.token)
        inflight = self._inflight
        if inflight is None or inflight.done():
            inflight = self._inflight = asyncio.ensure_future(asyncio.to_thread(self._refresh))
            inflight.add_done_callback(_consume)
        try:
            await asyncio.shield(inflight)
        except google.auth.exceptions.RefreshError as exc:
            reason = str(exc.args[0]) if exc.args else type(exc).__name__
            if exc.retryable:
                return DeliveryError.transient("fcm.token_unavailable", f"OAuth token endpoint: {reason}")
            raise ConfigurationError(
                f"provider {self._provider!r}: the OAuth token endpoint refused the service account ({reason})"
            ) from None
        except google.auth.exceptions.TransportError as exc:
            cause = exc.args[0] if exc.args else exc
            what = type(cause).__name__ if isinstance(cause, BaseException) else str(cause)
            return DeliveryError.transient(ErrorCode.CONNECTION_FAILED, f"OAuth token endpoint unreachable: {what}")
        return str(self._credentials.token)

    def _refresh(self) -> None:
        self._credentials.refresh(self._request)
        self.refreshes += 1

    def close(self) -> None:
        self._session.close()


def _consume(future: asyncio.Future[None]) -> None:
    """Retrieve a refresh's exception even when every waiter was cancelled (no 'never retrieved' warning)."""
    if not future.cancelled():
        future.exception()
