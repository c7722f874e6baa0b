"""A local stand-in for Twilio's Messages API, in Twilio's request and response shapes.

It checks basic auth and the form fields the way Twilio does, answers 201
with a realistic message resource, and plays scripted replies (error
bodies, slow answers) queued by a test. With ``callback_statuses`` set, it
then POSTs those statuses to the message's ``StatusCallback``, signed as
Twilio signs them, like Twilio does after accepting a message.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_sms import TwilioSmsProvider

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-7f3a9c2e51d4"
FROM_NUMBER = "+14155550100"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
TO_NUMBER = "+14155552671"


def twilio_error(code: int, message: str, status: int = 400) -> dict[str, Any]:
    """An error body as Twilio writes it."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(ScriptedReplies):
    """The parts of Twilio's REST API the provider uses.

    Tests reach the constants through the fixture (``twilio.ACCOUNT_SID``):
    with ``--import-mode=importlib`` a test module cannot import conftest.
    """

    ACCOUNT_SID = ACCOUNT_SID
    AUTH_TOKEN = AUTH_TOKEN
    FROM_NUMBER = FROM_NUMBER
    SERVICE_SID = SERVICE_SID
    TO_NUMBER = TO_NUMBER

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, str]] = []
        self.account_status = "active"
        self.account_fetches = 0
        self._sids = itertools.count(1)
        self.callback_statuses: list[str] = []
        self.callback_answers: list[int] = []
        self._callbacks: set[asyncio.Task[None]] = set()

    def reply_error(self, code: int, message: str, status: int = 400, **headers: str) -> None:
        """Answer the next message request with a Twilio error body."""
        self.reply(status, twilio_error(code, message, status), **headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        app.router.add_get("/2010-04-01/Accounts/{sid}.json", self._fetch_account)
        return app

    @staticmethod
    def _authenticated(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == ACCOUNT_SID and password == AUTH_TOKEN and request.match_info["sid"] == ACCOUNT_SID

    async def _create_message(self, request: web.Request) -> web.Response:
        if not self._authenticated(request):
            return self.respond(401, twilio_error(20003, "Authenticate", 401))
        if request.content_type != "application/x-www-form-urlencoded":
            return self.respond(400, twilio_error(20001, "Unsupported content type"))
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.received.append(form)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if "To" not in form:
            return self.respond(400, twilio_error(21604, "A 'To' phone number is required."))
        if "From" not in form and "MessagingServiceSid" not in form:
            return self.respond(400, twilio_error(21603, "A 'From' phone number is required."))
        if not form.get("Body"):
            return self.respond(400, twilio_error(21602, "Message body is required."))
        sid = f"SM{next(self._sids):032x}"
        if self.callback_statuses and form.get("StatusCallback"):
            task = asyncio.get_running_loop().create_task(self._call_back(form["StatusCallback"], sid, form))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        return self.respond(201, self._message_resource(sid, form))

    async def _call_back(self, url: str, sid: str, form: dict[str, str]) -> None:
        """Twilio's status callbacks: a form per status, X-Twilio-Signature over the URL and sorted params."""
        async with aiohttp.ClientSession() as session:
            for status in self.callback_statuses:
                await asyncio.sleep(0.05)
                params = {
                    "AccountSid": ACCOUNT_SID,
                    "ApiVersion": "2010-04-01",
                    "From": form.get("From", ""),
                    "MessageSid": sid,
                    "MessageStatus": status,
                    "SmsSid": sid,
                    "SmsStatus": status,
                    "To": form["To"],
                }
                data = url + "".join(name + params[name] for name in sorted(params))
                signature = base64.b64encode(hmac.new(AUTH_TOKEN.encode(), data.encode(), hashlib.sha1).digest())
                headers = {"X-Twilio-Signature": signature.decode()}
                async with session.post(url, data=params, headers=headers) as response:
                    self.callback_answers.append(response.status)

    @staticmethod
    def _message_resource(sid: str, form: dict[str, str]) -> dict[str, Any]:
        service = form.get("MessagingServiceSid")
        return {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
            "date_sent": None,
            "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"},
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
        }

    async def _fetch_account(self, request: web.Request) -> web.Response:
        self.account_fetches += 1
        if not self._authenticated(request):
            return self.respond(401, twilio_error(20003, "Authenticate", 401))
        return self.respond(
            200,
            {
                "sid": ACCOUNT_SID,
                "friendly_name": "broadcastio tests",
                "status": self.account_status,
                "type": "Full",
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}.json",
            },
        )


@pytest.fixture
def twilio() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
def twilio_url(twilio: FakeTwilio) -> Iterator[str]:
    with serve_app(twilio.app()) as url:
        yield url


@pytest.fixture
def make_provider(twilio_url: str) -> Callable[..., TwilioSmsProvider]:
    """Build a provider wired to the local Twilio; keyword arguments override the defaults."""
    return functools.partial(
        TwilioSmsProvider,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio_url,
        timeout=5.0,
    )
