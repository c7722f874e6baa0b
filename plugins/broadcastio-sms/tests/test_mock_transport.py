"""Details checked on an httpx.MockTransport, on top of the local-server tests."""

from __future__ import annotations

import base64
import urllib.parse

import httpx
from broadcastio import Message
from broadcastio_sms import TwilioSmsProvider

SID = "AC" + "0123456789abcdef" * 2


async def test_request_is_a_basic_auth_form_post() -> None:
    """One POST, form-encoded, basic auth with SID and token, JSON accepted."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": "SMabc", "status": "queued"})

    provider = TwilioSmsProvider(
        account_sid=SID,
        auth_token="tok",
        from_number="+14155550100",
        base_url="https://twilio.test/prefix",
        transport=httpx.MockTransport(handler),
    )
    try:
        result = await provider.send(Message(recipient="+14155552671", text="a&b=c ü"), "+14155552671")
    finally:
        await provider.aclose()
    assert result.provider_message_id == "SMabc"
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"https://twilio.test/prefix/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:tok".encode()).decode()
    assert urllib.parse.parse_qs(request.content.decode()) == {
        "To": ["+14155552671"],
        "From": ["+14155550100"],
        "Body": ["a&b=c ü"],
    }


async def test_accepted_without_a_sid_is_delivered_without_an_id() -> None:
    """A 2xx is an acceptance even when the body is not JSON; the id is then unknown."""
    provider = TwilioSmsProvider(
        account_sid=SID,
        auth_token="tok",
        from_number="+14155550100",
        transport=httpx.MockTransport(lambda request: httpx.Response(201, text="created")),
    )
    try:
        result = await provider.send(Message(recipient="+14155552671", text="x"), "+14155552671")
    finally:
        await provider.aclose()
    assert result.ok
    assert result.provider_message_id is None
