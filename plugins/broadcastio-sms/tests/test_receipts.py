"""Twilio status callbacks: the signature as Twilio documents it, statuses, and the endpoint for real.

The signature tests use the example values of Twilio's "Validating
requests" documentation (URL, POST parameters, auth token and the
signature it prints), in both of the versions Twilio has published.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import broadcastio_sms
import httpx
import pytest
from broadcastio import ConfigurationError, ErrorClass, Message
from broadcastio.receipts import MemoryReceiptSink, ReceiptLevel, ReceiptRequest, receipts_app
from broadcastio.testing import isolated_plugin_manager
from broadcastio_sms import TwilioSmsProvider, twilio_signature
from broadcastio_sms._receipts import receipt_endpoint

PUBLIC = "https://hooks.example.com/receipts"
SID = "SM" + "a" * 32


def test_signature_matches_twilios_documented_example() -> None:
    """Twilio's security page: token 12345, this URL and these params sign to the value it prints."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_matches_twilios_earlier_documented_example() -> None:
    """The same page's earlier edition (other phone numbers, other signature)."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("12346", url, params.items()) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def callback_form(status: str, *, sid: str = SID, error_code: str | None = None) -> dict[str, str]:
    """A status callback form the way Twilio posts one."""
    form = {
        "AccountSid": "AC" + "0123456789abcdef" * 2,
        "ApiVersion": "2010-04-01",
        "From": "+14155550100",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": "+14155552671",
    }
    if error_code is not None:
        form["ErrorCode"] = error_code
    return form


def signed(token: str, url: str, form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    body = urllib.parse.urlencode(form).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(token, url, form.items()),
    }
    return body, headers


@pytest.fixture
def app_and_sink(twilio: Any) -> tuple[Any, MemoryReceiptSink]:
    manager = isolated_plugin_manager()
    manager.register(broadcastio_sms, name="sms")
    sink = MemoryReceiptSink({SID, "key-1"})
    settings = {"type": "sms", "account_sid": twilio.ACCOUNT_SID, "auth_token": twilio.AUTH_TOKEN}
    return receipts_app(sink, {"texts": settings}, plugin_manager=manager, public_base_url=PUBLIC), sink


async def post(app: Any, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8787") as http:
        return await http.post(path, content=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "level"),
    [
        ("queued", ReceiptLevel.ACCEPTED),
        ("sent", ReceiptLevel.SENT),
        ("delivered", ReceiptLevel.DELIVERED),
        ("undelivered", ReceiptLevel.FAILED),
        ("failed", ReceiptLevel.FAILED),
    ],
)
async def test_each_status_becomes_its_level(
    twilio: Any, app_and_sink: tuple[Any, MemoryReceiptSink], status: str, level: ReceiptLevel
) -> None:
    app, sink = app_and_sink
    url = f"{PUBLIC}/texts/status?idempotency_key=key-1"
    body, headers = signed(twilio.AUTH_TOKEN, url, callback_form(status))
    response = await post(app, "/texts/status?idempotency_key=key-1", body, headers)
    assert response.status_code == 200
    (receipt,) = sink.receipts
    assert (receipt.level, receipt.status, receipt.provider_message_id) == (level, status, SID)
    assert receipt.idempotency_key == "key-1"
    assert receipt.provider == "texts"
    assert receipt.provider_type == "sms"
    assert (receipt.error is not None) is (level is ReceiptLevel.FAILED)


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        ("30003", ErrorClass.TRANSIENT),  # unreachable handset
        ("30006", ErrorClass.PERMANENT),  # landline
        ("21610", ErrorClass.PERMANENT),  # unsubscribed
        ("30008", ErrorClass.PERMANENT),  # unknown error: this channel gave up
    ],
)
async def test_error_codes_are_classified(
    twilio: Any, app_and_sink: tuple[Any, MemoryReceiptSink], code: str, error_class: ErrorClass
) -> None:
    app, sink = app_and_sink
    body, headers = signed(twilio.AUTH_TOKEN, f"{PUBLIC}/texts/status", callback_form("undelivered", error_code=code))
    assert (await post(app, "/texts/status", body, headers)).status_code == 200
    error = sink.receipts[0].error
    assert error is not None
    assert (error.code, error.error_class) == (f"twilio.{code}", error_class)
    assert "+1415" not in error.message


@pytest.mark.parametrize("case", ["missing", "wrong token", "tampered", "other url", "internal url"])
async def test_unverifiable_callbacks_are_403_and_change_nothing(
    twilio: Any, app_and_sink: tuple[Any, MemoryReceiptSink], case: str
) -> None:
    """No header, another token, a parameter changed after signing, or the URL as seen behind the proxy: 403."""
    app, sink = app_and_sink
    url = f"{PUBLIC}/texts/status"
    form = callback_form("delivered")
    body, headers = signed(twilio.AUTH_TOKEN, url, form)
    if case == "missing":
        del headers["X-Twilio-Signature"]
    elif case == "wrong token":
        body, headers = signed("another-token", url, form)
    elif case == "tampered":
        body = urllib.parse.urlencode({**form, "MessageStatus": "failed"}).encode()
    elif case == "other url":
        body, headers = signed(twilio.AUTH_TOKEN, f"{PUBLIC}/texts/status?idempotency_key=x", form)
    else:
        body, headers = signed(twilio.AUTH_TOKEN, "http://127.0.0.1:8787/texts/status", form)
    response = await post(app, "/texts/status", body, headers)
    assert response.status_code == 403
    assert sink.outcomes == []


async def test_unknown_message_replay_and_stale(twilio: Any, app_and_sink: tuple[Any, MemoryReceiptSink]) -> None:
    """Unknown sid: 200 and orphaned. The same callback again: duplicate. sent after delivered: stale."""
    app, sink = app_and_sink
    url = f"{PUBLIC}/texts/status"
    for form in (
        callback_form("delivered", sid="SM" + "f" * 32),
        callback_form("delivered"),
        callback_form("delivered"),
        callback_form("sent"),
    ):
        body, headers = signed(twilio.AUTH_TOKEN, url, form)
        assert (await post(app, "/texts/status", body, headers)).status_code == 200
    assert sink.outcomes == ["orphaned", "recorded", "duplicate", "stale"]


async def test_oversize_callback_is_413(twilio: Any, app_and_sink: tuple[Any, MemoryReceiptSink]) -> None:
    app, sink = app_and_sink
    form = {**callback_form("delivered"), "Padding": "x" * 70_000}
    body, headers = signed(twilio.AUTH_TOKEN, f"{PUBLIC}/texts/status", form)
    assert (await post(app, "/texts/status", body, headers)).status_code == 413
    assert sink.outcomes == []


def test_the_endpoint_needs_the_auth_token() -> None:
    with pytest.raises(ConfigurationError, match="auth_token"):
        receipt_endpoint().handler_factory({"account_sid": "AC"})


def test_a_signed_form_without_a_status_is_400(twilio: Any) -> None:
    handler = receipt_endpoint().handler_factory({"auth_token": twilio.AUTH_TOKEN})
    body, headers = signed(twilio.AUTH_TOKEN, "https://x/s", {"Foo": "bar"})
    request = ReceiptRequest(
        method="POST",
        url="https://x/s",
        headers={key.lower(): value for key, value in headers.items()},
        query={},
        body=body,
        received_at_unix=time.time(),
    )
    assert handler(request).status == 400


# --- the provider asks for callbacks --------------------------------------------------------------


async def test_receipts_base_url_sets_status_callback_with_the_key(make_provider: Any, twilio: Any) -> None:
    """With receipts_base_url, every send asks Twilio to call <base>/<name>/status?idempotency_key=<key>."""
    provider: TwilioSmsProvider = make_provider(name="texts", receipts_base_url="https://hooks.example.com/r/")
    message = Message(recipient=twilio.TO_NUMBER, text="hi")
    try:
        assert (await provider.send(message, twilio.TO_NUMBER)).ok
    finally:
        await provider.aclose()
    callback = twilio.received[0]["StatusCallback"]
    parts = urllib.parse.urlsplit(callback)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://hooks.example.com/r/texts/status"
    assert urllib.parse.parse_qs(parts.query) == {"idempotency_key": [message.idempotency_key]}


async def test_explicit_status_callback_keeps_its_query(make_provider: Any, twilio: Any) -> None:
    provider: TwilioSmsProvider = make_provider(status_callback="https://example.com/cb?tenant=7")
    message = Message(recipient=twilio.TO_NUMBER, text="hi")
    try:
        await provider.send(message, twilio.TO_NUMBER)
    finally:
        await provider.aclose()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(twilio.received[0]["StatusCallback"]).query)
    assert query == {"tenant": ["7"], "idempotency_key": [message.idempotency_key]}


def test_receipts_base_url_must_be_http(make_provider: Any) -> None:
    with pytest.raises(ConfigurationError, match="receipts_base_url"):
        make_provider(receipts_base_url="hooks.example.com")


# --- broadcastio receipts serve, as a real process -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def receipts_server(tmp_path: Path, twilio: Any) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``broadcastio receipts serve`` as a child process on a free port; yields its URL."""
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        "[[providers]]\n"
        'name = "texts"\n'
        'type = "sms"\n'
        "[providers.settings]\n"
        f'account_sid = "{twilio.ACCOUNT_SID}"\n'
        'auth_token = "${TWILIO_AUTH_TOKEN}"\n'
        f'from_number = "{twilio.FROM_NUMBER}"\n',
        encoding="utf-8",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TWILIO_AUTH_TOKEN": twilio.AUTH_TOKEN, "BROADCASTIO_PLUGINS": "sms"}
    command = [sys.executable, "-m", "broadcastio", "receipts", "serve", "-c", str(config)]
    command += ["--port", str(port), "--public-url", url, "--max-body-bytes", "4096"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AssertionError(f"receipts serve exited {process.returncode}: {process.stderr.read()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("receipts serve did not start in 20 s")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_serve_receives_a_status_callback_for_a_real_send(
    receipts_server: tuple[str, subprocess.Popen[str]], make_provider: Any, twilio: Any
) -> None:
    """A send asks for callbacks at the running server; a callback signed as Twilio signs it is recorded.

    The test plays Twilio's part: it posts to the StatusCallback URL the
    provider put in the send, over real HTTP, signed with the auth token.
    Then a forged callback is refused, an oversize one gets 413, and the
    server stops cleanly on SIGTERM.
    """
    import asyncio

    url, process = receipts_server
    provider: TwilioSmsProvider = make_provider(name="texts", receipts_base_url=url)
    message = Message(recipient=twilio.TO_NUMBER, text="hi")

    async def send() -> Any:
        try:
            return await provider.send(message, twilio.TO_NUMBER)
        finally:
            await provider.aclose()

    result = asyncio.run(send())
    assert result.ok
    callback = twilio.received[0]["StatusCallback"]
    form = callback_form("delivered", sid=result.provider_message_id)
    body, headers = signed(twilio.AUTH_TOKEN, callback, form)
    with httpx.Client(timeout=5) as http:
        assert http.post(callback, content=body, headers=headers).status_code == 200
        assert http.post(callback, content=body, headers=headers).status_code == 200  # a replay
        forged = {**headers, "X-Twilio-Signature": twilio_signature("guess", callback, form.items())}
        assert http.post(callback, content=body, headers=forged).status_code == 403
        big_body, big_headers = signed(twilio.AUTH_TOKEN, callback, {**form, "Pad": "x" * 8000})
        assert http.post(callback, content=big_body, headers=big_headers).status_code == 413
    process.terminate()
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    lines = [line for line in stdout.splitlines() if line.startswith("receipt ")]
    assert lines == [
        f"receipt texts {result.provider_message_id} delivered recorded",
        f"receipt texts {result.provider_message_id} delivered duplicate",
    ]
    assert f"{url}/texts/status" in stderr
    assert twilio.AUTH_TOKEN not in stdout + stderr
    assert twilio.TO_NUMBER not in stdout + stderr


def test_occurred_at_is_when_it_arrived(twilio: Any) -> None:
    handler = receipt_endpoint().handler_factory({"auth_token": twilio.AUTH_TOKEN})
    body, headers = signed(twilio.AUTH_TOKEN, "https://x/s", callback_form("sent"))
    request = ReceiptRequest(
        method="POST",
        url="https://x/s",
        headers={key.lower(): value for key, value in headers.items()},
        query={},
        body=body,
        received_at_unix=1_700_000_000.0,
    )
    (receipt,) = handler(request).receipts
    assert receipt.occurred_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_e2e_twilio_calls_back_the_running_server_after_a_send(
    receipts_server: tuple[str, subprocess.Popen[str]], make_provider: Any, twilio: Any
) -> None:
    """Real processes and HTTP end to end: the provider sends to the local Twilio, which later POSTs
    signed status callbacks (sent, then delivered) to ``receipts serve``; both are recorded."""
    import asyncio

    url, process = receipts_server
    twilio.callback_statuses = ["sent", "delivered"]
    provider: TwilioSmsProvider = make_provider(name="texts", receipts_base_url=url)

    async def send() -> Any:
        try:
            return await provider.send(Message(recipient=twilio.TO_NUMBER, text="hi"), twilio.TO_NUMBER)
        finally:
            await provider.aclose()

    result = asyncio.run(send())
    assert result.ok
    deadline = time.monotonic() + 10
    while len(twilio.callback_answers) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert twilio.callback_answers == [200, 200]
    process.terminate()
    stdout, _ = process.communicate(timeout=10)
    assert [line for line in stdout.splitlines() if line.startswith("receipt ")] == [
        f"receipt texts {result.provider_message_id} sent recorded",
        f"receipt texts {result.provider_message_id} delivered recorded",
    ]
