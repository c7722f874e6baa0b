"""The library-only second path: httpx, for what the fast client does not do.

A custom ``transport=`` (``httpx.MockTransport`` in unit tests), a
``proxy=``, an ``httpx.Auth`` flow, streaming bodies or httpx arguments the
fast client does not take go through an ``httpx.AsyncClient``. Nothing of
ours parses HTTP here either; the answer is read under the same body cap
and deadline and handed back as the same :class:`Response`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from broadcastio._models import DeliveryError
from broadcastio.http._failures import Failure, HttpFailure, error_from_http_exception
from broadcastio.http._response import Response

__all__ = ["library_request", "make_client"]


def make_client(
    *,
    base_url: str = "",
    timeout: float = 10.0,
    connect_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
    proxy: str | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` set up as providers expect: no redirects, no environment proxies."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout),
        headers=dict(headers or {}),
        auth=auth,
        transport=transport,
        proxy=proxy,
        limits=httpx.Limits(max_connections=max_connections),
        follow_redirects=False,
        trust_env=False,
    )


async def library_request(
    client: httpx.AsyncClient, method: str, url: str, *, max_body: int, deadline: float | None, **kwargs: Any
) -> Response | DeliveryError:
    """One request through ``client``, read under ``max_body`` and ``deadline``."""
    try:
        async with asyncio.timeout(deadline):
            async with client.stream(method, url, **kwargs) as answer:
                chunks: list[bytes] = []
                size = 0
                async for chunk in answer.aiter_bytes():
                    size += len(chunk)
                    if size > max_body:
                        raise HttpFailure(Failure.PROTOCOL, f"response body over the {max_body}-byte cap")
                    chunks.append(chunk)
                return Response(answer.status_code, list(answer.headers.raw), b"".join(chunks))
    except httpx.HTTPError as exc:
        return error_from_http_exception(exc)
    except HttpFailure as exc:
        return exc.to_error()
    except TimeoutError:
        return HttpFailure(Failure.TIMEOUT, f"the exchange passed its {deadline} s deadline").to_error()
